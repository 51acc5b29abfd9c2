"""Robust statistics of each numeric column, from the profile sample.

Quantiles set the extreme tails, the strata bins and the deciles; median and MAD the
robust z of outliers, the quartiles their IQR rule; the mean is the shift that keeps the
engine's sums of squares and co-moments numerically stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..strata import quantile_edges
from .profile import Profile


@dataclass(frozen=True)
class NumericStats:
    """One numeric column's profile statistics (finite values only).

    robust_scale: 1.4826 * MAD, or IQR / 1.349 when the MAD is zero.
    repeats: whether some value occurs more than once (ties at the extremes are possible).
    mode_share: share of the most frequent value.
    """

    tail_low: float
    q1: float
    median: float
    q3: float
    tail_high: float
    mad: float
    robust_scale: float
    shift: float
    deciles: list[float]
    strata_edges: list[float]
    distinct_in_profile: int
    repeats: bool
    mode_share: float


def numeric_stats(
    profile: Profile, tail_quantiles: tuple[float, float], numeric_bins: int
) -> dict[str, NumericStats]:
    """Statistics of every numeric column with a finite profile value (others are absent)."""
    out: dict[str, NumericStats] = {}
    for col in profile.numeric:
        v = profile.values(col)
        v = v[np.isfinite(v)]
        if v.size:
            out[col.name] = _column_stats(np.sort(v), tail_quantiles, numeric_bins)
    return out


def _column_stats(
    v: np.ndarray, tail_quantiles: tuple[float, float], numeric_bins: int
) -> NumericStats:
    """Statistics of sorted finite values `v`."""
    lo_q, hi_q = tail_quantiles
    q = np.quantile(v, [lo_q, 0.25, 0.5, 0.75, hi_q])
    med = float(q[2])
    mad = float(np.median(np.abs(v - med)))
    scale = 1.4826 * mad
    if scale <= 1e-12:
        scale = float(q[3] - q[1]) / 1.349
    starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]]))
    runs = np.diff(np.concatenate([starts, [v.size]]))
    return NumericStats(
        tail_low=float(q[0]),
        q1=float(q[1]),
        median=med,
        q3=float(q[3]),
        tail_high=float(q[4]),
        mad=mad,
        robust_scale=scale,
        shift=float(v.mean()),
        deciles=quantile_edges(v, 10),
        strata_edges=quantile_edges(v, numeric_bins),
        distinct_in_profile=int(starts.size),
        repeats=bool(starts.size < v.size),
        mode_share=float(runs.max() / v.size),
    )
