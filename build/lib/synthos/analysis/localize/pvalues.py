"""Per-row p-values against a real null sample, and false-discovery q-values.

Every evidence source turns its statistic into a one-sided p-value: how often a real row
(the reference's holdout, judged exactly as the candidate's rows are) shows a value at least
as suspicious. Two null models, both fitted on the holdout:

* distance ratios (nearest over K-th nearest neighbour distance, `ratio_pvalues`): the
  ratio hardly depends on the density around a row (for a locally uniform density in d
  dimensions (r1 / rK)^d follows Beta(1, K - 1) whatever the density), so a copy, far closer
  to one record than to the next, stands out where a row in a dense region does not. Exact
  twins (ratio 0) are a point mass of the holdout's own share of them; the rest is the
  upper-tail model below on -log(ratio), fitted on the holdout's ratios.
* large values (distances to the reference, losses, robust z-scores: `upper_tail_pvalues`):
  the holdout's empirical survival function up to its 90th percentile, an exponential tail
  fitted to the holdout's excesses beyond it (a peaks-over-threshold model), so p-values keep
  shrinking past the largest real value instead of stopping at 1 / (holdout + 1).

`q_values` are Benjamini-Hochberg q-values over the rows one source scored: the smallest
false-discovery rate at which a row would be flagged. A row's score is 1 - q (see
`combine`), so a source that finds nothing leaves every row near 0 and a source with many
strong hits keeps them near 1.
"""

from __future__ import annotations

import numpy as np

#: Share of the null sample beyond which its tail is modelled as exponential.
TAIL_SHARE = 0.10


def ratio_pvalues(ratios: np.ndarray, null: np.ndarray, twins: float | None = None) -> np.ndarray:
    """P(a real row's ratio <= each ratio): the null's share of exact twins (ratio 0; or
    `twins`) plus, for the rest, the upper-tail model on -log(ratio)."""
    ratios = np.clip(np.asarray(ratios, dtype=np.float64), 0.0, 1.0)
    null = np.clip(np.asarray(null, dtype=np.float64), 0.0, 1.0)
    null = null[np.isfinite(null)]
    if null.size == 0:
        return np.ones_like(ratios)
    if twins is None:
        twins = float(np.mean(null <= 0))
    positive = null[null > 0]
    if positive.size == 0:
        return np.where(ratios <= 0, twins, 1.0)
    with np.errstate(divide="ignore"):
        tail = upper_tail_pvalues(-np.log(np.maximum(ratios, 1e-300)), -np.log(positive))
    return np.where(ratios <= 0, twins, twins + (1.0 - twins) * tail)


def upper_tail_pvalues(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """P(a real row's value >= each value): empirical below the null's 90th percentile
    (interpolated between the null's values, so distinct values keep distinct p-values),
    an exponential tail fitted to the excesses beyond it."""
    values = np.asarray(values, dtype=np.float64)
    null = np.sort(np.asarray(null, dtype=np.float64)[np.isfinite(null)])
    if null.size == 0:
        return np.ones_like(values)
    n = null.size
    threshold = float(np.quantile(null, 1.0 - TAIL_SHARE))
    distinct, first = np.unique(null, return_index=True)
    survival = (n - first + 1.0) / (n + 1.0)  # (null values >= each, plus one) / (n + 1)
    empirical = np.interp(values, distinct, survival, left=1.0, right=1.0 / (n + 1.0))
    excess = null[null > threshold] - threshold
    scale = float(excess.mean()) if excess.size else 0.0
    base = (np.sum(null >= threshold) + 1.0) / (n + 1.0)
    if scale <= 0:
        tail = np.where(values > threshold, 0.0, base)
    else:
        tail = base * np.exp(-(values - threshold) / scale)
    p = np.where(values > threshold, tail, empirical)
    return np.where(np.isnan(values), 1.0, np.clip(p, 0.0, 1.0))


def robust_z(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 MAD) against `null` (the sd when the MAD is 0)."""
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if null.size == 0:
        return np.zeros_like(values, dtype=np.float64)
    center = float(np.median(null))
    spread = 1.4826 * float(np.median(np.abs(null - center)))
    if spread <= 0:
        spread = float(np.std(null)) or 1.0
    return (np.asarray(values, dtype=np.float64) - center) / spread


def q_values(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of the finite p-values (NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    ranked = p[order] * finite.size / np.arange(1, finite.size + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return out
