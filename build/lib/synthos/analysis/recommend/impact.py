"""A fix's measured impact: values over seeds, their mean and interval, and the comparison
with the random control.

Every number here is a measurement: the detector's risk score of each dataset (the fixed one
once, the control over `seeds` random draws) and, when retraining, the headline metric of
each of the `seeds` models. The interval is Student's t over the seeds at `level`. A fix
beats its random control when the difference of the two means, in the better direction,
exceeds its own interval (Welch); otherwise it does not, and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass
class Measured:
    """Values of one quantity on one dataset (one value per seed or draw)."""

    values: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    def interval(self, level: float) -> tuple[float, float]:
        if len(self.values) < 2:
            return self.mean, self.mean
        sem = float(np.std(self.values, ddof=1) / math.sqrt(len(self.values)))
        half = float(stats.t.ppf(0.5 + level / 2, len(self.values) - 1)) * sem
        return self.mean - half, self.mean + half


def _welch_beats(fix: Measured, control: Measured, better: float, level: float) -> bool | None:
    """Whether the fix's mean beats the control's beyond the Welch interval of the
    difference (`better` = +1 when higher is better, -1 when lower is)."""
    a, b = np.asarray(fix.values), np.asarray(control.values)
    diff = better * (a.mean() - b.mean())
    var = (a.var(ddof=1) / len(a) if len(a) > 1 else 0.0) + (
        b.var(ddof=1) / len(b) if len(b) > 1 else 0.0
    )
    if var <= 0:
        return bool(diff > 0)
    dof = max(1.0, len(a) + len(b) - 2.0)
    return bool(diff > float(stats.t.ppf(0.5 + level / 2, dof)) * math.sqrt(var))


def comparison(
    name: str,
    current: Measured,
    fixed: Measured,
    control: Measured,
    higher_is_better: bool,
    level: float,
) -> dict[str, Any]:
    """current / expected / improvement of one quantity, with the control beside it.
    Improvement is signed so that positive is better (lower risk, higher accuracy, lower
    loss)."""
    better = 1.0 if higher_is_better else -1.0
    low, high = fixed.interval(level)
    c_low, c_high = control.interval(level)
    return {
        "metric": name,
        "current": current.mean,
        "expected": fixed.mean,
        "improvement": better * (fixed.mean - current.mean),
        "interval": [low, high],
        "values": list(fixed.values),
        "current_values": list(current.values),
        "higher_is_better": higher_is_better,
        "level": level,
        "control": {
            "expected": control.mean,
            "improvement": better * (control.mean - current.mean),
            "interval": [c_low, c_high],
            "values": list(control.values),
        },
        "beats_random_control": _welch_beats(fixed, control, better, level),
    }
