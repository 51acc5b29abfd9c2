"""Rows as vectors, and what their nearest neighbours say: near copies, memorised rows,
lost support.

Embedding (fitted on a *basis* dataset: the dataset itself, or the reference when one is
compared): tables as numeric columns centred on the basis's median and divided by its
standard deviation, plus one-hot levels of the 16 commonest categories scaled by 1/sqrt(2)
(a differing category counts like one standard deviation); text as TF-IDF of words hashed
into 4,096 buckets, reduced to 48 dimensions by truncated SVD and L2-normalised; series as
windows of WINDOW standardised increments, one per step. At most NEIGHBOUR_ROWS rows take part,
the first ones of the sample (which is keyed by content, so the same data gives the same
rows).

Within one dataset (`self_nearness`): near_duplicate_share is the share of rows whose
nearest other row lies within NEAR_FRACTION of the median nearest-neighbour distance
(exact copies included); nn_spread is log((q10 + e) / (median + e)) of those distances.
Windows of a series that overlap are not each other's neighbours.

Against a reference (`reference_nearness`): close_copy_share is the share of candidate
rows within NEAR_FRACTION of the reference's own median nearest-neighbour distance of some
reference row; dcr_ratio is log(median distance to the closest reference row / that
median); coverage and precision are the k-NN support measures of Naeem et al. (2020) and
Kynkaanniemi et al. (2019), on equal numbers of rows of each side (tables and text).
"""

from __future__ import annotations

import math

import numpy as np

from synthos.analysis.collapse import neighbors

from .reading import DatasetSample

NEIGHBOUR_ROWS = 4_000
NEAR_FRACTION = 0.1
EMBED_LEVELS = 16
TEXT_COMPONENTS = 48
#: Hashed word buckets of the text embedding (few enough for a fast SVD).
HASHED_WORDS = 2**12
WINDOW = 8
SUPPORT_K = 5


class Embedding:
    """Fitted on a basis dataset; `rows(sample)` embeds any dataset of the same kind."""

    def __init__(self, basis: DatasetSample, seed: int = 0) -> None:
        self.modality = basis.modality
        self.seed = seed
        if basis.modality == "text":
            self._fit_text(basis)
        else:
            self._fit_table(basis)

    def _fit_table(self, basis: DatasetSample) -> None:
        self.numeric = {}
        for column in basis.numeric_columns:
            x = basis.numbers(column)
            sd = float(np.std(x)) if x.size else 0.0
            self.numeric[column] = (float(np.median(x)) if x.size else 0.0, sd if sd > 0 else 1.0)
        self.levels = {}
        if basis.modality == "tabular":
            for column in basis.categorical_columns:
                names, counts = np.unique(basis.labels(column), return_counts=True)
                order = np.lexsort((names, -counts))
                self.levels[column] = list(names[order][:EMBED_LEVELS])

    def _fit_text(self, basis: DatasetSample) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        from .text_stats import tokenize

        self.tokenize = tokenize
        self.vectorizer = HashingVectorizer(
            n_features=HASHED_WORDS, analyzer=lambda doc: doc, alternate_sign=False, norm=None
        )
        counts = self.vectorizer.transform(tokenize(basis.texts()[:NEIGHBOUR_ROWS]))
        self.tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
        weighted = self.tfidf.transform(counts)
        components = max(2, min(TEXT_COMPONENTS, weighted.shape[0] - 1, weighted.shape[1] - 1))
        self.svd = TruncatedSVD(components, random_state=self.seed).fit(weighted)

    def rows(self, sample: DatasetSample) -> np.ndarray:
        """(rows, dims) float32 vectors of the first NEIGHBOUR_ROWS rows (series: windows)."""
        if self.modality == "text":
            from sklearn.preprocessing import normalize

            docs = self.tokenize(sample.texts()[:NEIGHBOUR_ROWS])
            dense = self.svd.transform(self.tfidf.transform(self.vectorizer.transform(docs)))
            return normalize(dense).astype(np.float32)
        if self.modality == "time_series":
            return self._windows(sample)
        return self._table(sample)

    def _table(self, sample: DatasetSample) -> np.ndarray:
        table = sample.sample.slice(0, NEIGHBOUR_ROWS)
        blocks = []
        for column, (center, scale) in self.numeric.items():
            if column not in table.column_names:
                continue
            x = table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
            blocks.append(np.nan_to_num((x - center) / scale, nan=0.0, posinf=0.0, neginf=0.0))
        for column, levels in self.levels.items():
            if column not in table.column_names:
                continue
            labels = np.asarray(table.column(column).fill_null("\0null").to_pylist(), dtype=object)
            blocks.extend((labels == level) / math.sqrt(2.0) for level in levels)
        if not blocks:
            return np.zeros((table.num_rows, 0), dtype=np.float32)
        return np.column_stack(blocks).astype(np.float32)

    def _windows(self, sample: DatasetSample) -> np.ndarray:
        columns = [c for c in self.numeric if c in sample.sample.column_names]
        if not columns:
            return np.zeros((0, 0), dtype=np.float32)
        values = np.column_stack(
            [sample.sample.column(c).to_numpy(zero_copy_only=False) for c in columns]
        ).astype(np.float64)
        steps = np.diff(values, axis=0)
        steps = steps[np.all(np.isfinite(steps), axis=1)]
        scale = np.array([self.numeric[c][1] for c in columns])
        steps = steps / np.where(scale > 0, scale, 1.0)
        if steps.shape[0] < WINDOW:
            return np.zeros((0, WINDOW * len(columns)), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(steps, WINDOW, axis=0)
        flat = windows.reshape(windows.shape[0], -1)[:NEIGHBOUR_ROWS]
        return np.ascontiguousarray(flat, dtype=np.float32)


def nearest_other(rows: np.ndarray, overlap: int = 0) -> np.ndarray:
    """Each row's distance to its nearest other row; with `overlap`, rows fewer than
    `overlap` positions apart (overlapping windows) do not count."""
    if overlap <= 0:
        return neighbors.nearest_other(rows, 1)[:, 0]
    distances, ids = neighbors.search(rows, rows, min(rows.shape[0], 2 * overlap + 2))
    far = np.abs(ids - np.arange(rows.shape[0])[:, None]) >= overlap
    far &= ids >= 0
    masked = np.where(far, distances, np.inf)
    return masked.min(axis=1)


def self_nearness(rows: np.ndarray, overlap: int = 0) -> dict[str, float]:
    out = {"near_duplicate_share": math.nan, "nn_spread": math.nan}
    if rows.shape[0] < 10 or rows.shape[1] == 0:
        return out
    distances = nearest_other(rows, overlap)
    distances = distances[np.isfinite(distances)]
    if distances.size < 10:
        return out
    median = float(np.median(distances))
    out["near_duplicate_share"] = float(np.mean(distances <= NEAR_FRACTION * median))
    eps = 1e-6 + 1e-3 * median
    out["nn_spread"] = math.log((float(np.quantile(distances, 0.1)) + eps) / (median + eps))
    return out


def reference_nearness(cand: np.ndarray, ref: np.ndarray, overlap: int = 0) -> dict[str, float]:
    keys = ("close_copy_share", "dcr_ratio", "coverage", "precision")
    out = dict.fromkeys(keys, math.nan)
    if min(cand.shape[0], ref.shape[0]) < 10 or ref.shape[1] == 0:
        return out
    own = nearest_other(ref, overlap)
    own = own[np.isfinite(own)]
    if own.size == 0:
        return out
    median = float(np.median(own))
    dcr = neighbors.knn(ref, cand, 1)[:, 0]
    out["close_copy_share"] = float(np.mean(dcr <= NEAR_FRACTION * median))
    eps = 1e-6 + 1e-3 * median
    out["dcr_ratio"] = math.log((float(np.median(dcr)) + eps) / (median + eps))
    if overlap == 0:
        size = min(cand.shape[0], ref.shape[0])
        ref_part, cand_part = ref[:size], cand[:size]
        radius = neighbors.support_radius(ref_part, SUPPORT_K)
        out["coverage"] = neighbors.coverage(ref_part, radius, cand_part)
        out["precision"] = neighbors.precision(ref_part, radius, cand_part)
    return out
