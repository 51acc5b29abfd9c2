"""Matched-size samples of the embeddings for nearest-neighbour statistics.

Coverage and distance to closest record depend on how many rows take part, so the
candidate and the holdout (the null baseline) are cut to the same size before either is
compared with the reference.
"""

from __future__ import annotations

import numpy as np

from . import features
from .inputs import Comparison


def matched(cmp: Comparison) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference, candidate, holdout) embedding rows; candidate and holdout of equal size."""
    seed, cap = cmp.config.seed, cmp.config.knn_rows
    ref = features.subsample(features.embedding(cmp, "reference"), cap, seed)
    cand = features.embedding(cmp, "candidate")
    hold = features.embedding(cmp, "holdout")
    size = min(cap, cand.shape[0], hold.shape[0])
    return ref, features.subsample(cand, size, seed + 1), features.subsample(hold, size, seed + 2)
