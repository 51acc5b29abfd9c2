"""The cascade's prediction of the target run, from every job's budget points.

Step 1: a loss law `L(N, D)` (`synthos.cascade.loss_law`) over every (size without
embeddings, training tokens, held-out loss) point of every finished job, each budget taken
with early stopping on a selection split (`law_points`), the points of one job bootstrapped
together; it predicts the held-out loss of the target run (size and token
budget) with an interval that covers sampling noise, the law's misfit and the evaluation
set's own error. Step 2, for a headline metric other than the loss (tabular target accuracy,
forecast skill): a monotone loss-to-metric map fitted on the same points
(`synthos.cascade.metric_map`) carries the loss and its interval to the metric, widened by
the map's residual spread and the metric's evaluation error at the target.

Honest edges: no finished job (or too few points for a law) gives no prediction and the
reason; a degenerate law or a missing map makes the prediction `degenerate` with its reason,
its interval as wide as the evidence; a metric whose evaluation error is larger than the
effect of scaling between tiers is flagged with the evaluation size that would show it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from synthos.cascade.loss_law import DEFAULT_BOOTSTRAP, LossLawFit, fit_loss_law
from synthos.cascade.metric_map import MetricMap, fit_metric_map
from synthos.errors import DataError
from synthos.fileio import to_jsonable

__all__ = [
    "HEADLINE",
    "CascadePrediction",
    "Headline",
    "LawPoint",
    "NoPrediction",
    "baseline_largest_tier",
    "headline_for",
    "law_points",
    "predict_cascade",
]


@dataclass(frozen=True)
class Headline:
    """A task's headline metric: its metrics.json key, its budget-point key, its direction
    and natural range."""

    metric: str
    point_key: str
    higher_is_better: bool
    metric_range: tuple[float | None, float | None]

    @property
    def is_loss(self) -> bool:
        return self.point_key == "loss"


HEADLINE = {
    "language_model": Headline("test/loss", "loss", False, (0.0, None)),
    "tabular": Headline("test/target_acc", "target_acc", True, (0.0, 1.0)),
    "forecasting": Headline("test/skill", "skill", True, (None, 1.0)),
}


@dataclass(frozen=True)
class LawPoint:
    """One budget point of one finished job."""

    job: str
    tier: int
    params: int
    tokens: int
    loss: float
    loss_se: float | None
    metric: float | None
    metric_se: float | None
    rows: int
    final: bool
    #: The budget whose checkpoint early stopping keeps (`tokens` when loss still falls).
    stopped_at: int = 0


@dataclass(frozen=True)
class Interval:
    predicted: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, float]:
        return {"predicted": self.predicted, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class NoPrediction:
    """Why there is no prediction (report.json `prediction_unavailable`)."""

    reason: str


@dataclass(frozen=True)
class CascadePrediction:
    """The target run's predicted headline metric and loss, and how they were obtained."""

    headline: Headline
    target_params: int
    target_tokens: int
    level: float
    value: Interval
    loss: Interval
    law: LossLawFit
    metric_map: MetricMap | None
    evaluation: dict[str, Any]
    degenerate: bool
    reason: str | None
    warnings: tuple[str, ...] = field(default=())

    def to_report(self) -> dict[str, Any]:
        """The `prediction` object of report.json."""
        law = self.law.to_dict()
        return to_jsonable(
            {
                "metric": self.headline.metric,
                "target_params": self.target_params,
                "target_tokens": self.target_tokens,
                **self.value.to_dict(),
                "level": self.level,
                "interval": f"{self.level:.0%} prediction interval for one run at the target",
                "loss": self.loss.to_dict(),
                "law": {
                    "form": law["formula"],
                    "params": law["parameters"],
                    "fit_quality": law["fit_quality"],
                },
                "metric_map": None if self.metric_map is None else self.metric_map.to_dict(),
                "evaluation": self.evaluation,
                "degenerate": self.degenerate,
                "reason": self.reason,
                "warnings": list(self.warnings),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The report object plus the whole law (cascade_results.json)."""
        return {**self.to_report(), "law_fit": self.law.to_dict()}


def headline_for(jobs: Iterable[Mapping[str, Any]]) -> Headline:
    """The headline of the finished jobs' task (tables: target accuracy)."""
    done = [j for j in jobs if j.get("status") == "completed"]
    if any("test/target_acc" in j.get("metrics", {}) for j in done):
        return HEADLINE["tabular"]
    kinds = {j.get("task", {}).get("kind") for j in done}
    kind = kinds.pop() if len(kinds) == 1 else "language_model"
    return HEADLINE.get(kind, HEADLINE["language_model"])


def law_points(jobs: Iterable[Mapping[str, Any]], headline: Headline) -> list[LawPoint]:
    """Every budget point of every finished job, with the size without embeddings.

    Each budget is taken with early stopping: of the job's points up to that budget, the one
    with the lowest loss on the selection split (a held-out split other than the reported
    one) gives the reported loss and metric. On repeated data a run's held-out loss rises
    once it overfits, and any run keeps its best checkpoint, so the law sees what a run
    given that budget would deliver; on data seen once this is the budget's own point.
    """
    points = []
    for job in jobs:
        size = job.get("parameters_no_embedding") or job.get("parameters")
        if job.get("status") != "completed" or not size:
            continue
        budget = sorted(
            (
                p
                for p in (job.get("budget_points") or {}).get("points", [])
                if _finite(p.get("metrics", {}).get("loss"))
            ),
            key=lambda p: p["tokens"],
        )
        best = None
        for point in budget:
            if best is None or _selection_loss(point) < _selection_loss(best):
                best = point
            points.append(_law_point(job, int(size), point, best, headline))
    return points


def _selection_loss(point: Mapping[str, Any]) -> float:
    selection = point.get("selection") or point["metrics"]
    value = selection.get("loss")
    return float(value) if _finite(value) else math.inf


def _law_point(job, size: int, point, chosen, headline: Headline) -> LawPoint:
    """The point at `point`'s budget, measured at the `chosen` (early-stopped) budget."""
    metrics = chosen["metrics"]
    return LawPoint(
        job=str(job.get("job")),
        tier=int(job.get("tier", 0)),
        params=size,
        tokens=int(point["tokens"]),
        loss=float(metrics["loss"]),
        loss_se=_optional(metrics.get("loss_se")),
        metric=_optional(metrics.get(headline.point_key)),
        metric_se=_optional(metrics.get(f"{headline.point_key}_se")),
        rows=int(chosen.get("rows", 0)),
        final=bool(point.get("final")),
        stopped_at=int(chosen["tokens"]),
    )


def baseline_largest_tier(points: list[LawPoint], headline: Headline) -> float | None:
    """The simplest baseline: the mean final headline metric of the largest size's jobs."""
    finals = [p for p in points if p.final and p.metric is not None]
    if not finals:
        return None
    largest = max(p.params for p in finals)
    return float(np.mean([p.metric for p in finals if p.params == largest]))


def predict_cascade(
    points: list[LawPoint],
    headline: Headline,
    *,
    target_params: int,
    target_tokens: int,
    level: float = 0.9,
    seed: int = 0,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
) -> CascadePrediction | NoPrediction:
    """Predict the headline metric of a `target_params` run trained on `target_tokens`."""
    if not points:
        return NoPrediction("no finished job recorded a held-out loss at any budget")
    try:
        law = fit_loss_law(
            [p.params for p in points],
            [p.tokens for p in points],
            [p.loss for p in points],
            groups=[p.job for p in points],
            loss_se=[p.loss_se if p.loss_se is not None else math.nan for p in points],
            seed=seed,
            n_bootstrap=n_bootstrap,
        )
    except DataError as exc:
        return NoPrediction(f"no loss law could be fitted: {exc.message}")
    loss = law.predict(target_params, target_tokens, level=level)
    if loss.predicted is None:
        return NoPrediction(f"the loss law has no finite optimum: {law.reason}")
    loss_interval = Interval(loss.predicted, loss.lower, loss.upper)
    warnings = [*law.warnings, *loss.warnings]
    reasons = [law.reason] if law.degenerate and law.reason else []
    if loss.capped_at is not None:
        reasons.append(
            "the law predicts a higher loss than runs the target dominates: the prediction is "
            "their mean loss"
        )
    evaluation = _evaluation(points, headline, level)
    if evaluation.get("too_few_rows"):
        warnings.append(evaluation["note"])
    metric_map = None
    if headline.is_loss:
        value = loss_interval
    else:
        metric_map, value, reason = _metric_step(points, headline, loss_interval, level)
        if reason:
            reasons.append(reason)
        warnings.extend(map_warnings(metric_map, loss_interval))
    return CascadePrediction(
        headline=headline,
        target_params=int(target_params),
        target_tokens=int(target_tokens),
        level=float(level),
        value=value,
        loss=loss_interval,
        law=law,
        metric_map=metric_map,
        evaluation=evaluation,
        degenerate=bool(reasons),
        reason="; ".join(reasons) or None,
        warnings=tuple(warnings),
    )


def _metric_step(
    points: list[LawPoint], headline: Headline, loss: Interval, level: float
) -> tuple[MetricMap | None, Interval, str | None]:
    """The loss interval carried to the metric by the map; without a map, the whole range of
    the measured metric (as wide as the evidence) around the largest tier's mean."""
    scored = [p for p in points if p.metric is not None]
    fitted = fit_metric_map(
        np.array([p.loss for p in scored]),
        np.array([p.metric for p in scored]),
        np.array([p.metric_se if p.metric_se is not None else math.nan for p in scored]),
        headline.metric_range,
    )
    if isinstance(fitted, str):
        values = [p.metric for p in scored]
        if not values:
            return None, Interval(math.nan, math.nan, math.nan), fitted
        centre = baseline_largest_tier(points, headline)
        centre = float(np.mean(values)) if centre is None else centre
        return None, _clip(Interval(centre, min(values), max(values)), headline), fitted
    predicted = float(fitted(loss.predicted))
    at_worst, at_best = float(fitted(loss.upper)), float(fitted(loss.lower))
    z = float(norm.ppf(0.5 + level / 2))
    spread = z * math.hypot(fitted.residual_sd, _evaluation_se(points, headline, predicted))
    lower, upper = sorted((at_worst, at_best))
    interval = Interval(predicted, min(lower - spread, predicted), max(upper + spread, predicted))
    return fitted, _clip(interval, headline), None


def map_warnings(metric_map: MetricMap | None, loss: Interval) -> list[str]:
    """A target loss beyond the measured ones: the metric is the map's extrapolation."""
    if metric_map is None:
        return []
    low, high = metric_map.loss_range
    if low <= loss.predicted <= high:
        return []
    return [
        f"the target's predicted loss {loss.predicted:.4g} lies outside the measured losses "
        f"[{low:.4g}, {high:.4g}]: its metric is the loss-to-metric map's extrapolation"
    ]


def _evaluation_se(points: list[LawPoint], headline: Headline, value: float) -> float:
    """The metric's own sampling error on the evaluation rows at `value`."""
    rows = max((p.rows for p in points), default=0)
    if headline.metric_range == (0.0, 1.0) and rows > 0:
        p = min(max(value, 0.0), 1.0)
        return math.sqrt(p * (1.0 - p) / rows)
    ses = [p.metric_se for p in points if p.metric_se is not None and math.isfinite(p.metric_se)]
    return float(np.median(ses)) if ses else 0.0


def _evaluation(points: list[LawPoint], headline: Headline, level: float) -> dict[str, Any]:
    """Does the evaluation set resolve the effect of scaling between the smallest and the
    largest size's final points? If not, the rows that would (the difference of two
    evaluations at `level`, each error shrinking as 1/sqrt(rows))."""
    finals = [p for p in points if p.final and p.metric is not None]
    rows = max((p.rows for p in points), default=0)
    out: dict[str, Any] = {"rows": rows, "metric": headline.point_key}
    sizes = sorted({p.params for p in finals})
    if len(sizes) < 2:
        return out
    by_size = {s: np.mean([p.metric for p in finals if p.params == s]) for s in sizes}
    effect = abs(float(by_size[sizes[-1]] - by_size[sizes[0]]))
    se = float(np.median([p.metric_se for p in finals if p.metric_se is not None] or [0.0]))
    z = float(norm.ppf(0.5 + level / 2))
    resolvable = z * math.sqrt(2.0) * se
    out.update(scaling_effect=effect, metric_se=se, resolvable_effect=resolvable)
    if se > 0 and effect < resolvable:
        needed = math.ceil(rows * (resolvable / effect) ** 2) if effect > 0 else None
        out.update(too_few_rows=True, rows_needed=needed)
        out["note"] = (
            f"{headline.point_key} is measured on {rows} rows (standard error {se:.3g}); the "
            f"largest and smallest sizes differ by {effect:.3g}, less than the {resolvable:.3g} "
            "such an evaluation can resolve"
            + (f": about {needed} rows would show it" if needed else "")
        )
    else:
        out["too_few_rows"] = False
    return out


def _clip(interval: Interval, headline: Headline) -> Interval:
    lo, hi = headline.metric_range
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    return Interval(
        *(float(min(max(v, lo), hi)) for v in (interval.predicted, interval.lower, interval.upper))
    )


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _optional(value: Any) -> float | None:
    return float(value) if _finite(value) else None
