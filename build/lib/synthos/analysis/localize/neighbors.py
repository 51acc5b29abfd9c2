"""Nearest neighbours for every row: exact on small sets, an inverted-file index on large ones.

The detector searches a few thousand sampled rows exactly (`collapse.neighbors`); the
localizer scores every row, so beyond `EXACT_PAIRS` query-base pairs a FAISS IVF-Flat index
(k-means cells trained on a seeded sample, `NPROBE` cells visited per query) keeps a million
rows to seconds. Near duplicates and copies sit in the same cell as their source, so the
approximation costs them nothing; what it can miss is a far neighbour at a cell border,
which only makes a distance ratio slightly larger (less suspicious), never smaller.
"""

from __future__ import annotations

import math

import numpy as np

from synthos.analysis.collapse import neighbors as exact

#: Above this many query x base pairs the search goes through an IVF index.
EXACT_PAIRS = 400_000_000
#: Cells visited per query, and training rows per cell for the cell centroids.
NPROBE = 8
TRAIN_PER_CELL = 40


def search(base: np.ndarray, queries: np.ndarray, k: int, seed: int = 0):
    """(distances, ids) of each query's k nearest rows of `base`, ascending; ids of -1 (at
    an infinite distance) where a query's cells held fewer than k rows."""
    if len(base) * len(queries) <= EXACT_PAIRS or len(base) < 4 * TRAIN_PER_CELL:
        return exact.search(base, queries, k)
    import faiss

    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    cells = int(np.clip(2 * math.sqrt(len(base)), 16, 8192))
    quantizer = faiss.IndexFlatL2(base.shape[1])
    index = faiss.IndexIVFFlat(quantizer, base.shape[1], cells)
    rng = np.random.default_rng(seed)
    train = base[rng.choice(len(base), size=min(len(base), cells * TRAIN_PER_CELL), replace=False)]
    index.train(train)
    index.add(base)
    index.nprobe = NPROBE
    squared, ids = index.search(queries, min(k, len(base)))
    distances = np.sqrt(np.maximum(squared, 0.0))
    return np.where(ids < 0, np.inf, distances), ids


def nearest_others(rows: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(distances, ids) of each row's k nearest *other* rows of the same set, ascending.
    The row itself is removed by position; exact twins tie with it at 0 and stay."""
    distances, ids = search(rows, rows, k + 1, seed)
    own = ids == np.arange(len(rows))[:, None]
    # A row missing from its own hit list (a tie pushed it out) loses its last hit instead.
    missing = ~own.any(axis=1)
    own[missing, -1] = True
    shape = (len(rows), k)
    return distances[~own].reshape(shape), ids[~own].reshape(shape)


def distance_ratio(distances: np.ndarray) -> np.ndarray:
    """Nearest over farthest of the given neighbour distances (0 for an exact match, 1 when
    a row has too few neighbours to compare)."""
    first, last = distances[:, 0], distances[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((last > 0) & np.isfinite(last), first / last, 1.0)
    return np.where(first <= 0, 0.0, ratio)
