"""Statistics shared by the dimensions: noise allowances and the score scale.

Every dimension measures a distance between candidate and reference, subtracts what
sampling noise alone would produce at these sample sizes (``z`` standard errors, or the
statistic's critical value at the matching level; Bonferroni-adjusted where a dimension
tests every column or pair), and maps the excess to a score with
``100 * exp(-excess / scale)``: 100 while the difference is within noise, falling as the
defect grows. The noise allowance makes one threshold work from a hundred rows to millions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Fewer rows than this say nothing about a spread, an entropy or a spectrum.
MIN_ROWS = 20


#: A series differs from the reference only beyond this many times the difference between
#: the reference's own two stretches (a drifting or regime-switching series differs that
#: much between any two stretches).
NULL_FACTOR = 2.0


def decay_score(excess: float, scale: float) -> float:
    """100 at no excess, 100/e at `scale`."""
    return 100.0 * math.exp(-max(0.0, float(excess)) / scale)


def two_sided_alpha(z: float) -> float:
    return float(2.0 * stats.norm.sf(z))


def adjusted_z(z: float, tests: int) -> float:
    """The z of the same family-wise error rate over `tests` comparisons (Bonferroni): a
    table of many columns must not fail because one of them is noisy by chance."""
    return float(stats.norm.isf(two_sided_alpha(z) / (2 * max(1, tests))))


def ks_critical(n: int, m: int, z: float) -> float:
    """Two-sample KS statistic that noise exceeds with probability alpha(z)."""
    alpha = two_sided_alpha(z)
    return math.sqrt(-math.log(alpha / 2.0) / 2.0) * math.sqrt((n + m) / (n * m))


def aggregate_columns(scores: Sequence[float], share: float = 0.25) -> float:
    """Half the worst column's score, half the mean of the worst quarter (at least one):
    one broken column out of many fails the dimension on its own, while one column that
    noise pushed just past its allowance costs at most half its shortfall."""
    values = np.sort(np.asarray(list(scores), dtype=np.float64))
    if values.size == 0:
        return float("nan")
    count = max(1, math.ceil(share * values.size))
    return float(0.5 * values[0] + 0.5 * values[:count].mean())


def lowest_part(
    column_scores: Sequence[float], whole_scores: Sequence[float], default: float | None = None
) -> float | None:
    """The lower of the column aggregate (`aggregate_columns`) and the scores of parts that
    test all columns at once: such a part is one test of every column already (averaged
    with the columns, its finding would be diluted by their passes). `default` when there
    is neither."""
    parts = list(whole_scores)
    if len(column_scores):
        parts.append(aggregate_columns(column_scores))
    return min(parts, default=default)


def finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def frequencies(labels: Sequence, levels: Sequence) -> np.ndarray:
    """Share of each level among `labels` (levels not present get 0)."""
    index = {level: i for i, level in enumerate(levels)}
    found, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    shares = np.zeros(len(levels), dtype=np.float64)
    for label, count in zip(found, counts, strict=True):
        if label in index:
            shares[index[label]] += count
    return shares / max(1, len(labels))


def entropy(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    if p.size == 0:
        return 0.0
    p = p / p.sum()
    return float(-(p * np.log(p)).sum())


def tv_noise(p: np.ndarray, n: int, m: int, z: float) -> float:
    """Allowance for the total variation distance of two samples of one distribution `p`:
    z standard errors of each level's difference, halved and summed."""
    se = np.sqrt(p * (1.0 - p) * (1.0 / n + 1.0 / m))
    return float(0.5 * np.sum(np.minimum(z * se, np.maximum(p, 1.0 / max(n, 1)))))


def binomial_noise(p: float, n: float, z: float) -> float:
    """z standard errors of a proportion estimated from n draws; the variance is floored at
    1/n, so a share of exactly 0 or 1 on few draws still carries its uncertainty."""
    n = max(float(n), 1.0)
    return z * math.sqrt(max(p * (1 - p), 1.0 / n) / n)


def auc_noise(n1: int, n2: int, z: float) -> float:
    """z standard errors of the AUC of an uninformative classifier (Hanley-McNeil)."""
    return z * math.sqrt((n1 + n2 + 1) / (12.0 * n1 * n2))


def _autocorrelations(x: np.ndarray, max_lag: int) -> np.ndarray | None:
    """Autocorrelations at lags 1..min(max_lag, n // 4); None when x is too short or flat."""
    n = x.size
    x = x - x.mean()
    variance = float(x @ x)
    if n < 4 or variance <= 0:
        return None
    spectrum = np.fft.rfft(x, 2 * n)
    return np.fft.irfft(spectrum * np.conj(spectrum))[1 : min(max_lag, n // 4) + 1] / variance


def effective_size(values: np.ndarray, max_lag: int = 200) -> float:
    """Independent draws' worth of a series: n / (1 + 2 sum of its autocorrelations), the
    sum running over the initial positive stretch of lags (Geyer's rule), so a slowly
    varying series counts for far fewer draws than steps."""
    x = np.asarray(values, dtype=np.float64)
    positive = _autocorrelations(x, max_lag)
    if positive is None:
        return float(max(x.size, 1))
    stop = np.flatnonzero(positive <= 0)
    tau = 1.0 + 2.0 * float(positive[: stop[0] if stop.size else positive.size].sum())
    return float(np.clip(x.size / max(tau, 1.0), 2.0, x.size))


def mean_size(values: np.ndarray, max_lag: int = 200) -> float:
    """Independent draws' worth of a series for its mean: n over its long-run variance
    factor, the autocorrelations summed over a quarter of the lags with Bartlett's
    weights. A seasonal cycle's negative autocorrelations (half a period apart) cancel its
    positive ones, as whole cycles add nothing to the error of a mean; Geyer's initial
    positive stretch (`effective_size`) counts only the positive ones and would take a
    seasonal series for far fewer draws than its mean is worth."""
    x = np.asarray(values, dtype=np.float64)
    lags = _autocorrelations(x, max_lag)
    if lags is None:
        return float(max(x.size, 1))
    weights = 1.0 - np.arange(1, lags.size + 1) / (lags.size + 1)
    tau = 1.0 + 2.0 * float((weights * lags).sum())
    return float(np.clip(x.size / max(tau, 1.0), 2.0, x.size))


def squared_deviations(x: np.ndarray) -> np.ndarray:
    """Each value's squared deviation from its column's mean (along the first axis): their
    mean is the variance, so tests of means on them are tests of spread."""
    return (x - x.mean(axis=0)) ** 2


def series_sizes(
    cand: np.ndarray, ref: np.ndarray
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Effective sizes of two stretches of a series: of their values (for means, quantiles
    and entropies) and of their squared deviations (for spreads: calm and turbulent
    periods make a stretch's spread less certain than its values' autocorrelation says)."""
    return (
        (effective_size(cand), effective_size(ref)),
        (effective_size(squared_deviations(cand)), effective_size(squared_deviations(ref))),
    )


def log_sd_error(ref: np.ndarray, n: float, m: float) -> float:
    """Standard error of the log ratio of two samples' standard deviations, sqrt((kurtosis
    - 1) / 4 (1/n + 1/m)) with the reference's kurtosis: heavy tails make spread noisy."""
    sd = float(np.std(ref))
    kurtosis = float(np.mean(((ref - ref.mean()) / sd) ** 4)) if sd > 0 else 3.0
    return math.sqrt(max(kurtosis - 1.0, 0.5) / 4.0 * (1.0 / n + 1.0 / m))


def block_errors(values: np.ndarray, blocks: int = 8) -> tuple[float, float]:
    """Standard errors of the mean and of the log standard deviation of a series from the
    spread of those statistics over `blocks` contiguous stretches: slow swings and calm
    or turbulent periods show up there, whatever their form."""
    x = np.asarray(values, dtype=np.float64)
    parts = [p for p in np.array_split(x, blocks) if p.size >= 2]
    if len(parts) < 3:
        return 0.0, 0.0
    means = np.array([p.mean() for p in parts])
    sds = np.array([p.std() for p in parts])
    logs = np.log(sds[sds > 0])
    scale = float(np.std(x)) or 1.0
    mean_se = float(np.std(means, ddof=1)) / math.sqrt(len(parts)) / scale
    log_se = float(np.std(logs, ddof=1)) / math.sqrt(len(logs)) if len(logs) > 1 else 0.0
    return mean_se, log_se


@dataclass(frozen=True)
class MomentErrors:
    """What the moments of two samples are worth: independent draws' worth of each side for
    the mean and for the spread (default: the numbers of values; the spread's default is
    the mean's), and floors under the standard errors of mean and log-sd."""

    mean_sizes: tuple[float, float] | None = None
    spread_sizes: tuple[float, float] | None = None
    floors: tuple[float, float] = (0.0, 0.0)


def moment_shift(
    cand: np.ndarray, ref: np.ndarray, z: float, errors: MomentErrors | None = None
) -> dict[str, float]:
    """Shift of the mean (in reference standard deviations) and of the spread (absolute log
    ratio of standard deviations), each beyond z standard errors (`errors`; default every
    value one independent draw, no floors). The log-ratio's error allows for the data's
    kurtosis (`log_sd_error`), so heavy tails do not pass for a change of scale."""
    errors = errors or MomentErrors()
    n, m = errors.mean_sizes or (cand.size, ref.size)
    n2, m2 = errors.spread_sizes or (n, m)
    sd_ref, sd_cand = float(np.std(ref)), float(np.std(cand))
    if sd_ref <= 0:
        return {"mean_shift": 0.0, "log_sd_ratio": 0.0, "mean_excess": 0.0, "scale_excess": 0.0}
    shift = abs(float(np.mean(cand) - np.mean(ref))) / sd_ref
    mean_se = max(math.sqrt(sd_cand**2 / n + sd_ref**2 / m) / sd_ref, errors.floors[0])
    log_ratio = abs(math.log(max(sd_cand, 1e-12 * sd_ref) / sd_ref))
    scale_se = max(log_sd_error(ref, n2, m2), errors.floors[1])
    return {
        "mean_shift": shift,
        "sd_ratio": sd_cand / sd_ref,
        "log_sd_ratio": log_ratio,
        "mean_excess": max(0.0, shift - z * mean_se),
        "scale_excess": max(0.0, log_ratio - z * scale_se),
        "mean_allowance": z * mean_se,
        "scale_allowance": z * scale_se,
    }


#: Shrinkage of a covariance toward its diagonal before it is inverted (few rows, many
#: columns, or collinear columns).
SHRINKAGE = 0.1


def joint_mean_shift(
    cand: np.ndarray, ref: np.ndarray, z: float, sizes: tuple[float, float] | None = None
) -> dict[str, float] | None:
    """Shift of the mean vector of several columns at once (Hotelling's T-squared with each
    side's covariance, shrunk toward its diagonal), beyond the chi-squared critical value
    at the noise level z, in reference standard deviations: a small shift shared by many
    columns adds up here long before any one column's own test sees it. None when fewer
    than two columns vary."""
    sd = ref.std(axis=0)
    keep = sd > 0
    if keep.sum() < 2:
        return None
    a, b = cand[:, keep] / sd[keep], ref[:, keep] / sd[keep]
    n, m = sizes or (a.shape[0], b.shape[0])
    p = a.shape[1]

    def shrunk(x: np.ndarray) -> np.ndarray:
        cov = np.atleast_2d(np.cov(x, rowvar=False))
        return (1 - SHRINKAGE) * cov + SHRINKAGE * np.diag(np.diag(cov))

    delta = a.mean(axis=0) - b.mean(axis=0)
    t2 = float(delta @ np.linalg.solve(shrunk(a) / n + shrunk(b) / m, delta))
    critical = float(stats.chi2.isf(two_sided_alpha(z), p))
    per_draw = math.sqrt(1.0 / n + 1.0 / m)
    return {
        "t_squared": t2,
        "critical": critical,
        "columns": p,
        "mean_excess": max(0.0, (math.sqrt(t2) - math.sqrt(critical)) * per_draw),
    }
