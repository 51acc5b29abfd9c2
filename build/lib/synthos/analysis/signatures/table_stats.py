"""Schema-free statistics of a table's columns: each column's shape, pooled over columns.

Every statistic is computed per column and pooled (mean, or max where one broken column
matters), so tables with different columns give vectors of the same length and meaning.
Values are scale-free (shares, log ratios, correlations), so units do not matter.

* distinct_share: distinct values / values. top_value_share: share of the commonest value.
* edge_pileup: log of the count at a column's minimum (maximum) over the mean count of the
  next three distinct values inward, the larger end; 0 for continuous data, large when
  values were clipped to a range (truncated tails pile up on the cut).
* tail_share: share of values beyond 3 robust standard deviations (1.4826 MAD; the
  standard deviation when the MAD is 0) of the median.
* kurtosis: log of Pearson's kurtosis (normal: log 3); skewness: log(1 + |skew|).
* range_iqr: log of (max - min) / interquartile range.
* histogram_entropy: entropy of 20 equal-width bins over the 1 %-99 % quantile range
  (values beyond clipped into the end bins), over log 20.
* category_entropy / category_top_share: normalised entropy and commonest level's share of
  categorical columns.
* effective_rank / top_eigen_share: exp(entropy of the Spearman correlation matrix's
  eigenvalue shares) / columns, and the largest share; mean_abs_correlation: mean |rho|
  over column pairs.
"""

from __future__ import annotations

import math

import numpy as np

from synthos.analysis.collapse.stats import entropy

#: Equal-width bins of the histogram entropy.
HISTOGRAM_BINS = 20
#: Robust standard deviations beyond which a value is in the tail.
TAIL_SIGMAS = 3.0
#: Distinct values inward whose counts an edge count is compared with.
EDGE_NEIGHBOURS = 3


def column_shape(x: np.ndarray) -> dict[str, float]:
    """The shape statistics of one numeric column (finite values); NaN when it is constant
    or has fewer than 4 values."""
    out = dict.fromkeys(
        (
            "distinct_share",
            "top_value_share",
            "edge_pileup",
            "tail_share",
            "kurtosis",
            "skewness",
            "range_iqr",
            "histogram_entropy",
        ),
        math.nan,
    )
    n = x.size
    if n < 4:
        return out
    levels, counts = np.unique(x, return_counts=True)
    out["distinct_share"] = levels.size / n
    out["top_value_share"] = counts.max() / n
    if levels.size < 2:
        return out
    out["edge_pileup"] = max(_edge(counts), _edge(counts[::-1]))
    sd = float(np.std(x))
    median = float(np.median(x))
    mad = 1.4826 * float(np.median(np.abs(x - median)))
    spread = mad if mad > 0 else sd
    out["tail_share"] = float(np.mean(np.abs(x - median) > TAIL_SIGMAS * spread))
    z = (x - x.mean()) / sd
    out["kurtosis"] = math.log(max(float(np.mean(z**4)), 1e-6))
    out["skewness"] = math.log1p(abs(float(np.mean(z**3))))
    q1, q3 = np.quantile(x, [0.25, 0.75])
    iqr = q3 - q1 if q3 > q1 else sd
    out["range_iqr"] = math.log(max((levels[-1] - levels[0]) / iqr, 1e-6))
    lo, hi = np.quantile(x, [0.01, 0.99])
    if hi > lo:
        bins = np.clip(((x - lo) / (hi - lo) * HISTOGRAM_BINS).astype(int), 0, HISTOGRAM_BINS - 1)
        share = np.bincount(bins, minlength=HISTOGRAM_BINS) / n
        out["histogram_entropy"] = entropy(share) / math.log(HISTOGRAM_BINS)
    return out


def _edge(counts: np.ndarray) -> float:
    inward = counts[1 : 1 + EDGE_NEIGHBOURS]
    return math.log(counts[0] / inward.mean()) if inward.size else 0.0


def pooled_shapes(columns: list[np.ndarray]) -> dict[str, float]:
    """Column shapes pooled over columns: the mean of each, and the max of edge_pileup and
    tail_share (one clipped or heavy-tailed column among many still shows)."""
    shapes = [column_shape(x) for x in columns]
    out: dict[str, float] = {}
    for key in shapes[0] if shapes else ():
        values = np.array([s[key] for s in shapes], dtype=np.float64)
        out[key] = _nanmean(values)
        if key in ("edge_pileup", "tail_share"):
            out[f"{key}_max"] = float(np.nanmax(values)) if np.isfinite(values).any() else math.nan
    return out


def category_shapes(columns: list[np.ndarray]) -> dict[str, float]:
    """Normalised entropy and top-level share of categorical columns, averaged."""
    entropies, tops = [], []
    for labels in columns:
        if labels.size == 0:
            continue
        counts = np.unique(labels, return_counts=True)[1]
        share = counts / labels.size
        tops.append(float(share.max()))
        if counts.size > 1:
            entropies.append(entropy(share) / math.log(counts.size))
    return {
        "category_entropy": _nanmean(np.array(entropies)),
        "category_top_share": _nanmean(np.array(tops)),
    }


def dependence(rows: np.ndarray) -> dict[str, float]:
    """Spectrum and strength of the Spearman correlations between numeric columns; NaN with
    fewer than two varying columns or 10 rows."""
    out = dict.fromkeys(("effective_rank", "top_eigen_share", "mean_abs_correlation"), math.nan)
    rho = spearman_matrix(rows)
    if rho is None:
        return out
    p = rho.shape[0]
    eigen = np.clip(np.linalg.eigvalsh(rho), 0, None)
    shares = eigen / eigen.sum()
    out["effective_rank"] = math.exp(entropy(shares)) / p
    out["top_eigen_share"] = float(shares.max())
    out["mean_abs_correlation"] = float(np.abs(rho[np.triu_indices(p, 1)]).mean())
    return out


def spearman_matrix(rows: np.ndarray) -> np.ndarray | None:
    """Spearman correlation matrix of the varying columns of `rows` (None when fewer than
    two vary or there are fewer than 10 rows)."""
    if rows.shape[0] < 10:
        return None
    rows = rows[:, np.std(rows, axis=0) > 0]
    if rows.shape[1] < 2:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(rows, axis=0)
    return np.atleast_2d(np.corrcoef(ranks, rowvar=False))


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan
