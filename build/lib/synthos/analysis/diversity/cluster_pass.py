"""The cluster pass: text clusters per text column and row clusters, on the profile sample.

Rare text clusters become constraint groups of the stratified sample (their rows are
known: they were clustered). k-means on a few thousand rows runs far faster on one
BLAS / OpenMP thread (no spinning), so the pass limits them to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import clusters as clustering
from ..columns import Column
from ..correlations import capped
from ..sampling import Group, rare_lower_bound
from ..strata import distribution_metrics
from .config import DiversityConfig
from .design import StrataDesign
from .numeric import NumericStats
from .profile import Profile


@dataclass(frozen=True)
class Clusters:
    """text: per text column, its clusters (see `clusters.text_clusters`) with their
    evenness and rare flags; rows: the row clusters (`clusters.row_clusters`);
    rare_text_groups: the rows of rare text clusters the sample must keep."""

    text: dict[str, Any]
    rows: dict[str, Any]
    rare_text_groups: list[Group]


@dataclass(frozen=True)
class _TextColumn:
    values: list[str]  # the clustered texts, missing as ""
    embedding: clustering.TextEmbedding | None


def cluster_pass(
    profile: Profile,
    stats: dict[str, NumericStats],
    design: StrataDesign,
    rows: int,
    config: DiversityConfig,
) -> Clusters:
    """Cluster the profile rows; `rows` (the dataset's) scales cluster sizes."""
    # threadpoolctl only limits libraries already loaded: load scikit-learn first.
    import sklearn.cluster
    import sklearn.decomposition  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        text: dict[str, Any] = {}
        groups: list[Group] = []
        embedded: dict[str, _TextColumn] = {}
        for col in profile.text:
            text[col.name], found, embedded[col.name] = _text_column(profile, col, rows, config)
            groups += found
        row_summary = _row_clusters(profile, stats, design, embedded, rows, config)
    return Clusters(text, row_summary, groups)


def _text_column(
    profile: Profile, col: Column, total: int, config: DiversityConfig
) -> tuple[dict[str, Any], list[Group], _TextColumn]:
    """One text column's clusters, the groups of its rare clusters, and its embedding."""
    rows = min(profile.rows, max(config.text_rows, config.cluster_rows))
    text_rows = min(profile.rows, config.text_rows)
    values = [v if v is not None else "" for v in profile.values(col, rows)]
    embedding = clustering.text_embedding(values, config.seed)
    clustered = embedding
    if embedding is not None and text_rows < rows:
        clustered = clustering.TextEmbedding(
            embedding.vectors[:text_rows], embedding.components, embedding.names
        )
    summary, labels = clustering.text_clusters(
        values[:text_rows], clustered, config.max_text_clusters, config.seed, total
    )
    summary["metrics"] = distribution_metrics(
        [c["sampled_rows"] for c in summary["clusters"]], config.rare_threshold
    )
    rids = profile.sample.column("__rid").to_numpy()[:text_rows]
    groups = []
    for cluster in summary["clusters"]:
        cluster["rare"] = cluster["share"] < config.rare_threshold
        if cluster["rare"] and labels is not None:
            members = rids[labels == cluster["cluster"]]  # in u order
            groups.append(_rare_cluster_group(col, cluster, members, total, config))
    return summary, groups, _TextColumn(values, embedding)


def _rare_cluster_group(
    col: Column, cluster: dict[str, Any], members: np.ndarray, total: int, config: DiversityConfig
) -> Group:
    """The sample keeps a rare cluster's share of rows, from its members (lowest u first)."""
    need = min(
        members.size,
        rare_lower_bound(cluster["rows"], total, config.sample_size, config.rare_oversample),
    )
    return Group(
        "rare_text_cluster",
        col.name,
        int(cluster["cluster"]),
        int(cluster["rows"]),
        int(need),
        rids=[int(r) for r in members[: max(need, 1) * 4]],
    )


def _row_clusters(
    profile: Profile,
    stats: dict[str, NumericStats],
    design: StrataDesign,
    embedded: dict[str, _TextColumn],
    total: int,
    config: DiversityConfig,
) -> dict[str, Any]:
    """Row clusters over every analysed column (see `clusters.row_clusters`)."""
    rows = min(profile.rows, config.cluster_rows)
    numeric = {c.name: profile.values(c, rows) for c in profile.numeric if c.name in stats}
    categorical = {
        c.name: capped(
            profile.sample.column(c.alias).slice(0, rows), design.marginal[c.name].levels
        )
        for c in profile.categorical
    }
    text = {}
    for name, column in embedded.items():
        vectors = None if column.embedding is None else column.embedding.vectors[:rows]
        text[name] = (column.values[:rows], vectors)
    return clustering.row_clusters(
        numeric, categorical, text, config.max_clusters, config.seed, total
    )
