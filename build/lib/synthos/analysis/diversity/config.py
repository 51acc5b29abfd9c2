"""How the diversity analysis runs: `DiversityConfig`, every field with a default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..columns import KINDS


@dataclass(frozen=True)
class DiversityConfig:
    """How to analyse. Every field has a default; `analyze_diversity` takes them as keywords.

    columns: analyse only these columns (the sample still has every column).
    column_kinds: force a column's kind: "categorical", "numeric", "text" or "skip".
    strata_columns: the columns whose joint levels form the strata (default: chosen
        round-robin over kinds, lowest cardinality first, while the cell count fits
        `max_strata`).
    sample_size: rows in the stratified sample.
    seed: makes the profile sample, clusters and stratified sample reproducible.
    rare_threshold: a stratum (or level, or cluster) with fewer than this share of rows
        is rare.
    rare_oversample: a rare stratum gets `rare_oversample` times its proportional share
        of the sample (at least `min_rows_per_stratum`).
    tail_quantiles: rows below the first / above the second quantile of a numeric column
        are its extreme tails; `tail_fraction` of the sample goes to them.
    max_strata / max_levels / max_int_levels / numeric_bins: caps on the strata; an
        integer column with at most `max_int_levels` distinct values is categorical.
    profile_rows: rows of the uniform profile sample (quantiles, kinds, clusters); capped
        on wide data so that it holds at most 20M values.
    cluster_rows / text_rows / max_clusters / max_text_clusters / max_text_columns:
        sizes of the clustering sub-samples and the largest k tried.
    outlier_method: "robust_z" or "iqr"; robust_z_threshold and iqr_k their cut-offs.
    max_correlation_columns / top_correlations: how many numeric columns enter the
        correlation matrix and how many top pairs are listed per method.
    confidence_level: of the sampling margin of error.
    threads / memory_limit / work_dir: engine threads (default: all cores), memory cap
        (DuckDB syntax, e.g. "8GB"; spills beyond it) and where temporary files go.
    load_options: passed to the loader (`LoadOptions` fields: format, s3_endpoint, ...).
    """

    columns: Sequence[str] | None = None
    column_kinds: Mapping[str, str] | None = None
    strata_columns: Sequence[str] | None = None
    sample_size: int = 10_000
    seed: int = 0
    rare_threshold: float = 0.01
    rare_oversample: float = 3.0
    min_rows_per_stratum: int = 1
    tail_quantiles: tuple[float, float] = (0.001, 0.999)
    tail_fraction: float = 0.05
    max_strata: int = 64
    max_levels: int = 50
    max_int_levels: int = 12
    numeric_bins: int = 4
    profile_rows: int = 500_000
    correlation_rows: int = 200_000
    cluster_rows: int = 10_000
    text_rows: int = 10_000
    max_clusters: int = 10
    max_text_clusters: int = 8
    max_text_columns: int = 4
    outlier_method: str = "robust_z"
    robust_z_threshold: float = 3.5
    iqr_k: float = 1.5
    max_correlation_columns: int = 32
    top_correlations: int = 10
    confidence_level: float = 0.95
    threads: int | None = None
    memory_limit: str | None = None
    work_dir: str | None = None
    load_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ValueError(f"{name} {why}, got {getattr(self, name)!r}")

        if not isinstance(self.sample_size, int) or self.sample_size < 1:
            bad("sample_size", "must be a positive integer")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            bad("seed", "must be an integer in [0, 2**63)")
        if not 0.0 < self.rare_threshold < 1.0:
            bad("rare_threshold", "must be in (0, 1)")
        if self.rare_oversample < 1.0:
            bad("rare_oversample", "must be >= 1")
        lo, hi = self.tail_quantiles
        if not 0.0 <= lo < hi <= 1.0:
            bad("tail_quantiles", "must be two quantiles 0 <= low < high <= 1")
        if not 0.0 <= self.tail_fraction < 1.0:
            bad("tail_fraction", "must be in [0, 1)")
        if self.outlier_method not in ("robust_z", "iqr"):
            bad("outlier_method", "must be 'robust_z' or 'iqr'")
        for name in ("max_strata", "max_levels", "profile_rows", "cluster_rows", "text_rows"):
            if getattr(self, name) < 2:
                bad(name, "must be >= 2")
        if self.numeric_bins < 2:
            bad("numeric_bins", "must be >= 2")
        if not 0.5 <= self.confidence_level < 1.0:
            bad("confidence_level", "must be in [0.5, 1)")
        for name, kind in (self.column_kinds or {}).items():
            if kind not in KINDS:
                raise ValueError(f"column_kinds[{name!r}] must be one of {KINDS}, got {kind!r}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["columns"] = list(self.columns) if self.columns is not None else None
        out["strata_columns"] = list(self.strata_columns) if self.strata_columns else None
        out["column_kinds"] = dict(self.column_kinds or {})
        out["tail_quantiles"] = list(self.tail_quantiles)
        out["load_options"] = {k: str(v) for k, v in (self.load_options or {}).items()}
        return out
