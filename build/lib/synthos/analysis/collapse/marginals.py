"""Distances between two samples of one column, each beyond its own sampling noise:
numeric values (KS, shifts of mean and spread), stretches of a series (at their effective
sizes) and categories (total variation). Shared by the dimensions, the series features and
the panel statistics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from .stats import (
    MIN_ROWS,
    NULL_FACTOR,
    MomentErrors,
    block_errors,
    decay_score,
    frequencies,
    ks_critical,
    mean_size,
    moment_shift,
    series_sizes,
    tv_noise,
)

#: A KS or total-variation excess of this size scores 100/e.
SCALE = 0.1
#: Excess shift of the mean in reference sds, and of log(sd), that scores 100/e.
MEAN_SCALE = 0.25
SPREAD_SCALE = 0.2


def numeric_distance(
    cand: np.ndarray,
    ref: np.ndarray,
    z: float,
    sizes: tuple[float, float] | None = None,
    errors: MomentErrors | None = None,
    ks_floor: float = 0.0,
) -> dict[str, Any]:
    """KS beyond its critical value at the effective `sizes` of autocorrelated values when
    given (at least `ks_floor`), and the shifts of mean and spread beyond their standard
    errors (`stats.moment_shift` with `errors`: far more sensitive to a moved or rescaled
    column than KS)."""
    n, m = sizes or (cand.size, ref.size)
    ks = float(sps.ks_2samp(cand, ref, method="asymp").statistic)
    critical = max(ks_critical(max(2, round(n)), max(2, round(m)), z), ks_floor)
    spread = float(np.std(ref)) or 1.0
    out = {
        "ks": ks,
        "ks_critical": critical,
        "wasserstein_over_std": float(sps.wasserstein_distance(cand, ref)) / spread,
        "effective_sizes": [n, m],
        "score": decay_score(ks - critical, SCALE),
    }
    # the normal approximations of mean and log-sd errors need a few dozen draws
    if min(n, m) >= MIN_ROWS:
        moments = moment_shift(cand, ref, z, errors)
        out.update(moments)
        out["score"] = min(
            out["score"],
            decay_score(moments["mean_excess"], MEAN_SCALE),
            decay_score(moments["scale_excess"], SPREAD_SCALE),
        )
    return out


def series_distance(
    cand: np.ndarray, ref: np.ndarray, z: float, null: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`numeric_distance` of two stretches of a series at their effective sizes
    (`stats.series_sizes`; `stats.mean_size` for the means), the errors of mean and spread
    no smaller than their spread over blocks of each stretch (`stats.block_errors`). With
    `null` (the same comparison between two real stretches), no difference counts until it
    is twice the real one: a drifting or regime-switching series differs that much between
    any two stretches."""
    sizes, spread_sizes = series_sizes(cand, ref)
    (mean_c, log_c), (mean_r, log_r) = block_errors(cand), block_errors(ref)
    floors = (math.hypot(mean_c, mean_r), math.hypot(log_c, log_r))
    ks_floor = 0.0
    if null is not None:
        floors = (
            max(floors[0], NULL_FACTOR * null.get("mean_shift", 0.0) / z),
            max(floors[1], NULL_FACTOR * null.get("log_sd_ratio", 0.0) / z),
        )
        ks_floor = NULL_FACTOR * null["ks"]
    errors = MomentErrors((mean_size(cand), mean_size(ref)), spread_sizes, floors)
    return numeric_distance(cand, ref, z, sizes, errors, ks_floor)


def categorical_distance(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any]:
    levels = sorted(set(np.unique(ref).tolist()) | set(np.unique(cand).tolist()), key=str)
    p_ref, p_cand = frequencies(ref, levels), frequencies(cand, levels)
    tv = float(0.5 * np.abs(p_ref - p_cand).sum())
    noise = tv_noise(p_ref, cand.size, ref.size, z)
    return {"tv": tv, "tv_noise": noise, "score": decay_score(tv - noise, SCALE)}
