"""Mode collapse by deletion: the candidate keeps only the rows of its largest modes.

Modes are k-means clusters learned on the reference; the rarest modes go first, as they do
when a generator collapses. Shared by tables (standardised numeric features) and text
(TF-IDF vectors).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from benchmarks.collapse_suite.case import Injected

#: Number of modes the reference is cut into.
MODES = 4


def keep_largest_modes(
    reference_features: np.ndarray,
    candidate_features: np.ndarray,
    dropped: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Positions of the candidate rows that lie in the `MODES - dropped` largest reference
    modes, and how many rows were dropped."""
    model = KMeans(n_clusters=MODES, n_init=4, random_state=seed).fit(reference_features)
    sizes = np.bincount(model.labels_, minlength=MODES)
    kept_modes = np.argsort(-sizes, kind="stable")[: MODES - int(dropped)]
    kept = np.flatnonzero(np.isin(model.predict(candidate_features), kept_modes))
    return kept, candidate_features.shape[0] - len(kept)


def drop_modes(candidate, reference_features, candidate_features, dropped: int, seed: int):
    """The candidate without the rows of its `dropped` smallest modes (`Injected`)."""
    kept, removed = keep_largest_modes(reference_features, candidate_features, dropped, seed)
    out = candidate.iloc[kept].reset_index(drop=True)
    return Injected(out, np.zeros(0, dtype=np.int64), removed_rows=removed)
