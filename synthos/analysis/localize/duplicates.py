"""Exact and near duplicates within the candidate (tables and text).

Exact duplicates: rows with the same hash over every common column (hashed in the engine,
every row). Near duplicates: each row's nearest other candidate row over its K-th nearest
(`neighbours`), on the embedding; an exact twin gives 0. The null is the reference's own
within-set ratios (each reference row held out against the others: a real sample of the
same distribution, judged the same way), through `pvalues.ratio_pvalues`; its exact twins
set the point mass at 0, so a table whose real rows repeat (few distinct values) does not
flag every repeat. Without a reference the candidate's own ratios set the model and any
exact repeat counts (real data's rate is unknown there). Every member of a duplicate group
is flagged, the first one too: which copy to keep is the fix's decision (the recommender
keeps the first).
"""

from __future__ import annotations

import numpy as np

from . import neighbors
from .config import LocalizeConfig
from .embeddings import Embeddings
from .evidence import Evidence
from .pvalues import ratio_pvalues
from .rows import RowView

NAME = "near_duplicates"
#: p-value under which a near duplicate joins its nearest row's group (for regions).
LINK_P = 0.01


def exact_groups(hashes: np.ndarray) -> np.ndarray:
    """Per row, its exact-duplicate group (numbered by first appearance), -1 when unique."""
    _, first, inverse, counts = np.unique(
        hashes, return_index=True, return_inverse=True, return_counts=True
    )
    repeated = counts[inverse] > 1
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    groups = rank[inverse]
    _, dense = np.unique(groups[repeated], return_inverse=True)
    out = np.full(hashes.size, -1, dtype=np.int64)
    out[repeated] = dense
    return out


def _link(groups: np.ndarray, partner: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Groups with each near-duplicate row joined to its nearest other row: connected
    components of the exact groups plus those links, numbered densely (-1: alone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = groups.size
    order = np.argsort(groups, kind="stable")
    same = (groups[order][1:] == groups[order][:-1]) & (groups[order][1:] >= 0)
    rows = [order[1:][same], np.flatnonzero(near & (partner >= 0))]
    cols = [order[:-1][same], partner[near & (partner >= 0)]]
    edges = coo_matrix(
        (np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    _, labels = connected_components(edges, directed=False)
    size = np.bincount(labels, minlength=n)[labels]
    out = np.full(n, -1, dtype=np.int64)
    _, dense = np.unique(labels[size > 1], return_inverse=True)
    out[size > 1] = dense
    return out


def duplicate_evidence(view: RowView, emb: Embeddings, config: LocalizeConfig) -> Evidence:
    k = config.neighbours
    groups = exact_groups(view.row_hashes)
    n = view.rows
    ratios = np.ones(n)
    partner = np.full(n, -1, dtype=np.int64)
    searched = emb.usable and n > k
    if searched:
        distances, ids = neighbors.nearest_others(emb.candidate, k, config.seed)
        ratios = neighbors.distance_ratio(distances)
        partner = ids[:, 0]
    ratios[groups >= 0] = 0.0
    summary: dict = {"rows": n, "exact_duplicate_rows": int(np.sum(groups >= 0))}
    if emb.has_reference and len(emb.reference) > k:
        null = neighbors.distance_ratio(neighbors.nearest_others(emb.reference, k, config.seed)[0])
        p = ratio_pvalues(ratios, null)
        summary["baseline"] = f"the reference's own ratios, each row held out ({len(null)} rows)"
    else:
        own = ratios[ratios > 0]
        p = ratio_pvalues(ratios, own if own.size else ratios, twins=0.0)
        summary["baseline"] = "none (no reference): the candidate's own ratios; any repeat counts"
    summary["near_duplicate_search"] = "embedding" if searched else "not searched (too few rows)"
    near = (p <= LINK_P) & (groups < 0)
    linked = _link(groups, partner, near)
    return Evidence(
        NAME,
        "duplicate",
        p,
        columns={
            "duplicate_group": linked,
            "exact_duplicate": groups >= 0,
            "duplicate_ratio": ratios,
        },
        affected_columns=list(view.cmp.candidate.column_names),
        groups=linked,
        summary=summary,
    )
