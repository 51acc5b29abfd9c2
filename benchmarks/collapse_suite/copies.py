"""Rows of a candidate replaced by copies: exact duplicates, near duplicates, memorised rows.

Replacing (rather than appending) keeps the candidate's size, so a size change never gives a
defect away. Shared by tables and text, where a row is a record or a document.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.case import Injected

#: Near duplicates: Gaussian noise of this fraction of a numeric column's spread.
NEAR_DUPLICATE_NOISE = 0.01

Perturb = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


def copy_rows(
    candidate: pd.DataFrame,
    rate: float,
    rng: np.random.Generator,
    *,
    source: pd.DataFrame | None = None,
    perturb: Perturb | None = None,
) -> Injected:
    """Replace `rate` of the candidate's rows by copies of other rows.

    Without `source` the copies come from the candidate's own untouched rows (duplicates);
    with it, from `source` (the reference: memorised rows). `perturb` edits the copies
    slightly (near duplicates). The replaced rows are the defective ones.
    """
    n = len(candidate)
    count = max(1, round(rate * n))
    targets = np.sort(rng.choice(n, size=count, replace=False))
    if source is None:
        source = candidate
        pool = np.setdiff1d(np.arange(n), targets)
    else:
        pool = np.arange(len(source))
    picks = rng.choice(pool, size=count, replace=len(pool) < count)
    copies = source.iloc[picks].reset_index(drop=True)
    if perturb is not None:
        copies = perturb(copies, rng)
    out = candidate.copy()
    for column in out.columns:
        out.loc[targets, column] = copies[column].to_numpy()
    return Injected(out, targets)
