"""Rows as vectors for the nearest-neighbour evidence (tables and text).

The detector's embedding (`collapse.features.embedding`): tabular rows standardised by the
reference (categories one-hot over its frequent levels), text as TF-IDF of hashed words
reduced by an SVD fitted on every side. The candidate is embedded in full, in file order;
the reference is the detector's whole reference sample (its part and its holdout: every
evidence holds each reference row out in turn, so all of them serve as the null).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthos.analysis.collapse import features

from .rows import RowView


@dataclass
class Embeddings:
    candidate: np.ndarray
    reference: np.ndarray | None

    @property
    def has_reference(self) -> bool:
        return self.reference is not None and len(self.reference) > 0

    @property
    def usable(self) -> bool:
        return self.candidate.shape[1] > 0


def embed(view: RowView) -> Embeddings:
    candidate = view.to_file_order(features.embedding(view.full, "candidate"))
    if not view.cmp.has_reference:
        return Embeddings(candidate, None)
    return Embeddings(candidate, features.embedding(view.cmp, features.FULL_REFERENCE))
