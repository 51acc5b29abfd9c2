"""A monotone map from held-out loss to a task metric, fitted on a cascade's own checkpoints.

The second step of the "model ladder" chain (Bhagia et al. 2024, OLMo): a loss law predicts
the loss of the target run; this map turns a loss into the headline metric (tabular target
accuracy, forecast skill). The form is a logistic curve that falls with the loss,

    metric(L) = lo + (hi - lo) / (1 + exp(k * (L - m))),   k > 0,

with its floor `lo` and ceiling `hi` inside the metric's natural range and around the
observed values, so it saturates instead of running out of range when the target's loss
lies beyond every measured one. Each point is weighted by the inverse of its standard error
(floored, so a point measured as exactly 0 or 1 does not dominate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

__all__ = ["MetricMap", "fit_metric_map"]

#: Fewest (loss, metric) points a 4-parameter map is fitted on.
MIN_POINTS = 6


@dataclass(frozen=True)
class MetricMap:
    """A fitted loss -> metric curve and its residual spread (in metric units)."""

    lo: float
    hi: float
    slope: float
    midpoint: float
    residual_sd: float
    n_points: int
    loss_range: tuple[float, float]

    def __call__(self, loss: float | np.ndarray) -> float | np.ndarray:
        z = np.clip(self.slope * (np.asarray(loss, dtype=float) - self.midpoint), -50, 50)
        out = self.lo + (self.hi - self.lo) / (1.0 + np.exp(z))
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict[str, float | int | list[float]]:
        return {
            "form": "lo + (hi - lo) / (1 + exp(slope * (loss - midpoint)))",
            "lo": self.lo,
            "hi": self.hi,
            "slope": self.slope,
            "midpoint": self.midpoint,
            "residual_sd": self.residual_sd,
            "n_points": self.n_points,
            "loss_range": list(self.loss_range),
        }


def fit_metric_map(
    loss: np.ndarray,
    metric: np.ndarray,
    metric_se: np.ndarray | None,
    metric_range: tuple[float | None, float | None],
) -> MetricMap | str:
    """Fit the map, or say why it cannot be fitted (a string: the reason)."""
    loss, metric = np.asarray(loss, float), np.asarray(metric, float)
    ok = np.isfinite(loss) & np.isfinite(metric)
    if ok.sum() < MIN_POINTS:
        return f"{int(ok.sum())} (loss, metric) points; the loss-to-metric map needs {MIN_POINTS}"
    loss, metric = loss[ok], metric[ok]
    if np.ptp(loss) <= 0 or np.ptp(metric) <= 0:
        return "the measured losses or metrics do not vary; no loss-to-metric map"
    se = np.full(loss.size, np.nan) if metric_se is None else np.asarray(metric_se, float)[ok]
    floor = max(
        0.01 * float(np.ptp(metric)), float(np.nanmedian(se)) if np.isfinite(se).any() else 0
    )
    weights = 1.0 / np.maximum(np.nan_to_num(se, nan=floor), max(floor, 1e-9))
    lo_bound, hi_bound = _bounds(metric, metric_range)
    best = None
    for start in _starts(loss, metric, lo_bound, hi_bound):
        solution = _solve(start, loss, metric, weights, lo_bound, hi_bound)
        if solution is not None and (best is None or solution.cost < best.cost):
            best = solution
    if best is None:
        return "the loss-to-metric map did not converge"
    lo, hi, log_k, m = best.x
    residual = metric - _curve(best.x, loss)
    dof = max(1, loss.size - 4)
    return MetricMap(
        lo=float(lo),
        hi=float(hi),
        slope=float(math.exp(log_k)),
        midpoint=float(m),
        residual_sd=float(math.sqrt(float(residual @ residual) / dof)),
        n_points=int(loss.size),
        loss_range=(float(loss.min()), float(loss.max())),
    )


def _curve(theta: np.ndarray, loss: np.ndarray) -> np.ndarray:
    lo, hi, log_k, m = theta
    z = np.clip(math.exp(log_k) * (loss - m), -50, 50)
    return lo + (hi - lo) / (1.0 + np.exp(z))


def _bounds(metric: np.ndarray, metric_range) -> tuple[np.ndarray, np.ndarray]:
    """lo between the range's floor and the lowest metric, hi between the highest metric and
    the range's ceiling (an open side of the range allows one observed span beyond)."""
    span = float(np.ptp(metric))
    floor = metric_range[0] if metric_range[0] is not None else metric.min() - span
    ceiling = metric_range[1] if metric_range[1] is not None else metric.max() + span
    floor, ceiling = min(floor, metric.min()), max(ceiling, metric.max())
    lower = np.array([floor, metric.max(), math.log(1e-3), -np.inf])
    upper = np.array([metric.min() + 1e-9, ceiling + 1e-9, math.log(1e3), np.inf])
    return lower, upper


def _starts(loss, metric, lower, upper) -> list[np.ndarray]:
    scale = 1.0 / max(float(np.std(loss)), 1e-6)
    mids = np.quantile(loss, [0.25, 0.5, 0.75])
    return [
        np.clip(np.array([lower[0], upper[1], math.log(scale * f), m]), lower, upper)
        for f in (0.5, 2.0, 8.0)
        for m in mids
    ]


def _solve(start, loss, metric, weights, lower, upper):
    try:
        solution = least_squares(
            lambda theta: weights * (_curve(theta, loss) - metric),
            _interior(start, lower, upper),
            bounds=(lower, upper),
        )
    except ValueError:
        return None
    return solution if np.all(np.isfinite(solution.x)) else None


def _interior(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    span = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
    return np.minimum(np.maximum(x, lower + 1e-6 * span), upper - 1e-6 * span)
