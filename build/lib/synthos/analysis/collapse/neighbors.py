"""Exact nearest neighbours through FAISS (flat L2 index, float32, brute force on samples).

The samples are a few thousand rows per side, where an exact flat search is both fast and
free of the recall error of approximate indexes; what scales with the data (exact
duplicates) is hashed in the engine instead.
"""

from __future__ import annotations

import numpy as np


def _faiss():
    import faiss

    return faiss


def search(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances from each query to its k nearest rows of `base`, ascending, and
    those rows' positions in `base`."""
    faiss = _faiss()
    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    squared, ids = index.search(queries, min(k, base.shape[0]))
    return np.sqrt(np.maximum(squared, 0.0)), ids


def knn(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distances from each query to its k nearest rows of `base`, ascending."""
    return search(base, queries, k)[0]


def nearest_other(rows: np.ndarray, k: int = 1) -> np.ndarray:
    """Distances from each row to its k nearest *other* rows of the same set (the first hit,
    at distance 0, is the row itself or an exact duplicate that ties with it, and the
    duplicate's zero then still shows in the next column)."""
    return knn(rows, rows, k + 1)[:, 1:]


def support_radius(reference: np.ndarray, k: int) -> np.ndarray:
    """Each reference row's distance to its k-th nearest other reference row: the radius
    of its k-NN ball, the local extent of the reference's support."""
    return nearest_other(reference, k)[:, -1]


def coverage(reference: np.ndarray, radius: np.ndarray, other: np.ndarray) -> float:
    """Share of reference rows whose k-NN ball holds at least one row of `other` (Naeem et
    al. 2020)."""
    nearest = knn(other, reference, 1)[:, 0]
    return float(np.mean(nearest <= radius))


def precision(
    reference: np.ndarray, radius: np.ndarray, other: np.ndarray, search: int = 10
) -> float:
    """Share of `other` rows inside at least one reference row's k-NN ball (Kynkaanniemi et
    al. 2019), checked against each row's `search` nearest reference rows."""
    faiss = _faiss()
    base = np.ascontiguousarray(reference, dtype=np.float32)
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    queries = np.ascontiguousarray(other, dtype=np.float32)
    squared, ids = index.search(queries, min(search, len(base)))
    inside = np.sqrt(np.maximum(squared, 0.0)) <= radius[ids]
    return float(np.mean(inside.any(axis=1)))
