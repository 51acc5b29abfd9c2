"""A bounded training-loss history and the step at which a run converged.

Runs range from a hundred steps to millions; the curve keeps at most `capacity` points by
merging neighbours pairwise (averaging step and loss) whenever it fills, so memory is fixed
and resolution stays even over the whole run.
"""

from __future__ import annotations

import math
from typing import Any


class LossCurve:
    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = max(2, capacity - capacity % 2)
        self.width = 1  # raw points per stored bucket
        self._buckets: list[list[float]] = []  # [step_sum, loss_sum, count]
        self._pending = [0.0, 0.0, 0]

    def add(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            return
        p = self._pending
        p[0] += step
        p[1] += loss
        p[2] += 1
        if p[2] >= self.width:
            self._buckets.append(p)
            self._pending = [0.0, 0.0, 0]
            if len(self._buckets) >= self.capacity:
                b = self._buckets
                self._buckets = [
                    [x[0] + y[0], x[1] + y[1], x[2] + y[2]]
                    for x, y in zip(b[::2], b[1::2], strict=False)
                ]
                self.width *= 2

    def points(self) -> list[tuple[float, float]]:
        """(mean step, mean loss) of every bucket, oldest first."""
        buckets = self._buckets + ([self._pending] if self._pending[2] else [])
        return [(s / n, loss / n) for s, loss, n in buckets]

    def __len__(self) -> int:
        return len(self._buckets) + (1 if self._pending[2] else 0)

    def state_dict(self) -> dict[str, Any]:
        return {"width": self.width, "buckets": self._buckets, "pending": self._pending}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.width = int(state.get("width", 1))
        self._buckets = [list(b) for b in state.get("buckets", [])]
        self._pending = list(state.get("pending", [0.0, 0.0, 0]))


def downsample(points: list[tuple[float, float]], n: int) -> list[list[float]]:
    """At most `n` [step, loss] pairs: means over equal consecutive groups."""
    if len(points) <= n:
        return [[round(s, 1), loss] for s, loss in points]
    out = []
    for i in range(n):
        group = points[i * len(points) // n : (i + 1) * len(points) // n]
        step = sum(p[0] for p in group) / len(group)
        loss = sum(p[1] for p in group) / len(group)
        out.append([round(step, 1), loss])
    return out


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def convergence_step(points: list[tuple[float, float]], tol: float = 0.05) -> int | None:
    """First step whose smoothed loss is within `tol` of the way from the worst smoothed
    loss down to the final one: the step by which the run had made (1 - tol) of its total
    improvement. A run that never improved converged at its first step."""
    if not points:
        return None
    window = max(1, len(points) // 20)
    smoothed = smooth([loss for _, loss in points], window)
    final, worst = smoothed[-1], max(smoothed)
    threshold = final + tol * (worst - final)
    for (step, _), value in zip(points, smoothed, strict=True):
        if value <= threshold:
            return round(step)
    return round(points[-1][0])
