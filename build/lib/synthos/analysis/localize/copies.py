"""Copies of reference rows: memorised records (tables and text).

Exact copies: a candidate row whose hash over the common columns matches any reference row
(every reference row is hashed). Near copies: the distance to the closest reference record
over the distance to the K-th closest (a copy sits far closer to one record than to the
next; a row in a dense region does not), against each reference row's ratio to the other
reference rows (held out in turn: a real row judged the same way), through
`pvalues.ratio_pvalues`; the reference's own exact twins set the point mass at 0 (tables of
few distinct values repeat real rows naturally).
"""

from __future__ import annotations

import numpy as np

from . import neighbors
from .config import LocalizeConfig
from .embeddings import Embeddings
from .evidence import Evidence
from .pvalues import ratio_pvalues
from .rows import RowView

NAME = "reference_copies"


def copy_evidence(view: RowView, emb: Embeddings, config: LocalizeConfig) -> Evidence:
    k = config.neighbours
    exact = np.zeros(view.rows, dtype=bool)
    if view.reference_hashes is not None and view.reference_hashes.size:
        at = np.searchsorted(view.reference_hashes, view.row_hashes)
        at = np.minimum(at, view.reference_hashes.size - 1)
        exact = view.reference_hashes[at] == view.row_hashes
    ratios = np.ones(view.rows)
    searched = emb.usable and len(emb.reference) > k + 1
    if searched:
        found, _ = neighbors.search(emb.reference, emb.candidate, k, config.seed)
        ratios = neighbors.distance_ratio(found)
        null = neighbors.distance_ratio(neighbors.nearest_others(emb.reference, k, config.seed)[0])
    else:
        null = np.zeros(0)
    ratios[exact] = 0.0
    p = ratio_pvalues(ratios, null) if null.size else np.where(exact, 0.0, 1.0)
    return Evidence(
        NAME,
        "memorized",
        p,
        columns={"reference_copy": exact, "reference_copy_ratio": ratios},
        affected_columns=list(view.cmp.candidate.column_names),
        summary={
            "exact_copies": int(exact.sum()),
            "reference_rows_hashed": int(view.cmp.counts.get("reference_rows") or 0),
            "reference_rows_searched": len(emb.reference),
            "baseline": f"the reference's own ratios, each row held out ({len(null)} rows)",
        },
    )
