"""Stratified sub-samples of training units (documents, rows, windows) for data budgets.

Cascade variants train on different sub-samples of the same training split; every stratum
keeps at least one unit, so small variants still see every kind of example, and the
held-out splits stay identical across variants.
"""

from __future__ import annotations

import numpy as np


def quantile_buckets(values: np.ndarray, n_buckets: int = 8) -> np.ndarray:
    """Bucket index per value by quantiles (e.g. document lengths, window positions)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_buckets + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def stratified_subsample(strata: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of about `fraction` of the units, proportional per stratum, >= 1 each."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    strata = np.asarray(strata)
    if fraction == 1:
        return np.arange(len(strata))
    rng = np.random.default_rng(seed)
    chosen = []
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        take = max(1, round(fraction * len(members)))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))
