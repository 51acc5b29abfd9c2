"""The state of a running cascade as a person follows it, folded from its progress records:
which models are done, which one trains (step, loss), and when the whole cascade will end.

The ETA is a cost model rather than "models left x mean duration": a model takes a fixed
overhead (data, setup, test) plus its steps times the seconds per step of its tier. Seconds
per step are measured from the progress records of the tier's own models; a tier that has not
started yet is extrapolated from the measured tiers by its relative compute per step
(d_model^2 x layers) to the power of an exponent fitted on the measured tiers once there are
two, `PRIOR_EXPONENT` before: small models spend much of each step on fixed costs
(evaluation, Python, kernel launches), so their time grows slower than their compute (0.48
between the micro and mini presets of CPU smoke cascades). So larger tiers are priced in
before they start, and re-priced as soon as they do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

END_EVENTS = ("model_finished", "model_failed")
#: Seconds per step grow as (compute per step) ** this until two tiers have been measured.
PRIOR_EXPONENT = 0.5


@dataclass(frozen=True)
class TierPlan:
    """One tier as planned: its models, steps per model and compute per step (relative)."""

    tier: int
    variants: int
    max_steps: int | None
    step_cost: float | None


@dataclass
class ModelState:
    tier: int
    variant: int
    status: str = "pending"  # pending, running, completed, failed
    step: int = 0
    total_steps: int | None = None
    loss: float | None = None
    first_seen: float | None = None
    first_step: int = 0
    last_seen: float | None = None
    result: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"t{self.tier}v{self.variant}"

    def seconds_per_step(self) -> float | None:
        steps = self.step - self.first_step
        if steps <= 0 or self.first_seen is None or self.last_seen is None:
            return None
        return (self.last_seen - self.first_seen) / steps


@dataclass
class CascadeBoard:
    """Fold `CascadeProgress` records (as dicts) with `update`; read the state and `eta`."""

    tiers: list[TierPlan]
    started: float
    #: Models that train at once (a parallel launcher's device slots; 1: in sequence).
    parallel: int = 1
    models: dict[tuple[int, int], ModelState] = field(default_factory=dict)
    finished_order: list[tuple[int, int]] = field(default_factory=list)
    _gaps: list[float] = field(default_factory=list)
    _last_end: float | None = None

    def __post_init__(self) -> None:
        for plan in self.tiers:
            for variant in range(plan.variants):
                self.models.setdefault((plan.tier, variant), ModelState(plan.tier, variant))

    @property
    def models_total(self) -> int:
        return len(self.models)

    @property
    def models_done(self) -> int:
        return sum(m.status in ("completed", "failed") for m in self.models.values())

    @property
    def running(self) -> list[ModelState]:
        return [m for m in self.models.values() if m.status == "running"]

    def update(self, record: dict[str, Any]) -> ModelState | None:
        """Take one record; returns the model when this record finished it."""
        try:
            key = (int(record["tier"]), int(record["variant"]))
            when = _timestamp(record["timestamp"])
        except (KeyError, TypeError, ValueError):
            return None
        model = self.models.setdefault(key, ModelState(*key))
        step = int(record.get("step") or 0)
        ended = model.status in ("completed", "failed")
        if model.status == "pending" or (ended and record.get("event") not in END_EVENTS):
            # The model's first record in this launch (a resumed model starts again).
            model.status = "running"
            model.first_seen, model.first_step = when, step
            if self._last_end is not None and self.started <= self._last_end <= when:
                self._gaps.append(when - self._last_end)  # setup and test between models
        model.step, model.last_seen = step, when
        model.total_steps = record.get("total_steps") or model.total_steps
        if record.get("current_loss") is not None:
            model.loss = float(record["current_loss"])
        if record.get("event") in END_EVENTS:
            result = record.get("result") or {}
            model.status = "failed" if record["event"] == "model_failed" else "completed"
            model.result = result
            self._last_end = when
            self.finished_order.append(key)
            return model
        return None

    # ------------------------------------------------------------------ the ETA
    def seconds_per_step(self) -> dict[int, float]:
        """Measured seconds per optimizer step of each tier (median over its models)."""
        measured: dict[int, list[float]] = {}
        for model in self.models.values():
            value = model.seconds_per_step()
            if value is not None and value > 0:
                measured.setdefault(model.tier, []).append(value)
        return {tier: sorted(v)[len(v) // 2] for tier, v in measured.items()}

    def _step_seconds(self, tier: int, measured: dict[int, float]) -> float | None:
        if tier in measured:
            return measured[tier]
        costs = {p.tier: p.step_cost for p in self.tiers if p.step_cost}
        known = [(t, s) for t, s in measured.items() if t in costs]
        if not known or tier not in costs:
            return None
        exponent = _cost_exponent([(costs[t], s) for t, s in known])
        ref_tier, ref_seconds = min(known, key=lambda ts: abs(math.log(costs[ts[0]] / costs[tier])))
        return ref_seconds * (costs[tier] / costs[ref_tier]) ** exponent

    def overhead(self) -> float:
        """Seconds between one model's end and the next one's first step (test, setup)."""
        return sum(self._gaps) / len(self._gaps) if self._gaps else 0.0

    def remaining_seconds(self) -> float | None:
        """Seconds of training still ahead: the running models' remaining steps, then the
        pending models shared among `parallel` slots; None until measurable."""
        measured = self.seconds_per_step()
        steps = {p.tier: p.max_steps for p in self.tiers}
        overhead = self.overhead()
        running, pending = [0.0], 0.0
        for model in self.models.values():
            if model.status in ("completed", "failed"):
                continue
            per_step = self._step_seconds(model.tier, measured)
            planned = model.total_steps or steps.get(model.tier)
            if per_step is None or planned is None:
                return None
            if model.status == "running":
                running.append(max(0, planned - model.step) * per_step)
            else:
                pending += overhead + planned * per_step
        return max(running) + pending / max(1, self.parallel)

    def eta(self, now: float) -> float | None:
        """Expected end of the last model (epoch seconds), None until it can be estimated."""
        remaining = self.remaining_seconds()
        return None if remaining is None else now + remaining


def _cost_exponent(points: list[tuple[float, float]]) -> float:
    """Slope of log(seconds per step) on log(compute per step) over the measured tiers,
    kept within [0, 1.5]; `PRIOR_EXPONENT` with fewer than two tiers."""
    if len({c for c, _ in points}) < 2:
        return PRIOR_EXPONENT
    xs = [math.log(c) for c, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return min(1.5, max(0.0, slope))


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def tier_plans(cascade_cfg: Any) -> list[TierPlan]:
    """The tiers of a cascade config (`cfg.cascade`): variants, max_steps and d_model^2 x
    layers of the family's preset for each tier."""
    family = cascade_cfg.models.get(cascade_cfg.family) or {}
    plans = []
    for index, tier in enumerate(cascade_cfg.tiers, start=1):
        net = (family.get(f"tier{index}") or {}).get("net") or {}
        width, depth = net.get("d_model"), net.get("n_layers")
        max_steps = (tier.get("trainer") or {}).get("max_steps")
        plans.append(
            TierPlan(
                tier=index,
                variants=int(tier.variants),
                max_steps=int(max_steps) if max_steps and max_steps > 0 else None,
                step_cost=float(width) ** 2 * float(depth) if width and depth else None,
            )
        )
    return plans
