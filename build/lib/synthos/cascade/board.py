"""The state of a running cascade as a person follows it, folded from its progress records:
which models are done, which one trains (step, loss), and when the whole cascade will end.

The ETA is a cost model rather than "models left x mean duration". A model takes its tier's
training time plus the overhead seen between models (setup, test). A tier's training time is
the median of its finished models; while its first model trains, that model's elapsed time
over the share of its time already spent, read at its share of steps from the time profile
of finished models (evaluations at fixed shares of the steps make time and steps run
unevenly, the same way in every model); before a tier starts, the nearest measured tier's
time scaled by steps and by compute per step (d_model^2 x layers) to the power of an
exponent fitted on the measured tiers once there are two, `PRIOR_EXPONENT` before. Small
models spend much of a step on fixed costs (evaluation, Python, kernel launches), so their
time grows slower than their compute: 0.48 between the micro and mini presets of CPU smoke
cascades. So larger tiers are priced in before they start and re-priced once they do.
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
    #: (seconds since first_seen, step) of every record of this launch.
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"t{self.tier}v{self.variant}"

    @property
    def whole(self) -> bool:
        """Trained from its first step in this launch (a resumed model is not)."""
        return self.first_step == 0 and bool(self.total_steps)

    def time_share_at(self, step_share: float) -> float | None:
        """Share of this finished model's training time spent when it reached `step_share`
        of its steps (interpolated between records)."""
        if not self.whole or len(self.samples) < 2 or self.samples[-1][0] <= 0:
            return None
        total_time, total_steps = self.samples[-1][0], self.total_steps
        previous = (0.0, 0.0)
        for seconds, step in self.samples:
            point = (step / total_steps, seconds / total_time)
            if point[0] >= step_share:
                if point[0] == previous[0]:
                    return point[1]
                weight = (step_share - previous[0]) / (point[0] - previous[0])
                return previous[1] + weight * (point[1] - previous[1])
            previous = point
        return 1.0

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
            model.samples = []
            if self._last_end is not None and self.started <= self._last_end <= when:
                self._gaps.append(when - self._last_end)  # setup and test between models
        model.step, model.last_seen = step, when
        model.samples.append((when - model.first_seen, step))
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

    def overhead(self) -> float:
        """Seconds between one model's end and the next one's first step (test, setup)."""
        return sum(self._gaps) / len(self._gaps) if self._gaps else 0.0

    def _time_share(self, step_share: float) -> float:
        """Median share of training time spent at `step_share` of the steps, over the whole
        finished models (`step_share` itself before any)."""
        shares = [
            share
            for m in self.models.values()
            if m.status == "completed" and (share := m.time_share_at(step_share)) is not None
        ]
        return _median(shares) if shares else step_share

    def _projected(self, model: ModelState, now: float) -> float | None:
        """A running model's whole training time, from its elapsed time and step share."""
        if not model.total_steps or model.first_seen is None or model.step <= model.first_step:
            return None
        done = (model.step - model.first_step) / (model.total_steps - model.first_step)
        share = self._time_share(min(1.0, done))
        return (now - model.first_seen) / share if share > 0 else None

    def tier_seconds(self, now: float) -> dict[int, float]:
        """Training seconds of one model of each tier that can be estimated."""
        measured: dict[int, float] = {}
        for plan in self.tiers:
            mine = [m for m in self.models.values() if m.tier == plan.tier]
            finished = [m.samples[-1][0] for m in mine if m.status == "completed" and m.whole]
            running = [self._projected(m, now) for m in mine if m.status == "running"]
            running = [r for r in running if r is not None]
            if finished or running:
                measured[plan.tier] = _median(finished or running)
        estimates = dict(measured)
        for plan in self.tiers:
            if plan.tier not in measured:
                value = self._extrapolate(plan, measured)
                if value is not None:
                    estimates[plan.tier] = value
        return estimates

    def _extrapolate(self, plan: TierPlan, measured: dict[int, float]) -> float | None:
        """A tier's time from the measured tiers: per step, scaled by compute per step."""
        plans = {p.tier: p for p in self.tiers}
        known = {
            t: seconds / plans[t].max_steps
            for t, seconds in measured.items()
            if plans[t].step_cost and plans[t].max_steps
        }
        if not known or not plan.step_cost or not plan.max_steps:
            return None
        exponent = _cost_exponent([(plans[t].step_cost, per_step) for t, per_step in known.items()])
        ref = min(known, key=lambda t: abs(math.log(plans[t].step_cost / plan.step_cost)))
        ratio = (plan.step_cost / plans[ref].step_cost) ** exponent
        return known[ref] * ratio * plan.max_steps

    def remaining_seconds(self, now: float) -> float | None:
        """Seconds of training still ahead: the running models' remaining time, then the
        pending models (each with the overhead between models) shared among `parallel`
        slots; None until measurable."""
        per_tier = self.tier_seconds(now)
        overhead = self.overhead()
        running, pending = [0.0], 0.0
        for model in self.models.values():
            if model.status in ("completed", "failed"):
                continue
            if model.status == "running":
                total = self._projected(model, now) or per_tier.get(model.tier)
                if total is None:
                    return None
                running.append(max(0.0, total - (now - (model.first_seen or now))))
            elif model.tier in per_tier:
                pending += overhead + per_tier[model.tier]
            else:
                return None
        return max(running) + pending / max(1, self.parallel)

    def eta(self, now: float) -> float | None:
        """Expected end of the last model (epoch seconds), None until it can be estimated."""
        remaining = self.remaining_seconds(now)
        return None if remaining is None else now + remaining


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


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
