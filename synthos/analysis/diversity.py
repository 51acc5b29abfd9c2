"""Diversity analysis (DESIGN section 1, stage 2): strata, evenness, rare patterns, outliers,
correlations, clusters, and a stratified sample that keeps rare strata and the extreme tail.

    from synthos.analysis import analyze_diversity

    result = analyze_diversity("data/train.parquet", sample_size=10_000, seed=0,
                               sample_path="out/sample.parquet")
    result.entropy, result.gini, result.rare_pattern_percentage, result.sampling_confidence
    json.dumps(result.to_dict())

Engine: DuckDB. Chosen by measurement (`benchmarks/diversity_bench.py --rows 10M
--compare-engines`): a generated 10M-row x 20-column Parquet dataset (6 categorical,
13 numeric, 1 text column), 2 threads, DuckDB 2.0.1 against Polars 2.1.0 (streaming
engine), the same aggregates in each, each in its own process:

    ======================================  ========  ========
    step (10M rows, 2 cores)                DuckDB    Polars
    ======================================  ========  ========
    hash-sampled profile rows (1.1M)         2.0 s     3.0 s
    global pass (91 co-moments, outliers,    4.5 s     5.0 s
      arg min, distinct counts, lengths)
    strata counts (3 grouping sets)          2.0 s     2.9 s
    total                                    8.5 s    10.9 s
    peak RSS                                 0.76 GiB  2.0 GiB
    ======================================  ========  ========

(An earlier run on a busier machine: 19.5 s / 1.2 GiB against 30.1 s / 2.5 GiB.) With
quantiles over all rows (13 columns, 7 quantiles, plus the global aggregates) DuckDB took
22 s and 0.6 GiB (``approx_quantile``; exact ``quantile_cont`` alone 12.3 s) against 85 s
and 1.6 GiB for Polars (exact only); quantiles therefore come from the profile sample:
exact there, bounded memory at any size.

DuckDB was 1.3-1.5x faster at a third to half the memory, scans Parquet in place
(projection and row-group pushdown, no copy), spills grouping to disk when it outgrows
memory, and lets every aggregate of a pass share one scan. Polars was faster only at its
built-in ``corr`` (3.3 s against DuckDB's ``corr`` at 14.9 s for 78 pairs), which is why
the analyzer computes Pearson correlations from shifted co-moments (4.5 s in DuckDB).
Strata keys are small integers, not strings (grouping on them was 6.7x faster).

Passes over the data (each one engine scan; nothing per row happens in Python):

1. profile: a uniform sample of up to `profile_rows` rows, chosen by ``hash(row id, seed)``
   (deterministic). Column kinds, quantiles (tail bounds, strata bin edges, median and MAD
   for robust z, quartiles for IQR), Spearman, Cramer's V and the clusters come from it;
   when the dataset has at most `profile_rows` rows these are exact.
2. global: row and null counts, min / max, shifted sums and co-moments of every numeric
   pair (exact Pearson over all rows), outlier counts, tail counts, rows holding each
   minimum and maximum, distinct-count estimates, text lengths. Numeric columns whose
   values repeat get one more scan that picks the first row among ties at their extremes
   (``arg_min`` alone is not deterministic across threads).
3. strata: counts of the joint strata and of every categorical / text-length level, as
   grouping sets of one query.
4. sample: one scan keeps candidate rows under per-group hash thresholds; the sample is
   picked from those (see `sampling.py`) and written to Parquet.

Inputs other than local uncompressed Parquet are streamed once through the loader into a
Parquet spool (`engine.py`), so datasets larger than memory work in any format. Memory is
bounded by the profile sample (at most 20M values) and DuckDB's `memory_limit` (it spills).

Determinism: for a seed the profile rows, strata, clusters and the stratified sample are
identical whatever the thread count or how the rows are split into files; floating-point
aggregates (means, Pearson) may differ in the last digits, as parallel sums do.

Outliers: a value is an outlier when its robust z, ``|x - median| / (1.4826 * MAD)``,
exceeds `robust_z_threshold` (default 3.5, Iglewicz-Hoaglin), or, with
``outlier_method="iqr"``, when it lies outside ``[Q1 - k * IQR, Q3 + k * IQR]`` (k = 1.5).
Both counts are reported per column; ``outlier_percentage`` is the share of rows with at
least one outlying value under the chosen method. Skewed columns (log-normal) have many
robust-z outliers on their long side: that is what they are, not a bug.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthos.errors import DataError, ErrorCode

from . import clusters as clustering
from .columns import KINDS, Column, classify, type_family
from .correlations import capped, codes, cramers_v, pearson_from_moments
from .engine import Source, open_source, quote_ident, sql_float
from .result import DiversityResult, build_result
from .sampling import (
    Group,
    bounded_allocation,
    candidate_fraction,
    margin_of_error,
    rare_lower_bound,
    select,
    u64_threshold,
)
from .strata import (
    PREFIX_CHARS,
    Dimension,
    categorical_levels,
    choose_dimensions,
    distribution_metrics,
    quantile_edges,
)

#: The profile sample holds at most this many values (rows x columns), at least
#: MIN_PROFILE_ROWS rows.
PROFILE_CELLS = 20_000_000
MIN_PROFILE_ROWS = 20_000
RESERVED = ("__rid", "__row", "__u", "__stratum", "__weight")


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


# ---------------------------------------------------------------------------------------
# the analysis


def analyze_diversity(
    data: Any,
    config: DiversityConfig | None = None,
    *,
    sample_path: str | Path | None = None,
    **overrides: Any,
) -> DiversityResult:
    """Analyse the diversity of `data` (path, URI, directory, pyarrow Table, DataFrame).

    `overrides` are `DiversityConfig` fields. When `sample_path` is given the stratified
    sample is written there as Parquet; it is also returned as `result.sample_table`.
    Raises `DataError` (1xxx) for bad input.
    """
    config = (
        replace(config or DiversityConfig(), **overrides)
        if overrides
        else (config or DiversityConfig())
    )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 4)
        clock[0] = now

    src = open_source(
        data,
        threads=config.threads,
        memory_limit=config.memory_limit,
        work_dir=config.work_dir,
        load_options=dict(config.load_options or {}),
    )
    try:
        lap("open")
        result = _Analysis(src, config, timings, lap).run()
    finally:
        src.close()
    if sample_path is not None and result.sample_table is not None:
        path = Path(sample_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.sample_table, path, compression="zstd")
        result.sample["path"] = str(path)
        lap("write_sample")
    timings["total"] = round(time.perf_counter() - started, 4)
    return result


class _Analysis:
    def __init__(
        self, src: Source, config: DiversityConfig, timings: dict[str, float], lap
    ) -> None:
        self.src = src
        self.config = config
        self.timings = timings
        self.lap = lap
        self.n_rows = src.num_rows
        self.warnings: list[str] = []
        self.u_expr = f"hash(__rid, {int(config.seed)}::BIGINT)"

    # -- columns and the profile sample ------------------------------------------------

    def _select_columns(self) -> list[Column]:
        available = [name for name in self.src.columns if name not in RESERVED]
        wanted = list(self.config.columns) if self.config.columns is not None else available
        if isinstance(self.config.columns, str):
            wanted = [self.config.columns]
        missing = [c for c in wanted if c not in self.src.columns]
        for name in list(self.config.strata_columns or []) + list(self.config.column_kinds or {}):
            if name not in self.src.columns:
                missing.append(name)
        if missing:
            raise DataError(
                f"column {missing[0]!r} is not in the dataset",
                code=ErrorCode.DATA_SCHEMA,
                path=self.src.path,
                column=missing[0],
                expected="one of " + ", ".join(repr(c) for c in available[:20]),
            )
        if not wanted:
            raise DataError(
                "no columns to analyse",
                code=ErrorCode.DATA_SCHEMA,
                path=self.src.path,
                expected="at least one column besides the excluded ones",
            )
        for name in self.config.strata_columns or []:
            if name not in wanted:
                wanted.append(name)
        return [
            Column(name, self.src.columns[name], i) for i, name in enumerate(dict.fromkeys(wanted))
        ]

    def _profile(self, columns: list[Column]) -> pa.Table:
        config = self.config
        # Bound the profile's memory on wide data: at most PROFILE_CELLS values.
        m = min(config.profile_rows, max(MIN_PROFILE_ROWS, PROFILE_CELLS // max(1, len(columns))))
        if m < config.profile_rows and self.n_rows > m:
            self.warnings.append(
                f"profile sample capped at {m:,} rows for {len(columns)} columns "
                f"(profile_rows={config.profile_rows:,})"
            )
        fraction = (
            1.0 if self.n_rows <= m else min(1.0, (1.15 * m + 64 * math.sqrt(m)) / self.n_rows)
        )
        thr = u64_threshold(fraction)
        readable = [c for c in columns if type_family(c.dtype) not in ("nested", "other")]

        def fetched(c: Column) -> str:
            if type_family(c.dtype) == "string":
                return f"left(CAST({c.raw} AS VARCHAR), {PREFIX_CHARS}) AS __r{c.index}"
            return f"{c.raw} AS __r{c.index}"

        select_list = ", ".join(
            [fetched(c) for c in readable] + ["__rid", "__row", f"{self.u_expr} AS __u"]
        )
        # ordered by u (ties by row id): any prefix is itself a uniform sample
        return self.src.arrow(
            f"SELECT {select_list} FROM {{src}} WHERE {self.u_expr} <= {thr}::UBIGINT "
            f"ORDER BY __u, __rid LIMIT {m}"
        )

    # -- main --------------------------------------------------------------------------

    def run(self) -> DiversityResult:
        config = self.config
        columns = self._select_columns()
        profile = self._profile(columns)
        self.lap("profile_scan")
        kinds = dict(config.column_kinds or {})
        for col in columns:
            raw = (
                profile.column(f"__r{col.index}")
                if f"__r{col.index}" in profile.column_names
                else pa.chunked_array([], type=pa.null())
            )
            classify(
                col,
                raw,
                max_levels=config.max_levels,
                max_int_levels=config.max_int_levels,
                forced=kinds.get(col.name),
            )
        text_cols = [c for c in columns if c.kind == "text"]
        if len(text_cols) > config.max_text_columns:
            for col in text_cols[config.max_text_columns :]:
                col.kind, col.reason = (
                    "skip",
                    f"more than max_text_columns={config.max_text_columns}",
                )
        analysed = [c for c in columns if c.kind != "skip"]
        if not analysed:
            raise DataError(
                "no column can be analysed (every column is nested, binary, empty or an "
                "identifier)",
                code=ErrorCode.DATA_SCHEMA,
                path=self.src.path,
                expected="at least one categorical, numeric or text column",
            )
        self.columns = columns
        self.analysed = analysed
        self.numeric = [c for c in analysed if c.kind == "numeric"]
        self.categorical = [c for c in analysed if c.kind == "categorical"]
        self.text = [c for c in analysed if c.kind == "text"]

        # Clean profile values with the engine's own expressions.
        self.src.register("__profile", profile)
        clean_list = ", ".join(f"{c.clean(f'__r{c.index}')} AS {c.alias}" for c in analysed)
        self.sample = self.src.con.sql(
            f"SELECT {clean_list}, __rid, __row, __u FROM __profile ORDER BY __u, __rid"
        )
        self.sample = _to_table(self.sample)
        self.src.con.unregister("__profile")
        del profile
        self.m = self.sample.num_rows
        self.exact_profile = self.m >= self.n_rows
        self._numeric_profile()
        self._build_dimensions()
        self.lap("profile")

        self._global_pass()
        self.lap("global_pass")
        self._strata_pass()
        self.lap("strata_pass")
        correlations = self._correlations()
        self.lap("correlations")
        # k-means on a few thousand rows is far faster on one BLAS/OpenMP thread (no spin).
        # (threadpoolctl only limits libraries already loaded: load scikit-learn first.)
        import sklearn.cluster
        import sklearn.decomposition  # noqa: F401
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            text_clusters, forced_text = self._text_clusters()
            rows = self._row_clusters()
        self.lap("clusters")
        sample_info, sample_table = self._sample(forced_text)
        self.lap("sample")
        return build_result(self, correlations, text_clusters, rows, sample_info, sample_table)

    # -- profile statistics ------------------------------------------------------------

    def _values(self, col: Column, rows: int | None = None) -> np.ndarray:
        column = self.sample.column(col.alias)
        if rows is not None:
            column = column.slice(0, rows)
        if col.kind == "numeric":
            return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        return np.asarray(column.to_pylist(), dtype=object)

    def _numeric_profile(self) -> None:
        lo_q, hi_q = self.config.tail_quantiles
        self.nstats: dict[str, dict[str, Any]] = {}
        for col in self.numeric:
            v = self._values(col)
            v = v[np.isfinite(v)]
            if v.size == 0:
                self.nstats[col.name] = {"empty": True}
                continue
            v = np.sort(v)
            q = np.quantile(v, [lo_q, 0.25, 0.5, 0.75, hi_q])
            med = float(q[2])
            mad = float(np.median(np.abs(v - med)))
            scale = 1.4826 * mad
            if scale <= 1e-12:
                scale = float(q[3] - q[1]) / 1.349
            starts = np.flatnonzero(np.concatenate([[True], v[1:] != v[:-1]]))
            runs = np.diff(np.concatenate([starts, [v.size]]))
            self.nstats[col.name] = {
                "empty": False,
                "tail_low": float(q[0]),
                "q1": float(q[1]),
                "median": med,
                "q3": float(q[3]),
                "tail_high": float(q[4]),
                "mad": mad,
                "robust_scale": scale,
                "shift": float(v.mean()),
                "deciles": quantile_edges(v, 10),
                "strata_edges": quantile_edges(v, self.config.numeric_bins),
                "distinct_in_profile": int(starts.size),
                "repeats": bool(starts.size < v.size),
                "mode_share": float(runs.max() / v.size),
            }

    def _build_dimensions(self) -> None:
        config = self.config
        self.marginal_dims: dict[str, Dimension] = {}
        candidates: dict[str, list[Dimension]] = {
            "categorical": [],
            "numeric": [],
            "text_length": [],
        }
        self.level_counts: dict[str, dict[Any, int]] = {}
        for col in self.categorical:
            import pyarrow.compute as pc

            column = self.sample.column(col.alias)
            nulls = column.null_count
            counted = pc.value_counts(column.drop_null()) if nulls else pc.value_counts(column)
            real = {
                str(v): int(c)
                for v, c in zip(
                    counted.field("values").to_pylist(),
                    counted.field("counts").to_pylist(),
                    strict=True,
                )
            }
            levels = categorical_levels(real, config.max_levels)
            size = len(levels) + (1 if len(real) > len(levels) or not self.exact_profile else 0)
            size += 1 if nulls else 0
            dim = Dimension(col.name, "categorical", levels, size=max(size, 1))
            self.marginal_dims[col.name] = dim
            candidates["categorical"].append(dim)
        for col in self.numeric:
            st = self.nstats[col.name]
            if st["empty"]:
                continue
            edges = st["strata_edges"]
            v = self._values(col)
            size = len(edges) + 1 + (1 if np.isnan(v).any() else 0)
            candidates["numeric"].append(Dimension(col.name, "numeric", edges, size=size))
        for col in self.text:
            import pyarrow.compute as pc

            column = self.sample.column(col.alias)
            lengths = pc.utf8_length(column.drop_null()).to_numpy(zero_copy_only=False)
            buckets = (
                set(np.floor(np.log2(lengths + 1.0)).astype(int).tolist())
                if lengths.size
                else set()
            )
            size = max(1, len(buckets)) + (1 if column.null_count else 0)
            dim = Dimension(col.name, "text_length", [], size=size)
            self.marginal_dims[col.name] = dim
            candidates["text_length"].append(dim)
        if config.strata_columns:
            chosen = []
            by_column = {d.column: d for dims in candidates.values() for d in dims}
            for name in config.strata_columns:
                if name not in by_column:
                    raise DataError(
                        f"strata column {name!r} cannot be stratified (it was classified "
                        f"as {self._kind_of(name)})",
                        code=ErrorCode.DATA_SCHEMA,
                        path=self.src.path,
                        column=name,
                        expected="a categorical, numeric or text column",
                    )
                chosen.append(by_column[name])
        else:
            chosen = choose_dimensions(candidates, config.max_strata)
        if not chosen:
            # Only empty numeric columns: one stratum.
            chosen = []
        self.dims = chosen
        self.possible_strata = int(np.prod([d.cardinality for d in chosen])) if chosen else 1

    def _kind_of(self, name: str) -> str:
        for col in self.columns:
            if col.name == name:
                return col.kind
        return "unknown"

    # -- pass 2: global aggregates ------------------------------------------------------

    def _base_query(self, extra: str = "") -> str:
        cleaned = ", ".join(f"{c.clean()} AS {c.alias}" for c in self.analysed)
        raw = ", ".join(f"{c.raw} AS __r{c.index}" for c in self.numeric)
        parts = [cleaned]
        if raw:
            parts.append(raw)
        if extra:
            parts.append(extra)
        return f"SELECT {', '.join(parts)}, __rid, __row FROM {{src}}"

    def _outlier_conditions(self, col: Column) -> tuple[str | None, str | None]:
        st = self.nstats[col.name]
        if st["empty"]:
            return None, None
        x = col.alias
        robust = None
        if st["robust_scale"] > 1e-12:
            bound = self.config.robust_z_threshold * st["robust_scale"]
            robust = f"abs({x} - {sql_float(st['median'])}) > {sql_float(bound)}"
        iqr = st["q3"] - st["q1"]
        iqr_cond = None
        if iqr > 1e-12:
            k = self.config.iqr_k
            iqr_cond = (
                f"({x} < {sql_float(st['q1'] - k * iqr)} OR {x} > {sql_float(st['q3'] + k * iqr)})"
            )
        return robust, iqr_cond

    def _global_pass(self) -> None:
        aggs: list[tuple[str, str]] = [("n", "count(*)")]
        for col in self.analysed:
            aggs.append((f"nn{col.index}", f"count({col.alias})"))
        union: list[str] = []
        self.corr_cols = [c for c in self.numeric if not self.nstats[c.name]["empty"]][
            : self.config.max_correlation_columns
        ]
        for col in self.numeric:
            i, x = col.index, col.alias
            aggs.append((f"nr{i}", f"count(__r{i})"))
            st = self.nstats[col.name]
            if st["empty"]:
                continue
            s = sql_float(st["shift"])
            aggs += [
                (f"min{i}", f"min({x})"),
                (f"max{i}", f"max({x})"),
                (f"s{i}", f"sum({x} - {s})"),
                (f"ss{i}", f"sum(({x} - {s}) * ({x} - {s}))"),
                (f"argmin{i}", f"arg_min(__rid, {x})"),
                (f"argmax{i}", f"arg_max(__rid, {x})"),
                (f"tlo{i}", f"count_if({x} < {sql_float(st['tail_low'])})"),
                (f"thi{i}", f"count_if({x} > {sql_float(st['tail_high'])})"),
            ]
            robust, iqr = self._outlier_conditions(col)
            if robust:
                aggs.append((f"orz{i}", f"count_if({robust})"))
            if iqr:
                aggs.append((f"oiqr{i}", f"count_if({iqr})"))
            chosen = robust if self.config.outlier_method == "robust_z" else iqr
            if chosen:
                union.append(f"({chosen})")
        if union:
            aggs.append(("outlier_rows", f"count_if({' OR '.join(union)})"))
        for a_pos, a in enumerate(self.corr_cols):
            sa = sql_float(self.nstats[a.name]["shift"])
            for b in self.corr_cols[a_pos + 1 :]:
                sb = sql_float(self.nstats[b.name]["shift"])
                aggs.append(
                    (f"p{a.index}_{b.index}", f"sum(({a.alias} - {sa}) * ({b.alias} - {sb}))")
                )
        for col in self.categorical:
            aggs.append((f"nd{col.index}", f"approx_count_distinct({col.alias})"))
        for col in self.text:
            length = f"length({col.alias})"
            aggs += [
                (f"lavg{col.index}", f"avg({length})"),
                (f"lmin{col.index}", f"min({length})"),
                (f"lmax{col.index}", f"max({length})"),
                (f"nd{col.index}", f"approx_count_distinct({col.alias})"),
            ]
        select_list = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in aggs)
        row = self.src.arrow(f"SELECT {select_list} FROM ({self._base_query()})")
        self.g = {name: _plain(row.column(name)[0].as_py()) for name in row.column_names}
        self.n_rows = int(self.g["n"])
        self._break_extreme_ties()

    def _break_extreme_ties(self) -> None:
        """Make the rows holding each minimum / maximum deterministic.

        ``arg_min`` returns whichever tied row a thread met first. Where values repeat (in
        the profile), one more scan of those columns takes the smallest row id among the
        rows at the extreme instead; columns of distinct values keep ``arg_min``.
        """
        aggs = []
        for col in self.numeric:
            st = self.nstats[col.name]
            i = col.index
            if st["empty"] or self.g.get(f"min{i}") is None or not st["repeats"]:
                continue
            for key, value in (
                (f"argmin{i}", self.g[f"min{i}"]),
                (f"argmax{i}", self.g[f"max{i}"]),
            ):
                aggs.append((key, f"min(__rid) FILTER (WHERE {col.alias} = {sql_float(value)})"))
        if not aggs:
            return
        select_list = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in aggs)
        row = self.src.arrow(f"SELECT {select_list} FROM ({self._base_query()})")
        for name in row.column_names:
            value = row.column(name)[0].as_py()
            if value is not None:
                self.g[name] = int(value)

    # -- pass 3: strata counts -----------------------------------------------------------

    def _strata_pass(self) -> None:
        keys = [f"__k{j}" for j in range(len(self.dims))]
        margs = [f"__m{c.index}" for c in self.categorical + self.text]
        exprs = []
        alias_of = {c.name: c.alias for c in self.analysed}
        for j, dim in enumerate(self.dims):
            exprs.append(f"{dim.expression(alias_of[dim.column])} AS {keys[j]}")
        for col in self.categorical + self.text:
            dim = self.marginal_dims[col.name]
            exprs.append(f"{dim.expression(col.alias)} AS __m{col.index}")
        sets = []
        if keys:
            sets.append("(" + ", ".join(keys) + ")")
        sets += [f"({m})" for m in margs]
        if not sets:
            sets = ["()"]
        grouping = ", ".join(f"GROUPING({k}) AS __g_{k}" for k in (keys[:1] + margs))
        inner = f"SELECT {', '.join(exprs) if exprs else '1 AS __one'} FROM ({self._base_query()})"
        cols = ", ".join(keys + margs + ["count(*) AS __n"] + ([grouping] if grouping else []))
        table = self.src.arrow(
            f"SELECT {cols} FROM ({inner}) GROUP BY GROUPING SETS ({', '.join(sets)})"
        )
        data = table.to_pydict()
        rows = table.num_rows
        strata: list[tuple[tuple, int]] = []
        marginal: dict[str, dict[Any, int]] = {m: {} for m in margs}
        for r in range(rows):
            count = int(data["__n"][r])
            if keys and data[f"__g_{keys[0]}"][r] == 0:
                strata.append((tuple(data[k][r] for k in keys), count))
                continue
            for m in margs:
                if data[f"__g_{m}"][r] == 0:
                    marginal[m][data[m][r]] = count
                    break
        if not keys:
            strata = [((), self.n_rows)]
        strata.sort(key=lambda kv: (-kv[1], [str(x) for x in kv[0]]))
        self.strata_keys = [k for k, _ in strata]
        self.strata_counts = np.array([c for _, c in strata], dtype=np.int64)
        self.marginal_counts = {}
        for col in self.categorical + self.text:
            self.marginal_counts[col.name] = marginal[f"__m{col.index}"]

    # -- correlations ------------------------------------------------------------------

    def _correlations(self) -> dict[str, Any]:
        config = self.config
        n = self.n_rows
        g = self.g
        pearson: list[dict[str, Any]] = []
        names = [c.name for c in self.corr_cols]
        matrix = np.eye(len(names)) if names else np.zeros((0, 0))
        incomplete = []
        for a_pos, a in enumerate(self.corr_cols):
            for b_pos in range(a_pos + 1, len(self.corr_cols)):
                b = self.corr_cols[b_pos]
                if g[f"nn{a.index}"] < n or g[f"nn{b.index}"] < n:
                    incomplete.append((a_pos, b_pos))
                    continue
                r = pearson_from_moments(g, a.index, b.index, n)
                matrix[a_pos, b_pos] = matrix[b_pos, a_pos] = np.nan if r is None else r
        if incomplete:
            corr_list = ", ".join(
                f"corr({self.corr_cols[i].alias}, {self.corr_cols[j].alias}) AS __q{k}"
                for k, (i, j) in enumerate(incomplete)
            )
            row = self.src.fetchall(f"SELECT {corr_list} FROM ({self._base_query()})")[0]
            for k, (i, j) in enumerate(incomplete):
                value = row[k]
                matrix[i, j] = matrix[j, i] = np.nan if value is None else float(value)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if np.isfinite(matrix[i, j]):
                    pearson.append(
                        {
                            "a": names[i],
                            "b": names[j],
                            "method": "pearson",
                            "value": float(matrix[i, j]),
                        }
                    )
        pearson.sort(key=lambda d: -abs(d["value"]))

        rows = min(self.m, config.correlation_rows)
        spearman: list[dict[str, Any]] = []
        if len(self.corr_cols) >= 2 and rows >= 3:
            import pandas as pd

            frame = pd.DataFrame({c.name: self._values(c, rows) for c in self.corr_cols})
            rho = frame.corr(method="spearman", min_periods=3).to_numpy()
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    if np.isfinite(rho[i, j]):
                        spearman.append(
                            {
                                "a": names[i],
                                "b": names[j],
                                "method": "spearman",
                                "value": float(rho[i, j]),
                            }
                        )
            spearman.sort(key=lambda d: -abs(d["value"]))

        cramer: list[dict[str, Any]] = []
        cats = self.categorical
        if len(cats) >= 2 and rows >= 2:
            coded = {}
            for col in cats:
                column = self.sample.column(col.alias).slice(0, rows)
                coded[col.name] = codes(capped(column, self.marginal_dims[col.name].levels))
            for i, a in enumerate(cats):
                for b in cats[i + 1 :]:
                    v = cramers_v(coded[a.name], coded[b.name])
                    if v is not None:
                        cramer.append({"a": a.name, "b": b.name, "method": "cramers_v", "value": v})
            cramer.sort(key=lambda d: -d["value"])
        top = sorted(pearson + spearman + cramer, key=lambda d: -abs(d["value"]))
        k = config.top_correlations
        out: dict[str, Any] = {
            "pearson": pearson[:k],
            "spearman": spearman[:k],
            "cramers_v": cramer[:k],
            "top": top[:k],
            "rows_used": {
                "pearson": n,
                "spearman": rows if spearman else 0,
                "cramers_v": rows if cramer else 0,
            },
        }
        if names:
            out["pearson_matrix"] = {
                "columns": names,
                "values": [[None if not np.isfinite(x) else float(x) for x in r] for r in matrix],
            }
        return out

    # -- clusters ------------------------------------------------------------------------

    def _text_clusters(self) -> tuple[dict[str, Any], list[Group]]:
        config = self.config
        rows = min(self.m, max(config.text_rows, config.cluster_rows))
        out: dict[str, Any] = {}
        groups: list[Group] = []
        self.text_embeddings: dict[str, tuple[list[str], Any]] = {}
        rids = self.sample.column("__rid").to_numpy()
        text_rows = min(self.m, config.text_rows)
        for col in self.text:
            values = [v if v is not None else "" for v in self._values(col, rows)]
            embedding = clustering.text_embedding(values, config.seed)
            self.text_embeddings[col.name] = (values, embedding)
            if embedding is not None and text_rows < rows:
                embedding = clustering.TextEmbedding(
                    embedding.vectors[:text_rows], embedding.components, embedding.names
                )
            summary, labels = clustering.text_clusters(
                values[:text_rows], embedding, config.max_text_clusters, config.seed, self.n_rows
            )
            metrics = distribution_metrics(
                [c["sampled_rows"] for c in summary["clusters"]], config.rare_threshold
            )
            summary["metrics"] = metrics
            for cluster in summary["clusters"]:
                cluster["rare"] = cluster["share"] < config.rare_threshold
                if cluster["rare"] and labels is not None:
                    members = rids[:text_rows][labels == cluster["cluster"]]  # in u order
                    need = min(
                        members.size,
                        rare_lower_bound(
                            cluster["rows"], self.n_rows, config.sample_size, config.rare_oversample
                        ),
                    )
                    groups.append(
                        Group(
                            "rare_text_cluster",
                            col.name,
                            int(cluster["cluster"]),
                            int(cluster["rows"]),
                            int(need),
                            rids=[int(r) for r in members[: max(need, 1) * 4]],
                        )
                    )
            out[col.name] = summary
        return out, groups

    def _row_clusters(self) -> dict[str, Any]:
        config = self.config
        rows = min(self.m, config.cluster_rows)
        numeric = {
            c.name: self._values(c, rows) for c in self.numeric if not self.nstats[c.name]["empty"]
        }
        categorical = {
            c.name: capped(
                self.sample.column(c.alias).slice(0, rows), self.marginal_dims[c.name].levels
            )
            for c in self.categorical
        }
        text = {}
        for name, (values, embedding) in self.text_embeddings.items():
            text[name] = (values[:rows], None if embedding is None else embedding.vectors[:rows])
        return clustering.row_clusters(
            numeric, categorical, text, config.max_clusters, config.seed, self.n_rows
        )

    # -- pass 4: the stratified sample --------------------------------------------------

    def _sample(self, text_groups: list[Group]) -> tuple[dict[str, Any], pa.Table]:
        config = self.config
        n = config.sample_size
        total = self.n_rows
        counts = self.strata_counts
        rare = counts < config.rare_threshold * total
        lower = np.array(
            [
                rare_lower_bound(int(c), total, n, config.rare_oversample)
                if r
                else min(int(c), config.min_rows_per_stratum)
                for c, r in zip(counts, rare, strict=True)
            ],
            dtype=np.int64,
        )
        lower = np.maximum(lower, np.minimum(counts, config.min_rows_per_stratum))
        preliminary = bounded_allocation(n, counts, lower)

        groups: list[Group] = list(text_groups)
        conditions: list[str] = []
        key_exprs: list[str] = []  # marginal keys and tail flags the conditions need
        needed: set[str] = {d.column for d in self.dims}  # columns to clean
        max_fraction = 0.0  # no candidate has a hash above this (forced rows aside)
        # rare levels of categorical columns and rare text length buckets
        for col in self.categorical + self.text:
            levels = self.marginal_counts[col.name]
            kind = "rare_level" if col.kind == "categorical" else "rare_text_length"
            rare_levels = [(k, c) for k, c in levels.items() if c < config.rare_threshold * total]
            if not rare_levels:
                continue
            key = f"__m{col.index}"
            dim = self.marginal_dims[col.name]
            thr = 0.0
            for code, count in rare_levels:
                need = rare_lower_bound(count, total, n, config.rare_oversample)
                groups.append(Group(kind, col.name, dim.label(code), count, need, key, int(code)))
                thr = max(thr, candidate_fraction(need, count))
            literal = ", ".join(str(int(code)) for code, _ in rare_levels)
            conditions.append(f"({key} IN ({literal}) AND __u <= {u64_threshold(thr)}::UBIGINT)")
            key_exprs.append(f"{dim.expression(col.alias)} AS {key}")
            needed.add(col.name)
            max_fraction = max(max_fraction, thr)
        # extreme tails
        tailed = [c for c in self.numeric if not self.nstats[c.name]["empty"]]
        per_tail = (
            max(1, math.ceil(config.tail_fraction * n / max(1, 2 * len(tailed))))
            if config.tail_fraction > 0
            else 0
        )
        extremes: list[int] = []
        for col in tailed:
            st = self.nstats[col.name]
            i = col.index
            for side, op, bound, count_key in (
                ("low", "<", st["tail_low"], f"tlo{i}"),
                ("high", ">", st["tail_high"], f"thi{i}"),
            ):
                population = int(self.g.get(count_key) or 0)
                flag = f"__t{side}{i}"
                if population == 0 or per_tail == 0:
                    continue
                key_exprs.append(f"coalesce({col.alias} {op} {sql_float(bound)}, false) AS {flag}")
                needed.add(col.name)
                need = min(population, per_tail)
                groups.append(
                    Group(
                        f"tail_{side}", col.name, f"{op} {bound:.6g}", population, need, flag, True
                    )
                )
                fraction = candidate_fraction(need, population)
                max_fraction = max(max_fraction, fraction)
                conditions.append(f"({flag} AND __u <= {u64_threshold(fraction)}::UBIGINT)")
            for key in (f"argmin{i}", f"argmax{i}"):
                if self.g.get(key) is not None:
                    extremes.append(int(self.g[key]))
        if extremes:
            uniq = sorted(set(extremes))
            groups.append(Group("extreme", "*", "min/max rows", len(uniq), len(uniq), rids=uniq))
        forced = sorted({r for g in groups if g.mask_column is None for r in g.rids})
        self.src.register("__forced", pa.table({"__rid": pa.array(forced, type=pa.int64())}))
        if forced:
            conditions.append("__rid IN (SELECT __rid FROM __forced)")

        # the strata lookup table
        key_names = [f"__k{j}" for j in range(len(self.dims))]
        fractions = [
            candidate_fraction(int(a), int(c)) for a, c in zip(preliminary, counts, strict=True)
        ]
        max_fraction = max([max_fraction, *fractions])
        thresholds = [u64_threshold(f) for f in fractions]
        lookup: dict[str, Any] = {}
        for j in range(len(self.dims)):
            values = [k[j] for k in self.strata_keys]
            lookup[key_names[j]] = pa.array(values, type=pa.int32())
        lookup["__stratum"] = pa.array(range(len(self.strata_keys)), type=pa.int64())
        lookup["__thr"] = pa.array(thresholds, type=pa.uint64())
        self.src.register("__strata", pa.table(lookup))

        # One scan: rows under the largest hash threshold (and forced rows) first, then the
        # keys and flags for those only, then the per-group thresholds.
        alias_of = {c.name: c.alias for c in self.analysed}
        exprs = [
            f"{dim.expression(alias_of[dim.column])} AS {key_names[j]}"
            for j, dim in enumerate(self.dims)
        ]
        exprs += key_exprs
        data_cols = [name for name in self.src.columns if name not in RESERVED]
        data_list = ", ".join(quote_ident(c) for c in data_cols)
        prefilter = ""
        if max_fraction < 1.0:
            prefilter = f" WHERE {self.u_expr} <= {u64_threshold(max_fraction)}::UBIGINT" + (
                " OR __rid IN (SELECT __rid FROM __forced)" if forced else ""
            )
        inner = f"SELECT {data_list}, __rid, __row, {self.u_expr} AS __u FROM {{src}}{prefilter}"
        cleaning = [c for c in self.analysed if c.name in needed]
        cleaned = ", ".join(f"{c.clean()} AS {c.alias}" for c in cleaning)
        if cleaned:
            inner = f"SELECT *, {cleaned} FROM ({inner})"
        keyed = f"SELECT *{', ' if exprs else ''}{', '.join(exprs)} FROM ({inner})"
        join = " AND ".join(f"b.{k} = s.{k}" for k in key_names) or "true"
        where = " OR ".join(["b.__u <= s.__thr", *conditions])
        drop = [c.alias for c in cleaning]
        exclude = f" EXCLUDE ({', '.join(drop)})" if drop else ""
        candidates = self.src.arrow(
            f"SELECT b.*{exclude}, s.__stratum FROM ({keyed}) b "
            f"JOIN __strata s ON {join} WHERE {where}"
        )
        self.src.con.unregister("__strata")
        self.src.con.unregister("__forced")

        chosen = select(candidates, n, counts, lower, groups)
        allocation, drawn = chosen.allocation, chosen.drawn
        if chosen.shortfall:
            self.warnings.append(
                f"{chosen.shortfall} rows short of the allocation (the hash thresholds kept too "
                "few candidates); the sample is slightly smaller"
            )
        sample = candidates.take(pa.array(chosen.positions))
        weights = counts[sample.column("__stratum").to_numpy()] / np.maximum(
            drawn[sample.column("__stratum").to_numpy()], 1
        )
        out = sample.select(data_cols)
        out = out.append_column("__row", sample.column("__row"))
        out = out.append_column("__stratum", sample.column("__stratum"))
        out = out.append_column("__weight", pa.array(weights, type=pa.float64()))
        size = out.num_rows
        if size > n:
            self.warnings.append(
                f"the sample has {size} rows, more than the {n} asked, to keep every rare stratum, "
                "rare level and tail (raise sample_size or rare_threshold to avoid this)"
            )
        moe, per = margin_of_error(drawn, counts, config.confidence_level)
        self.margin_of_error = moe
        self.per_stratum_moe = per
        self.allocation = allocation
        self.drawn = drawn
        self.lower = chosen.lower_bounds
        info = {
            "path": None,
            "requested": n,
            "size": size,
            "seed": config.seed,
            "strata_covered": int((drawn > 0).sum()),
            "strata_total": int(counts.size),
            "rare_strata_kept": int(((drawn > 0) & rare).sum()),
            "rare_strata_total": int(rare.sum()),
            "rare_oversample": config.rare_oversample,
            "tail_quantiles": list(config.tail_quantiles),
            "tail_rows_per_side": per_tail,
            "constraints": [
                g.to_dict() for g in sorted(groups, key=lambda g: (g.kind, g.column, str(g.level)))
            ],
            "margin_of_error": moe,
            "confidence_level": config.confidence_level,
            "sampling_confidence": max(0.0, 1.0 - moe),
            "stratum_margin_of_error": {
                "min": float(per.min()) if per.size else None,
                "median": float(np.median(per)) if per.size else None,
                "max": float(per.max()) if per.size else None,
            },
            "columns_added": {
                "__row": "row position in the dataset",
                "__stratum": "stratum id (see strata.strata)",
                "__weight": "design weight: stratum rows / sampled rows of the stratum",
            },
        }
        return info, out

    # -- result --------------------------------------------------------------------------


def _to_table(relation: Any) -> pa.Table:
    from .engine import to_arrow

    return to_arrow(relation)


def _plain(value: Any) -> Any:
    """Engine numbers as Python int / float (DuckDB returns HUGEINT counts as Decimal)."""
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
