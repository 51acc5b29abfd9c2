"""Modality views of the samples, computed once per comparison and shared by the dimensions.

* values / labels: one column's finite numbers or string labels.
* tokens: lower-cased word tokens per document (text), capped per document.
* increments: first differences of the value columns along time (series). Levels of a
  series drift (trend), so two real stretches differ in level while their increments share
  one distribution; every series statistic works on increments.
* embedding: rows as vectors for nearest neighbours and classifiers. Tabular rows are
  standardised by the reference (the candidate when there is none) (categories one-hot
  over its most frequent levels, scaled so a differing category counts like one standard
  deviation); text as TF-IDF of hashed words reduced by truncated SVD fitted on equal
  shares of every side; series as windows of standardised increments, half a window apart
  (`effective_rows` discounts their overlap in noise allowances).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from synthos.analysis.strata import NULL

from .inputs import Comparison
from .marginals import series_distance
from .stats import adjusted_z

TOKEN = re.compile(r"\w+", re.UNICODE)
SIDES = ("candidate", "reference", "holdout")
FULL_REFERENCE = "full_reference"
#: One-hot levels per categorical column in the embedding.
EMBED_LEVELS = 16
#: Dimensions of the text embedding.
TEXT_COMPONENTS = 48
#: Independent draws' worth of levels per stretch before a series' levels are compared.
MIN_LEVEL_DRAWS = 20


def table(cmp: Comparison, side: str) -> pa.Table:
    """A side's sample; "full_reference" is the reference with its holdout (in time order for
    a series), for statistics that need every real row they can get and no null baseline."""
    if side == FULL_REFERENCE:
        if cmp.reference is None or cmp.holdout is None:
            raise ValueError("no reference in this comparison")
        return cached(
            cmp, (FULL_REFERENCE,), lambda: pa.concat_tables([cmp.reference, cmp.holdout])
        )
    out = {"candidate": cmp.candidate, "reference": cmp.reference, "holdout": cmp.holdout}[side]
    if out is None:
        raise ValueError(f"no {side} in this comparison")
    return out


def baseline(side: str) -> str:
    """What `side` is compared with: the candidate with every real row (the full
    reference), the holdout with the rest of the reference, from which it is disjoint."""
    return FULL_REFERENCE if side == "candidate" else "reference"


def _present(cmp: Comparison, side: str) -> bool:
    return getattr(cmp, side) is not None


def cached(cmp: Comparison, key: tuple, build) -> Any:
    if key not in cmp.cache:
        cmp.cache[key] = build()
    return cmp.cache[key]


def values(cmp: Comparison, side: str, column: str) -> np.ndarray:
    """Finite numbers of a numeric column."""
    raw = table(cmp, side).column(column).to_numpy(zero_copy_only=False).astype(np.float64)
    return raw[np.isfinite(raw)]


def labels(cmp: Comparison, side: str, column: str) -> np.ndarray:
    """Labels of a categorical column, missing values as their own label."""
    raw = table(cmp, side).column(column).fill_null(NULL)
    return np.asarray(raw.to_numpy(zero_copy_only=False), dtype=object)


def tokens(cmp: Comparison, side: str) -> list[list[str]]:
    def build() -> list[list[str]]:
        cap = cmp.config.max_tokens_per_doc
        texts = table(cmp, side).column(cmp.text_column).to_pylist()
        return [TOKEN.findall(text.lower())[:cap] if text else [] for text in texts]

    return cached(cmp, ("tokens", side), build)


def token_stream(cmp: Comparison, side: str, budget: int | None = None) -> list[str]:
    """The documents' tokens end to end, cut at `budget` tokens (equal budgets make
    vocabulary statistics comparable)."""
    out: list[str] = []
    for doc in tokens(cmp, side):
        out.extend(doc)
        if budget is not None and len(out) >= budget:
            return out[:budget]
    return out


def common_token_budget(cmp: Comparison, sides: tuple[str, ...]) -> int:
    return min(sum(len(d) for d in tokens(cmp, s)) for s in sides)


def token_counts(cmp: Comparison, side: str, budget: int | None = None) -> Counter:
    return Counter(token_stream(cmp, side, budget))


def entities(cmp: Comparison, side: str) -> np.ndarray | None:
    """A panel's entity of each row of `side` (as strings), None for anything else."""
    if cmp.entity_column is None:
        return None

    def build() -> np.ndarray:
        column = table(cmp, side).column(cmp.entity_column).cast(pa.string()).fill_null("")
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)

    return cached(cmp, ("entities", side), build)


def segments(cmp: Comparison, side: str) -> list[np.ndarray]:
    """(steps - 1, channels) first differences of the value columns of each series (one
    per entity of a panel; rows sorted by entity, then time), rows with a missing value
    dropped. Differences never span two entities."""

    def build() -> list[np.ndarray]:
        data = table(cmp, side)
        columns = [
            data.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in cmp.numeric_columns
        ]
        if not columns or data.num_rows < 3:
            return []
        values = np.column_stack(columns)
        owners = entities(cmp, side)
        if owners is None:
            parts = [values]
        else:
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            parts = np.split(values, starts[1:])
        out = []
        for part in parts:
            diffs = np.diff(part, axis=0)
            diffs = diffs[np.all(np.isfinite(diffs), axis=1)]
            if diffs.shape[0]:
                out.append(diffs)
        return out

    return cached(cmp, ("segments", side), build)


def increments(cmp: Comparison, side: str) -> np.ndarray:
    """(steps - 1, channels) first differences of the value columns, rows with a missing
    value dropped; a panel's series end to end (`segments`)."""

    def build() -> np.ndarray:
        parts = segments(cmp, side)
        if not parts:
            return np.zeros((0, len(cmp.numeric_columns)))
        return np.vstack(parts)

    return cached(cmp, ("increments", side), build)


def segment_length(cmp: Comparison) -> int:
    """Median increments per series of the base side (a panel's entities are short)."""
    parts = segments(cmp, base_side(cmp))
    return int(np.median([len(p) for p in parts])) if parts else 0


def value_rows(cmp: Comparison, side: str) -> np.ndarray:
    """(rows, numeric columns) values of a side, rows with a missing value dropped."""

    def build() -> np.ndarray:
        data = table(cmp, side)
        columns = [
            data.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in cmp.numeric_columns
        ]
        if not columns:
            return np.zeros((data.num_rows, 0))
        rows = np.column_stack(columns)
        return rows[np.all(np.isfinite(rows), axis=1)]

    return cached(cmp, ("value_rows", side), build)


def levels(cmp: Comparison, side: str) -> np.ndarray | None:
    """(steps, channels) values of a series whose levels are stationary, else None.

    Levels of a drifting series differ between any two stretches, so they are only
    compared when the reference's own two stretches (reference and holdout) agree on every
    channel's level distribution (`marginals.series_distance` within noise)
    and each holds at least MIN_LEVEL_DRAWS independent draws' worth of levels (a trend or
    a random walk has only a handful, and then any two stretches "agree" within noise)."""
    if not cached(cmp, ("stationary_levels",), lambda: _stationary_levels(cmp)):
        return None
    return value_rows(cmp, side)


def _stationary_levels(cmp: Comparison) -> bool:

    if cmp.modality != "time_series" or not cmp.has_reference or not cmp.numeric_columns:
        return False
    z = adjusted_z(cmp.config.z, len(cmp.numeric_columns))
    for column in cmp.numeric_columns:
        a, b = values(cmp, "reference", column), values(cmp, "holdout", column)
        if min(a.size, b.size) < MIN_LEVEL_DRAWS:
            return False
        found = series_distance(a, b, z)
        if min(found["effective_sizes"]) < MIN_LEVEL_DRAWS or found["score"] < 100:
            return False
    return True


def base_side(cmp: Comparison) -> str:
    """The data every embedding is fitted on."""
    return "reference" if cmp.has_reference else "candidate"


def embedding(cmp: Comparison, side: str) -> np.ndarray:
    """Rows of `side` as float32 vectors (see the module docstring)."""
    return cached(cmp, ("embedding", side), lambda: _embed(cmp, side))


def window_length(cmp: Comparison) -> int:
    """Steps per window: a twentieth of the series, 4 to 16; within a panel's entities at
    most half an entity's series (at least 2)."""
    n = increments(cmp, base_side(cmp)).shape[0]
    length = int(np.clip(n // 20, 4, 16))
    if cmp.entity_column is not None:
        length = max(2, min(length, segment_length(cmp) // 2))
    return length


def _embed(cmp: Comparison, side: str) -> np.ndarray:
    if cmp.modality == "text":
        return _text_embedding(cmp, side)
    if cmp.modality == "time_series":
        return series_windows(cmp, side, window_stride(cmp))
    return _tabular_embedding(cmp, side)


def _tabular_embedding(cmp: Comparison, side: str) -> np.ndarray:
    base = base_side(cmp)

    def fit() -> dict[str, Any]:
        spec: dict[str, Any] = {}
        for column in cmp.numeric_columns:
            x = values(cmp, base, column)
            center = float(np.median(x)) if x.size else 0.0
            scale = float(np.std(x)) if x.size else 1.0
            spec[column] = (center, scale if scale > 0 else 1.0)
        for column in cmp.categorical_columns:
            names, counts = np.unique(labels(cmp, base, column), return_counts=True)
            spec[column] = list(names[np.argsort(-counts, kind="stable")][:EMBED_LEVELS])
        return spec

    spec = cached(cmp, ("tabular_spec",), fit)
    data = table(cmp, side)
    blocks = []
    for column in cmp.numeric_columns:
        center, scale = spec[column]
        x = data.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
        blocks.append(np.nan_to_num((x - center) / scale, nan=0.0, posinf=0.0, neginf=0.0)[:, None])
    for column in cmp.categorical_columns:
        observed = labels(cmp, side, column)
        levels = spec[column]
        onehot = np.stack([observed == level for level in levels], axis=1).astype(np.float64)
        blocks.append(onehot / np.sqrt(2.0))
    if not blocks:
        return np.zeros((data.num_rows, 0), dtype=np.float32)
    return np.hstack(blocks).astype(np.float32)


def _text_embedding(cmp: Comparison, side: str) -> np.ndarray:
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    vectorizer = HashingVectorizer(
        n_features=2**16, analyzer=lambda doc: doc, alternate_sign=False, norm=None
    )

    def fit():
        from sklearn.decomposition import TruncatedSVD

        # Fitted on equal shares of every side: a basis fitted on one side alone represents
        # that side's own documents better than unseen ones, which a discriminator notices.
        sides = [s for s in SIDES if _present(cmp, s)]
        share = max(1, cmp.config.knn_rows // len(sides))
        docs = [doc for s in sides for doc in tokens(cmp, s)[:share]]
        counts = vectorizer.transform(docs)
        tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
        weighted = tfidf.transform(counts)
        components = max(2, min(TEXT_COMPONENTS, weighted.shape[0] - 1, weighted.shape[1] - 1))
        svd = TruncatedSVD(components, random_state=cmp.config.seed).fit(weighted)
        return tfidf, svd

    tfidf, svd = cached(cmp, ("text_spec",), fit)
    weighted = tfidf.transform(vectorizer.transform(tokens(cmp, side)))
    return normalize(svd.transform(weighted)).astype(np.float32)


def series_windows(
    cmp: Comparison, side: str, stride: int = 1, length: int | None = None, pairs: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Sliding windows of `length` increments (default `window_length`), standardised by
    the base side's spread, flattened (oldest step first), every `stride` steps, never
    across two entities of a panel. `pairs`: each window but the last of its series, and
    the step that follows it."""
    base = increments(cmp, base_side(cmp))
    scale = np.std(base, axis=0) if base.size else np.ones(base.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    w = length or window_length(cmp)
    channels = len(cmp.numeric_columns)
    rows, following = [], []
    for part in segments(cmp, side):
        steps = part / scale
        if steps.shape[0] < w + (1 if pairs else 0):
            continue
        windows = np.lib.stride_tricks.sliding_window_view(steps, w, axis=0)
        # sliding_window_view puts the window axis last: (windows, channels, w) -> steps first
        flat = np.swapaxes(windows, 1, 2).reshape(windows.shape[0], -1)
        if pairs:
            rows.append(flat[:-1])
            following.append(steps[w:])
        else:
            rows.append(flat[::stride])
    if not rows:
        empty = np.zeros((0, w * channels), dtype=np.float32)
        return (empty, np.zeros((0, channels), dtype=np.float32)) if pairs else empty
    stacked = np.vstack(rows).astype(np.float32)
    if pairs:
        return stacked, np.vstack(following).astype(np.float32)
    return stacked


def window_stride(cmp: Comparison) -> int:
    """Stride of the series embedding: half a window, so neighbouring rows share half
    their steps rather than all but one."""
    return max(1, window_length(cmp) // 2)


def effective_rows(cmp: Comparison, rows: int) -> float:
    """Rows' worth of independent evidence: overlapping series windows count for less."""
    if cmp.modality != "time_series":
        return float(rows)
    return max(1.0, rows * window_stride(cmp) / window_length(cmp))


def subsample(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """At most `size` rows, drawn without replacement (all rows when fewer)."""
    if rows.shape[0] <= size:
        return rows
    pick = np.random.default_rng(seed).choice(rows.shape[0], size=size, replace=False)
    return rows[np.sort(pick)]
