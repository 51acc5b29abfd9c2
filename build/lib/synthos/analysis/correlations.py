"""Correlation helpers: Pearson from engine co-moments, bias-corrected Cramer's V.

Pearson is exact over all rows: the engine returns, for shifts s_i (the profile means),
``S_i = sum(x_i - s_i)``, ``SS_i = sum((x_i - s_i)**2)`` and ``P_ij = sum((x_i - s_i)(x_j - s_j))``,
and ``r = (P_ij - S_i S_j / n) / sqrt((SS_i - S_i**2 / n)(SS_j - S_j**2 / n))`` (shifting by
a value near the mean keeps this numerically stable; one scan shares these sums, which is
faster than the engine's ``corr`` per pair). Pairs with missing values use the engine's
``corr`` over their complete rows instead. Spearman (pandas, average ranks) and
Cramer's V run on the profile sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .strata import NULL, OTHER


def pearson_from_moments(
    n: int,
    sum_a: float | None,
    sum_b: float | None,
    squares_a: float | None,
    squares_b: float | None,
    product: float | None,
) -> float | None:
    """Pearson r from shifted sums ``S``, squares ``SS`` and the co-moment ``P`` of n rows."""
    if n < 2:
        return None
    si, sj = sum_a or 0.0, sum_b or 0.0
    if product is None or squares_a is None or squares_b is None:
        return None
    cov = product - si * sj / n
    vi = squares_a - si * si / n
    vj = squares_b - sj * sj / n
    if vi <= 0 or vj <= 0:
        return None
    return float(max(-1.0, min(1.0, cov / math.sqrt(vi * vj))))


def capped(values: pa.ChunkedArray | pa.Array, levels: Sequence[str]) -> np.ndarray:
    """String labels of a categorical column: kept levels, ``<other>`` and ``<null>``."""
    values = values.cast(pa.string())
    keep = pa.array(list(levels), type=pa.string())
    kept = pc.is_in(values, value_set=keep)
    labelled = pc.if_else(kept, values, pa.scalar(OTHER))
    labelled = pc.if_else(pc.is_null(values), pa.scalar(NULL), labelled)
    return np.asarray(labelled.to_numpy(zero_copy_only=False), dtype=object)


def codes(labels: np.ndarray) -> np.ndarray:
    """Integer codes 0..k-1 of an array of labels."""
    return np.unique(labels.astype(str), return_inverse=True)[1].ravel()


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Bias-corrected Cramer's V (Bergsma 2013) of two coded categorical arrays."""
    n = a.size
    ka, kb = int(a.max()) + 1 if n else 0, int(b.max()) + 1 if n else 0
    if n < 2 or ka < 2 or kb < 2:
        return None
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    rows = table.sum(axis=1, keepdims=True)
    cols = table.sum(axis=0, keepdims=True)
    expected = rows @ cols / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.nansum((table - expected) ** 2 / np.where(expected > 0, expected, np.nan)))
    phi2 = chi2 / n
    r_eff = int((rows > 0).sum())
    c_eff = int((cols > 0).sum())
    phi2c = max(0.0, phi2 - (c_eff - 1) * (r_eff - 1) / (n - 1))
    rc = r_eff - (r_eff - 1) ** 2 / (n - 1)
    cc = c_eff - (c_eff - 1) ** 2 / (n - 1)
    denom = min(rc - 1, cc - 1)
    if denom <= 0:
        return None
    return float(min(1.0, math.sqrt(phi2c / denom)))
