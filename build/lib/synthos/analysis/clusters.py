"""Sample-based clusters: text cluster buckets per text column, and row clusters.

Both run on a uniform, seed-deterministic sample (the rows with the smallest hash of the
row id), because k-means over a billion rows adds nothing a 20k-row sample does not show.
Sizes are reported as the share of the sample and scaled to the dataset (``rows``).

* Text clusters: TF-IDF over character n-grams (``char_wb``, 3-4, at most 2**15 features,
  texts cut at 1,000 characters), reduced to 32 LSA components (truncated SVD) and
  L2-normalised, then MiniBatchKMeans; a cluster's top n-grams are its centroid projected
  back onto the n-grams.
* Row clusters: every analysed column in one embedding - numeric columns robustly scaled
  ((x - median) / (IQR / 1.349), clipped to +/-5, missing -> 0), categorical levels one-hot
  times 1/sqrt(2) (two different levels are at distance 1), text columns as their unit-norm
  LSA vectors - then MiniBatchKMeans.

In both, k in 2..`max_k` is the one with the best silhouette on 1,500 rows; the clusters
are then fitted on all the clustering rows, and small well-separated groups that k-means
merged into a neighbour are split off (`split_separated`), so rare patterns get a cluster
of their own.

Each cluster has a size, a centroid (numeric columns in their own units), a profile
(modal level of each categorical column, the text nearest the centroid) and a density:
``density = mean distance of all sampled rows to their centroid / mean distance of this
cluster's rows to its centroid``; 1 is average, above 1 tighter than average (a dense mode,
which a collapsing generator produces), below 1 looser.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

TEXT_CHARS = 1000
SELECTION_ROWS = 1500  # rows used to pick k (fit + silhouette per candidate k)
TEXT_COMPONENTS = 32
SPLIT_COHERENCE = 0.5
SEPARATION_RATIO = 2.0
SEPARATION_ROWS = 5000
SPLIT_EXTRA = 5


@dataclass
class Clustering:
    labels: np.ndarray
    centers: np.ndarray
    k: int
    silhouette: float | None
    distances: np.ndarray  # each row's distance to its centroid


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int):
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(
        n_clusters=k,
        random_state=seed,
        n_init=n_init,
        batch_size=1024,
        max_iter=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
    return model


def fit_clusters(x: np.ndarray, max_k: int, seed: int) -> Clustering | None:
    """k-means on dense `x`, k in 2..max_k picked by the silhouette on a subsample."""
    from sklearn.metrics import silhouette_score

    n = x.shape[0]
    if n < 4 or max_k < 2:
        return None
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(n, size=min(n, SELECTION_ROWS), replace=False))
    xs = x[sub]
    distinct_rows = np.unique(np.round(xs, 9), axis=0).shape[0]
    best: tuple[float, int] | None = None
    for k in range(2, min(max_k, distinct_rows, n - 1) + 1):
        labels = _kmeans(xs, k, seed, n_init=1).labels_
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(xs, labels))
        if best is None or score > best[0] + 1e-9:
            best = (score, k)
    if best is None:
        return None
    score, k = best
    model = _kmeans(x, k, seed, n_init=3)
    labels = split_separated(x, np.asarray(model.labels_), seed, max_clusters=max_k + SPLIT_EXTRA)
    k = int(labels.max()) + 1
    centers = np.vstack([x[labels == c].mean(axis=0) for c in range(k)])
    distances = np.sqrt(((x - centers[labels]) ** 2).sum(axis=1))
    return Clustering(labels, centers, k, score if math.isfinite(score) else None, distances)


def split_separated(
    x: np.ndarray,
    labels: np.ndarray,
    seed: int,
    max_clusters: int,
    coherence: float = SPLIT_COHERENCE,
) -> np.ndarray:
    """Split off small, tight groups that k-means left inside a larger cluster.

    k-means prefers halving a big cluster to isolating a small distant one, so a rare
    pattern (say 0.5 % of rows with a vocabulary of their own) hides in a neighbour. In each
    cluster, the rows far from the centroid (distance above median + 3.5 robust SD of the
    cluster's distances) are candidates; a candidate group (all of them, else each half of
    a 2-means split of them) becomes a cluster of its own when it has at least
    ``max(3, 0.1 % of rows)`` rows and is tight: its rows' mean distance to its own centroid
    is under `coherence` times their mean distance to the cluster's centroid, and separated:
    the median distance from its rows to their nearest row outside the group is at least
    twice the median distance to their nearest row inside it. The far rows of one blob
    (its tails, even of an elongated one) have no such gap and stay. Repeats until nothing splits or
    `max_clusters` is reached.
    """
    labels = labels.copy()
    min_size = max(3, math.ceil(0.001 * labels.size))
    rng = np.random.default_rng(seed)
    changed = True
    while changed and int(labels.max()) + 1 < max_clusters:
        changed = False
        for c in range(int(labels.max()) + 1):
            members = np.flatnonzero(labels == c)
            far = _far_rows(x, members, min_size)
            if far is None:
                continue
            rest_center = x[np.setdiff1d(members, far)].mean(axis=0)
            groups = [far]
            if not _tight(x, far, rest_center, coherence) and far.size >= 2 * min_size:
                part = _kmeans(x[far], 2, seed, n_init=3).labels_
                groups = [far[part == 0], far[part == 1]]
            for group in groups:
                if (
                    group.size >= min_size
                    and _tight(x, group, rest_center, coherence)
                    and _separated(x, group, rng)
                ):
                    labels[group] = int(labels.max()) + 1
                    changed = True
            if changed:
                break  # recompute from the new labels
    return labels


def _far_rows(x: np.ndarray, members: np.ndarray, min_size: int) -> np.ndarray | None:
    """A cluster's rows farther from its centroid than median + 3.5 robust SD of the
    distances (None when the cluster or that group is too small, or distances do not vary)."""
    if members.size < 2 * min_size:
        return None
    center = x[members].mean(axis=0)
    d = np.sqrt(((x[members] - center) ** 2).sum(axis=1))
    med = float(np.median(d))
    spread = 1.4826 * float(np.median(np.abs(d - med)))
    if spread <= 1e-12:
        return None
    far = members[d > med + 3.5 * spread]
    return far if far.size >= min_size else None


def _tight(x: np.ndarray, group: np.ndarray, parent_center: np.ndarray, coherence: float) -> bool:
    """The group's rows are closer to their own centroid than `coherence` times the parent's."""
    pts = x[group]
    own = np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1)).mean()
    far = np.sqrt(((pts - parent_center) ** 2).sum(axis=1)).mean()
    return bool(far > 1e-12 and own < coherence * far)


def _separated(x: np.ndarray, group: np.ndarray, rng: np.random.Generator) -> bool:
    """A gap around the group: its rows' nearest neighbour outside it is much farther
    than their nearest neighbour inside it (a blob's tail has no such gap)."""
    from sklearn.neighbors import NearestNeighbors

    rest = np.setdiff1d(np.arange(x.shape[0]), group)
    if rest.size > SEPARATION_ROWS:
        rest = np.sort(rng.choice(rest, size=SEPARATION_ROWS, replace=False))
    inside = group if group.size <= SEPARATION_ROWS else rng.choice(group, SEPARATION_ROWS, False)
    d_out = NearestNeighbors(n_neighbors=1).fit(x[rest]).kneighbors(x[inside])[0][:, 0]
    d_in = NearestNeighbors(n_neighbors=2).fit(x[group]).kneighbors(x[inside])[0][:, 1]
    return bool(np.median(d_out) > SEPARATION_RATIO * max(float(np.median(d_in)), 1e-9))


@dataclass
class TextEmbedding:
    """L2-normalised LSA components of TF-IDF character n-grams, and how to read them."""

    vectors: np.ndarray
    components: np.ndarray  # SVD components (to project centroids back onto n-grams)
    names: np.ndarray  # the n-grams


def text_embedding(texts: list[str], seed: int) -> TextEmbedding | None:
    """TF-IDF of character 3-4 grams (at most 2**15), reduced by truncated SVD."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [(t or "")[:TEXT_CHARS] for t in texts]
    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 4),
        max_features=1 << 15,
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        x = vectorizer.fit_transform(docs)
    except ValueError:  # empty vocabulary: every text is blank
        return None
    comps = min(TEXT_COMPONENTS, x.shape[1] - 1, x.shape[0] - 1)
    if comps < 1:
        return None
    svd = TruncatedSVD(n_components=comps, random_state=seed)
    z = svd.fit_transform(x).astype(np.float64)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    return TextEmbedding(z, svd.components_, np.asarray(vectorizer.get_feature_names_out()))


def density(distances: np.ndarray, labels: np.ndarray, k: int) -> list[float]:
    overall = float(distances.mean()) if distances.size else 0.0
    out = []
    for c in range(k):
        d = distances[labels == c]
        mean = float(d.mean()) if d.size else 0.0
        out.append(float(overall / mean) if mean > 1e-12 else (1.0 if overall <= 1e-12 else 1e6))
    return out


def text_clusters(
    texts: list[str], embedding: TextEmbedding | None, max_k: int, seed: int, total_rows: int
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Cluster buckets of one text column; returns the summary and the row labels."""
    n = len(texts)
    empty = {"k": 0, "silhouette": None, "clusters": [], "rows_sampled": n}
    if embedding is None:
        return empty, None
    clustering = fit_clusters(embedding.vectors, max_k, seed)
    if clustering is None:
        return empty, None
    dens = density(clustering.distances, clustering.labels, clustering.k)
    clusters = []
    for c in range(clustering.k):
        members = np.flatnonzero(clustering.labels == c)
        if members.size == 0:
            continue
        weights = clustering.centers[c] @ embedding.components
        top = np.argsort(-weights)[:8]
        nearest = members[np.argmin(clustering.distances[members])]
        share = members.size / n
        clusters.append(
            {
                "cluster": c,
                "sampled_rows": int(members.size),
                "share": float(share),
                "rows": round(share * total_rows),
                "top_ngrams": [str(embedding.names[i]) for i in top if weights[i] > 0],
                "example": _snippet(texts[nearest]),
                "density": dens[c],
                "mean_length": float(np.mean([len(texts[i] or "") for i in members])),
            }
        )
    return {
        "k": clustering.k,
        "silhouette": clustering.silhouette,
        "rows_sampled": n,
        "clusters": clusters,
    }, clustering.labels


def _snippet(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def row_embedding(
    numeric: dict[str, np.ndarray],
    categorical: dict[str, np.ndarray],
    text: dict[str, np.ndarray | None],
) -> tuple[np.ndarray, dict[str, Any]]:
    """The row embedding described in the module docstring, and how to read it back."""
    blocks: list[np.ndarray] = []
    scales: dict[str, tuple[float, float]] = {}
    n = None
    for name, values in numeric.items():
        v = np.asarray(values, dtype=np.float64)
        n = v.size
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            continue
        med = float(np.median(finite))
        q1, q3 = np.quantile(finite, [0.25, 0.75])
        scale = float(q3 - q1) / 1.349
        if scale <= 1e-12:
            scale = float(finite.std()) or 1.0
        z = np.where(np.isfinite(v), (v - med) / scale, 0.0)
        blocks.append(np.clip(z, -5.0, 5.0)[:, None])
        scales[name] = (med, scale)
    for _name, values in categorical.items():
        v = np.asarray(values, dtype=object)
        n = v.size
        levels, codes = np.unique(v.astype(str), return_inverse=True)
        if levels.size < 2:
            continue
        onehot = np.zeros((v.size, levels.size))
        onehot[np.arange(v.size), codes] = 1.0 / math.sqrt(2.0)
        blocks.append(onehot)
    for _name, emb in text.items():
        if emb is None:
            continue
        n = emb.shape[0]
        blocks.append(emb)
    if not blocks:
        return np.zeros((n or 0, 0)), {"scales": scales}
    return np.hstack(blocks), {"scales": scales}


def row_clusters(
    numeric: dict[str, np.ndarray],
    categorical: dict[str, np.ndarray],
    text: dict[str, tuple[list[str], np.ndarray | None]],
    max_k: int,
    seed: int,
    total_rows: int,
) -> dict[str, Any]:
    """Clusters of rows over every analysed column (see module docstring).

    `text` maps a text column to its values and their `TextEmbedding.vectors` (or None).
    """
    x, _info = row_embedding(numeric, categorical, {k: v[1] for k, v in text.items()})
    n = x.shape[0]
    if n < 4 or x.shape[1] == 0:
        return {"k": 0, "silhouette": None, "rows_sampled": n, "clusters": []}
    clustering = fit_clusters(x, max_k, seed)
    if clustering is None:
        return {"k": 0, "silhouette": None, "rows_sampled": n, "clusters": []}
    dens = density(clustering.distances, clustering.labels, clustering.k)
    clusters = []
    for c in range(clustering.k):
        members = np.flatnonzero(clustering.labels == c)
        if members.size == 0:
            continue
        nearest = members[np.argmin(clustering.distances[members])]
        share = members.size / n
        clusters.append(
            {
                "cluster": c,
                "size": round(share * total_rows),
                "share": float(share),
                "sampled_rows": int(members.size),
                "centroid": _centroid(numeric, members),
                "profile": _profile(categorical, text, members, nearest),
                "density": dens[c],
                "radius": float(clustering.distances[members].mean()),
            }
        )
    clusters.sort(key=lambda c: -c["share"])
    return {
        "k": clustering.k,
        "silhouette": clustering.silhouette,
        "rows_sampled": n,
        "features": int(x.shape[1]),
        "clusters": clusters,
    }


def _centroid(numeric: dict[str, np.ndarray], members: np.ndarray) -> dict[str, float | None]:
    """Mean of each numeric column over the members' finite values."""
    centroid = {}
    for name, values in numeric.items():
        v = np.asarray(values, dtype=np.float64)[members]
        v = v[np.isfinite(v)]
        centroid[name] = float(v.mean()) if v.size else None
    return centroid


def _profile(
    categorical: dict[str, np.ndarray],
    text: dict[str, tuple[list[str], np.ndarray | None]],
    members: np.ndarray,
    nearest: int,
) -> dict[str, Any]:
    """Modal level of each categorical column, and the text of the row nearest the centroid."""
    profile: dict[str, Any] = {}
    for name, values in categorical.items():
        v = np.asarray(values, dtype=object)[members].astype(str)
        levels, counts = np.unique(v, return_counts=True)
        top = int(np.argmax(counts))
        profile[name] = {"mode": str(levels[top]), "share": float(counts[top] / v.size)}
    for name, (values, _emb) in text.items():
        profile[name] = {"example": _snippet(values[nearest])}
    return profile
