"""Scaling-law prediction of a target-size model's metric from a finished cascade.

Input: per-job results (``JobResult`` or mappings with ``tier``, ``variant``,
``parameters``, ``metric``, ``status``). Jobs whose status is not ``completed``
are excluded and counted as failed; completed jobs with a non-finite metric or a
non-positive size are excluded and counted as invalid.

Method (``predict_scaling``):

1. Fit ``metric(N) = c + a N^-b`` (lower is better) or ``c - a N^-b`` (higher is
   better) to every finished job, with ``a >= 0``, ``0.01 <= b <= 2`` and ``c``
   inside ``metric_range`` (default for lower-is-better metrics: ``c >= 0``);
   see ``scaling_law``.
2. Bootstrap over variants: within each tier, variants are resampled with
   replacement, the law is refitted and the target-size value recorded. A tier's
   deviations from its mean are scaled by ``sqrt(n_k / (n_k - 1))`` (the usual
   small-sample variance correction) and, if the tier is tighter than the pooled
   within-tier spread, up to that spread (never down), so a 3-variant tier that
   happens to agree cannot make the interval overconfident; a tier with a single
   variant is perturbed with normal noise of the pooled spread. The spread of
   these values is the uncertainty of the expected metric (``mean_interval`` in
   ``to_dict``).
3. The reported interval is a prediction interval for one model trained at the
   target size (what a held-out check compares against): each bootstrap value plus
   a draw of residual noise ``sigma * t(n - 3)``, with ``sigma`` the residual
   standard deviation of the fit; the interval is the central ``level`` quantile
   range, widened if needed to contain the point prediction (the full-data fit).
   Deterministic for a given ``seed``.

Degenerate inputs (no finished jobs, fewer than 3 distinct sizes, no more points
than the 3 parameters, tier means that do not improve with size, a failed fit) are
reported with ``degenerate=True`` and a ``reason``. The best-effort prediction is
then the mean of the largest size's jobs and the interval is deliberately wide:
``mean +- W`` with ``W = span * max(1, r) + z * sd`` (``span`` the observed range of
the metric, ``r`` the target's distance beyond the largest size in units of the
observed log-size range, ``sd`` the largest tier's spread, ``z`` the normal
quantile of the level), extended to cover every observed value, clipped to
``metric_range``. The reported law is then the constant ``a = b = 0, c = mean``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from synthos.cascade.scaling_law import ScalingFit, fit_grid, fit_scaling_law

__all__ = [
    "JobResult",
    "PredictionResult",
    "TierSummary",
    "baseline_largest_tier_mean",
    "plot_scaling_fit",
    "predict_scaling",
    "summarize_tiers",
]

N_PARAMS = 3


@dataclass(frozen=True)
class JobResult:
    """One cascade job's outcome as the predictor needs it."""

    tier: int | str
    variant: int | str
    parameters: int
    metric: float | None
    status: str = "completed"

    @classmethod
    def coerce(cls, record: Any) -> JobResult:
        """Accept a ``JobResult``, a mapping or any object with the same attributes."""
        if isinstance(record, JobResult):
            return record
        if isinstance(record, Mapping):
            get = record.get
        else:

            def get(key, default=None):
                return getattr(record, key, default)

        return cls(
            tier=get("tier"),
            variant=get("variant"),
            parameters=get("parameters"),
            metric=get("metric"),
            status=str(get("status", "completed") or "completed"),
        )

    @property
    def finished(self) -> bool:
        return self.status == "completed"

    @property
    def usable(self) -> bool:
        """Finished, with a finite metric and a finite positive size."""
        return (
            self.finished
            and _finite(self.metric)
            and _finite(self.parameters)
            and (float(self.parameters) > 0)
        )


@dataclass(frozen=True)
class TierSummary:
    tier: int | str
    parameters: int | None
    n_jobs: int
    n_used: int
    n_failed: int
    n_invalid: int
    mean: float | None
    std: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "parameters": self.parameters,
            "n_jobs": self.n_jobs,
            "n_used": self.n_used,
            "n_failed": self.n_failed,
            "n_invalid": self.n_invalid,
            "mean": self.mean,
            "std": self.std,
        }


@dataclass
class PredictionResult:
    """The prediction and how it was obtained; ``to_report()`` is DESIGN section 9."""

    metric: str
    target_params: int
    predicted: float
    lower: float
    upper: float
    level: float
    a: float
    b: float
    c: float
    r2: float
    higher_is_better: bool
    degenerate: bool
    reason: str | None
    n_points: int
    n_failed: int
    n_invalid: int
    tiers: list[TierSummary]
    n_bootstrap: int
    seed: int
    sigma_residual: float | None = None
    mean_interval: tuple[float, float] | None = None
    warnings: list[str] = field(default_factory=list)
    fit: ScalingFit | None = None
    attempted_fit: ScalingFit | None = None

    def curve(self, n: float | np.ndarray) -> np.ndarray | float:
        """The reported law (a constant when degenerate)."""
        if self.fit is not None and not self.degenerate:
            return self.fit(n)
        arr = np.full(np.shape(n), self.predicted, dtype=float)
        return float(arr) if arr.ndim == 0 else arr

    def to_report(self) -> dict[str, Any]:
        """Exactly the ``prediction`` object of report.json (DESIGN section 9)."""
        return {
            "metric": str(self.metric),
            "target_params": int(self.target_params),
            "predicted": float(self.predicted),
            "lower": float(self.lower),
            "upper": float(self.upper),
            "level": float(self.level),
            "scaling": {
                "a": float(self.a),
                "b": float(self.b),
                "c": float(self.c),
                "r2": float(self.r2),
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """The report object plus diagnostics (JSON-serialisable)."""
        out = self.to_report()
        out.update(
            {
                "higher_is_better": bool(self.higher_is_better),
                "degenerate": bool(self.degenerate),
                "reason": self.reason,
                "warnings": list(self.warnings),
                "n_points": int(self.n_points),
                "n_failed": int(self.n_failed),
                "n_invalid": int(self.n_invalid),
                "tiers": [t.to_dict() for t in self.tiers],
                "n_bootstrap": int(self.n_bootstrap),
                "seed": int(self.seed),
                "sigma_residual": _opt_float(self.sigma_residual),
                "mean_interval": (
                    None
                    if self.mean_interval is None
                    else {
                        "lower": float(self.mean_interval[0]),
                        "upper": float(self.mean_interval[1]),
                    }
                ),
                "interval": "bootstrap over variants + residual noise"
                if not self.degenerate
                else "degenerate: widened around the largest tier's mean",
                "attempted_fit": _fit_dict(self.attempted_fit),
            }
        )
        return out


# --------------------------------------------------------------------------- helpers


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _opt_float(v: float | None) -> float | None:
    return None if v is None else float(v)


def _fit_dict(fit: ScalingFit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        "a": fit.a,
        "b": fit.b,
        "c": fit.c,
        "r2": fit.r2,
        "sse": fit.sse,
        "at_bound": list(fit.at_bound),
    }


def _tier_sort_key(tier: Any) -> tuple[int, Any]:
    return (0, tier) if isinstance(tier, int | float) else (1, str(tier))


def summarize_tiers(records: Iterable[Any]) -> list[TierSummary]:
    """Per-tier counts, mean and standard deviation (ddof=1) of usable jobs, by size."""
    jobs = [JobResult.coerce(r) for r in records]
    by_tier: dict[Any, list[JobResult]] = {}
    for j in jobs:
        by_tier.setdefault(j.tier, []).append(j)
    out = []
    for tier, group in by_tier.items():
        used = [j for j in group if j.usable]
        vals = np.array([float(j.metric) for j in used])
        sizes = [int(float(j.parameters)) for j in group if _finite(j.parameters)]
        out.append(
            TierSummary(
                tier=tier,
                parameters=int(np.median(sizes)) if sizes else None,
                n_jobs=len(group),
                n_used=len(used),
                n_failed=sum(not j.finished for j in group),
                n_invalid=sum(j.finished and not j.usable for j in group),
                mean=float(vals.mean()) if vals.size else None,
                std=float(vals.std(ddof=1)) if vals.size > 1 else None,
            )
        )
    out.sort(
        key=lambda t: (t.parameters if t.parameters is not None else -1, _tier_sort_key(t.tier))
    )
    return out


def _usable_points(records: Iterable[Any]) -> tuple[list[JobResult], int, int]:
    jobs = [JobResult.coerce(r) for r in records]
    used = [j for j in jobs if j.usable]
    n_failed = sum(not j.finished for j in jobs)
    n_invalid = sum(j.finished and not j.usable for j in jobs)
    return used, n_failed, n_invalid


def baseline_largest_tier_mean(records: Iterable[Any]) -> float:
    """The simplest baseline: mean metric of the finished jobs at the largest size.

    Raises ``ValueError`` when no job finished with a finite metric.
    """
    used, _, _ = _usable_points(records)
    if not used:
        raise ValueError("no finished job with a finite metric")
    largest = max(float(j.parameters) for j in used)
    return float(np.mean([float(j.metric) for j in used if float(j.parameters) == largest]))


def _c_bounds(
    metric_range: tuple[float | None, float | None] | None, higher_is_better: bool
) -> tuple[float, float]:
    if metric_range is None:
        return (-np.inf, np.inf) if higher_is_better else (0.0, np.inf)
    lo, hi = metric_range
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    if not lo < hi:
        raise ValueError(f"metric_range must have lower < upper, got {metric_range}")
    return lo, hi


def _clip_to_range(pred: float, lower: float, upper: float, rng: tuple[float, float]):
    lo, hi = rng
    pred = float(np.clip(pred, lo, hi))
    lower = float(np.clip(min(lower, pred), lo, hi))
    upper = float(np.clip(max(upper, pred), lo, hi))
    return pred, lower, upper


# ------------------------------------------------------------------------- prediction


def predict_scaling(
    records: Iterable[Any],
    target_params: int,
    *,
    metric: str,
    higher_is_better: bool,
    level: float = 0.9,
    n_bootstrap: int = 1000,
    seed: int = 0,
    metric_range: tuple[float | None, float | None] | None = None,
) -> PredictionResult:
    """Predict ``metric`` at ``target_params`` with an interval at ``level``.

    ``metric_range`` is the metric's natural range, e.g. ``(0, 1)`` for accuracy or
    ``(1, None)`` for perplexity: it bounds the asymptote ``c`` and clips the
    prediction and interval. Without it, a lower-is-better metric whose observed
    values are all ``>= 0`` gets the range ``(0, None)`` (a loss); nothing else is
    bounded.

    ``records``: ``JobResult`` objects or mappings/objects with ``tier``,
    ``variant``, ``parameters``, ``metric`` and ``status``. ``seed`` (>= 0) makes
    the bootstrap deterministic. Raises ``ValueError`` only for invalid arguments;
    every data problem yields a result with ``degenerate=True``.
    """
    if not _finite(target_params) or int(target_params) <= 0:
        raise ValueError(f"target_params must be a positive integer, got {target_params!r}")
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if int(n_bootstrap) < 1:
        raise ValueError("n_bootstrap must be >= 1")
    records = list(records)
    target = int(target_params)
    level = float(level)
    sign = -1.0 if higher_is_better else 1.0
    used, n_failed, n_invalid = _usable_points(records)
    c_bounds = _c_bounds(metric_range, higher_is_better)
    if metric_range is None and any(float(j.metric) < 0 for j in used):
        c_bounds = (-np.inf, np.inf)  # negative values: not a loss-like metric
    clip_range = c_bounds
    tiers = summarize_tiers(records)
    common = dict(
        metric=metric,
        target_params=target,
        level=level,
        higher_is_better=bool(higher_is_better),
        n_points=len(used),
        n_failed=n_failed,
        n_invalid=n_invalid,
        tiers=tiers,
        seed=int(seed),
    )
    warnings = []
    if n_failed:
        warnings.append(f"{n_failed} job(s) did not complete and were excluded")
    if n_invalid:
        warnings.append(f"{n_invalid} completed job(s) had a non-finite metric or size, excluded")

    def degenerate(reason: str, attempted: ScalingFit | None = None) -> PredictionResult:
        pred, lower, upper, r2 = _degenerate_estimate(used, target, level, clip_range)
        return PredictionResult(
            predicted=pred,
            lower=lower,
            upper=upper,
            a=0.0,
            b=0.0,
            c=pred,
            r2=r2,
            degenerate=True,
            reason=reason,
            n_bootstrap=0,
            warnings=warnings,
            attempted_fit=attempted,
            **common,
        )

    if not used:
        return degenerate(
            f"no finished job with a finite metric ({n_failed} failed, {n_invalid} invalid)"
        )
    sizes = np.array([float(j.parameters) for j in used])
    y = np.array([float(j.metric) for j in used])
    distinct = np.unique(sizes)
    if distinct.size < 2:
        return degenerate(f"fewer than 2 distinct model sizes with finished jobs ({distinct.size})")
    if distinct.size < N_PARAMS:
        return degenerate(
            f"only {distinct.size} distinct model sizes: the 3-parameter law "
            "c +/- a N^-b is not identified"
        )
    if y.size <= N_PARAMS:
        return degenerate(
            f"too few finished jobs ({y.size}) for 3 parameters and a noise estimate (need >= 4)"
        )
    size_means = np.array([y[sizes == s].mean() for s in distinct])
    steps = sign * np.diff(size_means)  # < 0 means the metric improved
    if np.any(steps >= 0):
        bad = int(np.argmax(steps >= 0))
        attempted = _try_fit(sizes, y, higher_is_better, c_bounds)
        return degenerate(
            "non-monotone tier means: the metric does not improve from "
            f"N={int(distinct[bad])} (mean {size_means[bad]:.6g}) to "
            f"N={int(distinct[bad + 1])} (mean {size_means[bad + 1]:.6g})",
            attempted,
        )
    try:
        fit = fit_scaling_law(sizes, y, higher_is_better=higher_is_better, c_bounds=c_bounds)
    except ValueError as exc:
        return degenerate(f"scaling fit failed: {exc}")

    for name in fit.at_bound:
        warnings.append(f"fit parameter at its bound ({name}); the law is poorly constrained")
    decades = math.log10(target / distinct.max())
    if decades > 2:
        warnings.append(f"target is {decades:.1f} decades beyond the largest tier")

    dof = y.size - N_PARAMS
    sigma = math.sqrt(fit.sse / dof)
    predicted = float(fit(target))
    boot = _bootstrap_predictions(
        used, sizes, y, fit, sigma, target, c_bounds, int(n_bootstrap), np.random.default_rng(seed)
    )
    alpha = 1.0 - level
    q = (alpha / 2, 1 - alpha / 2)
    # Noise of one model at the target size: the residual spread, or the largest
    # tier's own spread when that is larger (spread that grows with size).
    top = y[sizes == distinct.max()]
    sigma_target = max(sigma, float(top.std(ddof=1)) if top.size > 1 else 0.0)
    noise = sigma_target * np.random.default_rng([seed, 1]).standard_t(dof, size=boot.size)
    lower, upper = (float(v) for v in np.quantile(boot + noise, q))
    m_lo, m_hi = (float(v) for v in np.quantile(boot, q))
    if not all(math.isfinite(v) for v in (predicted, lower, upper)):
        return degenerate("scaling fit gave a non-finite prediction", fit)
    predicted, lower, upper = _clip_to_range(predicted, lower, upper, clip_range)
    return PredictionResult(
        predicted=predicted,
        lower=lower,
        upper=upper,
        a=fit.a,
        b=fit.b,
        c=fit.c,
        r2=fit.r2,
        degenerate=False,
        reason=None,
        n_bootstrap=int(boot.size),
        sigma_residual=sigma,
        mean_interval=(min(m_lo, predicted), max(m_hi, predicted)),
        warnings=warnings,
        fit=fit,
        attempted_fit=fit,
        **common,
    )


def _try_fit(sizes, y, higher_is_better, c_bounds) -> ScalingFit | None:
    try:
        return fit_scaling_law(sizes, y, higher_is_better=higher_is_better, c_bounds=c_bounds)
    except ValueError:
        return None


def _bootstrap_predictions(
    used: Sequence[JobResult],
    sizes: np.ndarray,
    y: np.ndarray,
    fit: ScalingFit,
    sigma: float,
    target: int,
    c_bounds: tuple[float, float],
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Refit on variants resampled within each tier; return the target-size values.

    Each tier's deviations from its mean are scaled by ``sqrt(n/(n-1))`` and, when
    the tier looks tighter than the pooled within-tier spread, scaled up to it
    (never down): a 3-variant tier that happens to agree must not make the
    interval overconfident. A tier whose variants cannot be resampled (one
    variant, or all equal) is perturbed with normal noise of the pooled spread.
    """
    groups: dict[tuple[Any, float], list[int]] = {}
    for i, j in enumerate(used):
        groups.setdefault((j.tier, float(sizes[i])), []).append(i)
    ss = sum(float(((y[g] - y[g].mean()) ** 2).sum()) for g in groups.values())
    dof = sum(len(g) - 1 for g in groups.values())
    pooled = math.sqrt(ss / dof) if dof > 0 and ss > 0 else sigma
    y_star = np.empty((n_boot, y.size))
    for idx in groups.values():
        idx = np.asarray(idx)
        vals = y[idx]
        mean = vals.mean()
        spread = float(vals.std(ddof=1)) if idx.size > 1 else 0.0
        if spread <= 0.0:
            y_star[:, idx] = mean + pooled * rng.standard_normal((n_boot, idx.size))
            continue
        dev = (vals - mean) * math.sqrt(idx.size / (idx.size - 1)) * max(1.0, pooled / spread)
        y_star[:, idx] = mean + dev[rng.integers(0, idx.size, size=(n_boot, idx.size))]
    # Row 0 is the original data: the bootstrap values are shifted by the gap between
    # this fast vectorised estimator and the refined full-data fit.
    y_all = np.vstack([y[None, :], y_star])
    c, a_n, b, _ = fit_grid(sizes / fit.n_ref, y_all, sign=fit.sign, c_bounds=c_bounds)
    preds = c + fit.sign * a_n * (target / fit.n_ref) ** (-b)
    preds = preds[1:] - preds[0] + fit(target)
    return preds[np.isfinite(preds)]


def _degenerate_estimate(
    used: Sequence[JobResult], target: int, level: float, clip_range: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Best effort when no law can be trusted: largest tier's mean, a wide interval."""
    if not used:
        lo, hi = clip_range
        big = float(np.finfo(float).max)
        lower = lo if math.isfinite(lo) else -big
        upper = hi if math.isfinite(hi) else big
        if math.isfinite(lo) and math.isfinite(hi):
            pred = 0.5 * (lo + hi)
        elif math.isfinite(lo):
            pred = lo
        elif math.isfinite(hi):
            pred = hi
        else:
            pred = 0.0
        return pred, lower, upper, 0.0
    sizes = np.array([float(j.parameters) for j in used])
    y = np.array([float(j.metric) for j in used])
    n_large = sizes.max()
    top = y[sizes == n_large]
    pred = float(top.mean())
    distinct = np.unique(sizes)
    if distinct.size >= 2 and target > n_large:
        r = math.log(target / n_large) / math.log(n_large / distinct.min())
    else:
        r = 1.0
    span = float(y.max() - y.min())
    if top.size > 1:
        sd = float(top.std(ddof=1))
    else:
        # Pooled within-size spread when the largest size has a single job.
        ss = sum(float(((y[sizes == s] - y[sizes == s].mean()) ** 2).sum()) for s in distinct)
        dof = y.size - distinct.size
        sd = math.sqrt(ss / dof) if dof > 0 else 0.0
    z = float(norm.ppf(0.5 + level / 2))
    width = span * max(1.0, r) + z * sd
    if not width > 0:
        width = 0.5 * abs(pred) if pred != 0 else 1.0
    lower = min(float(y.min()), pred - width)
    upper = max(float(y.max()), pred + width)
    pred, lower, upper = _clip_to_range(pred, lower, upper, clip_range)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - pred) ** 2).sum()) / sst if sst > 0 else 0.0
    return pred, lower, upper, float(r2)


# ------------------------------------------------------------------------------ plot


def plot_scaling_fit(result: PredictionResult, points: Iterable[Any], path: str | Path) -> Path:
    """Write a PNG: jobs per tier, tier means, the law, the target with its interval."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    used, n_failed, n_invalid = _usable_points(points)
    fig = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    by_tier: dict[Any, list[JobResult]] = {}
    for j in used:
        by_tier.setdefault(j.tier, []).append(j)
    for tier, group in sorted(by_tier.items(), key=lambda kv: float(kv[1][0].parameters)):
        n = np.array([float(j.parameters) for j in group])
        v = np.array([float(j.metric) for j in group])
        ax.scatter(n, v, s=18, alpha=0.6, label=f"tier {tier} (n={len(group)})")
        ax.errorbar(
            [np.median(n)],
            [v.mean()],
            yerr=[[v.std(ddof=1) if v.size > 1 else 0.0]],
            fmt="_",
            color="k",
            markersize=14,
            capsize=3,
        )
    sizes = [float(j.parameters) for j in used] + [float(result.target_params)]
    grid = np.geomspace(min(sizes) / 1.5, max(sizes) * 1.5, 200)
    if result.degenerate:
        ax.plot(grid, result.curve(grid), "--", color="gray", label="best effort (degenerate)")
    else:
        ax.plot(
            grid,
            result.curve(grid),
            color="C3",
            label=f"fit: a={result.a:.3g}, b={result.b:.3g}, c={result.c:.4g}, r²={result.r2:.3f}",
        )
    ax.errorbar(
        [result.target_params],
        [result.predicted],
        yerr=[[result.predicted - result.lower], [result.upper - result.predicted]],
        fmt="*",
        color="C3" if not result.degenerate else "gray",
        markersize=12,
        capsize=5,
        label=f"target {result.target_params:.3g}: {result.predicted:.4g} "
        f"[{result.lower:.4g}, {result.upper:.4g}] @ {result.level:g}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("model parameters N")
    ax.set_ylabel(result.metric)
    title = f"Scaling fit of {result.metric}"
    if result.degenerate:
        title += f"\nDEGENERATE: {result.reason}"
    if n_failed or n_invalid:
        title += f"  ({n_failed} failed, {n_invalid} invalid jobs excluded)"
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
