"""Exact and near duplicates within the candidate (tables and text).

Exact duplicates: rows with the same hash over every common column (hashed in the engine,
every row). Near duplicates, on the embedding, two statistics: the distance to the nearest other
candidate row over the distance to the second nearest (a pair stands out wherever it lies,
dense region or sparse), and the distance to the nearest other row itself (a group of
several near-identical rows, whose second neighbour is as close as the first, still stands
out; a small cluster of distinct rows far from the rest does not); each through its own
null, the smaller p-value twice (Bonferroni). An exact twin gives 0. The null is the reference's own
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


def _statistics(distances: np.ndarray) -> np.ndarray:
    """(rows, 2): nearest over second-nearest distance, and the nearest distance itself
    scaled into [0, 1) (d / (1 + d): both are "small is suspicious", 0 for a twin)."""
    nearest = distances[:, 0]
    return np.column_stack([neighbors.distance_ratio(distances[:, :2]), nearest / (1.0 + nearest)])


def duplicate_evidence(view: RowView, emb: Embeddings, config: LocalizeConfig) -> Evidence:
    groups = exact_groups(view.row_hashes)
    n = view.rows
    ratios = np.ones((n, 2))
    partner = np.full(n, -1, dtype=np.int64)
    searched = emb.usable and n > 2
    if searched:
        distances, ids = neighbors.nearest_others(emb.candidate, 2, config.seed)
        ratios = _statistics(distances)
        partner = ids[:, 0]
    ratios[groups >= 0] = 0.0
    summary: dict = {"rows": n, "exact_duplicate_rows": int(np.sum(groups >= 0))}
    if emb.has_reference and len(emb.reference) > 2:
        null = _statistics(neighbors.nearest_others(emb.reference, 2, config.seed)[0])
        each = [ratio_pvalues(ratios[:, j], null[:, j]) for j in range(2)]
        summary["baseline"] = f"the reference's own ratios, each row held out ({len(null)} rows)"
    else:
        each = []
        for j in range(2):
            own = ratios[ratios[:, j] > 0, j]
            each.append(ratio_pvalues(ratios[:, j], own if own.size else ratios[:, j], twins=0.0))
        summary["baseline"] = "none (no reference): the candidate's own ratios; any repeat counts"
    p = np.minimum(1.0, 2 * np.minimum(*each))
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
            "duplicate_ratio": ratios[:, 0],
        },
        affected_columns=list(view.cmp.candidate.column_names),
        groups=linked,
        summary=summary,
    )
