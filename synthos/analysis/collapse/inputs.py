"""Candidate and reference as the dimensions see them: common columns, samples, the holdout
split and the exact-duplicate counts over every row.

Each dataset is opened once through the analysis engine (`synthos.analysis.engine`), which
scans Parquet in place and streams every other format through the loader, so memory stays
bounded whatever the size. One engine pass per dataset hashes every row over the common
columns (numbers as DOUBLE, everything else as text, so an int 1 and a float 1.0 agree):
the exact duplicate rate and the copies of reference rows count every row. A uniform,
seeded sample (``sample_rows``) feeds every other statistic; a time series is read in time
order instead (``series_rows`` steps), because sampling rows would destroy its time axis.

The reference sample is split into the part the candidate is compared with and a holdout
(``holdout_fraction``): a real sample compared in the same way, the null baseline of the
distance-to-closest-record, coverage, discriminator and TSTR statistics. For a series the
holdout is the last stretch of the reference, so both parts stay contiguous.

A dataset is never compared with itself: the same object or file, or the same content
(the same columns, row count, distinct rows and order-free sum of row hashes, every row
found in the other), means no reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthos.analysis.columns import Column, classify, type_family
from synthos.analysis.engine import Source, open_source, quote_ident
from synthos.analysis.sampling import candidate_fraction, u64_threshold
from synthos.errors import DataError, ErrorCode

from .config import CollapseConfig

#: Kinds the dimensions analyse (from `synthos.analysis.columns.classify`).
ANALYSED_KINDS = ("numeric", "categorical")
_ENGINE_COLUMNS = ("__rid", "__row")
_NUMERIC_FAMILIES = ("int", "float", "bool")


@dataclass
class Comparison:
    """Everything a dimension may use. `reference` and `holdout` are None without a reference.

    candidate / reference / holdout: samples restricted to the analysed columns.
    kinds: column -> "numeric" | "categorical" (tabular and series value columns).
    text_column / time_column: the modality's special column, if any.
    counts: exact row counts over every row (rows, duplicate rows, copied reference rows).
    notes: schema mismatch, self-comparison, sampling; shown as evidence.
    cache: derived views (tokens, features) shared between dimensions.
    """

    modality: str
    candidate: pa.Table
    reference: pa.Table | None
    holdout: pa.Table | None
    kinds: dict[str, str]
    config: CollapseConfig
    text_column: str | None = None
    time_column: str | None = None
    target_column: str | None = None
    cascade: dict[str, Any] | None = None
    counts: dict[str, int | None] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_reference(self) -> bool:
        return self.reference is not None and self.holdout is not None

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "numeric"]

    @property
    def categorical_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "categorical"]

    def sample_sizes(self) -> dict[str, int | None]:
        return {
            "candidate_rows": self.counts.get("candidate_rows"),
            "candidate_sample": self.candidate.num_rows,
            "reference_rows": self.counts.get("reference_rows"),
            "reference_sample": self.reference.num_rows if self.reference is not None else None,
            "holdout_sample": self.holdout.num_rows if self.holdout is not None else None,
        }


def prepare(
    candidate: Any,
    reference: Any = None,
    cascade: dict[str, Any] | None = None,
    *,
    modality: str | None = None,
    config: CollapseConfig | None = None,
) -> Comparison:
    """Open, check, hash and sample both datasets (see the module docstring)."""
    config = config or CollapseConfig()
    notes: dict[str, Any] = {}
    cand_src = _open(candidate, "candidate", config)
    ref_src = None
    try:
        if reference is not None:
            same = _same_source(candidate, reference)
            if same:
                notes["self_comparison"] = _self_note(same)
            else:
                ref_src = _open(reference, "reference", config)
        return _build(cand_src, ref_src, candidate, cascade, modality, config, notes)
    finally:
        cand_src.close()
        if ref_src is not None:
            ref_src.close()


def _self_note(why: str) -> str:
    return (
        f"the reference is the candidate itself ({why}); it is ignored, so the dimensions "
        "that need a reference are not evaluated"
    )


def _open(data: Any, role: str, config: CollapseConfig) -> Source:
    try:
        source = open_source(
            data, threads=config.threads, load_options=dict(config.load_options or {})
        )
    except DataError as exc:
        if exc.code == ErrorCode.DATA_EMPTY:
            raise DataError(
                f"the {role} dataset has no rows",
                code=ErrorCode.DATA_EMPTY,
                path=exc.details.get("path"),
                expected="at least one row",
            ) from exc
        raise
    if not _data_columns(source):
        source.close()
        raise DataError(
            f"the {role} dataset has no columns",
            code=ErrorCode.DATA_SCHEMA,
            path=source.path,
            expected="at least one column",
        )
    return source


def _data_columns(source: Source) -> dict[str, str]:
    return {n: t for n, t in source.columns.items() if n not in _ENGINE_COLUMNS}


def row_hash_expr(names: list[str], numeric: set[str]) -> str:
    parts = [f"CAST({quote_ident(n)} AS {'DOUBLE' if n in numeric else 'VARCHAR'})" for n in names]
    return f"hash({', '.join(parts)})"


def _same_source(cand: Any, ref: Any) -> str | None:
    if cand is ref:
        return "same object"
    paths = isinstance(cand, (str, os.PathLike)) and isinstance(ref, (str, os.PathLike))
    if paths and os.path.realpath(os.fspath(cand)) == os.path.realpath(os.fspath(ref)):
        return "same path"
    return None


def _build(
    cand_src: Source,
    ref_src: Source | None,
    candidate: Any,
    cascade: dict[str, Any] | None,
    modality: str | None,
    config: CollapseConfig,
    notes: dict[str, Any],
) -> Comparison:
    cand_cols = _data_columns(cand_src)
    ref_cols = _data_columns(ref_src) if ref_src is not None else None
    if ref_cols is not None:
        common = [n for n in ref_cols if n in cand_cols]
        mismatch = _schema_mismatch(cand_cols, ref_cols)
        if mismatch:
            notes["schema_mismatch"] = mismatch
        if not common:
            raise DataError(
                "the candidate and the reference have no column in common",
                code=ErrorCode.DATA_SCHEMA,
                path=cand_src.path,
                expected="shared column names; reference has "
                + ", ".join(repr(c) for c in list(ref_cols)[:10]),
            )
    else:
        common = list(cand_cols)
    numeric_pair = {
        n
        for n in common
        if type_family(cand_cols[n]) in _NUMERIC_FAMILIES
        and type_family((ref_cols or cand_cols)[n]) in _NUMERIC_FAMILIES
    }
    hash_cols = [n for n in common if type_family(cand_cols[n]) not in ("nested", "other")]
    counts = {"candidate_rows": cand_src.num_rows, "reference_rows": None}
    counts.update(_hash_rows(cand_src, ref_src, hash_cols, numeric_pair, config.seed))
    identical = counts.pop("identical")
    if ref_src is not None and identical and set(cand_cols) == set(ref_cols):
        notes["self_comparison"] = _self_note("identical content hash")
        notes.pop("schema_mismatch", None)
        ref_src, ref_cols = None, None
        counts = {k: v for k, v in counts.items() if k.startswith("candidate")}
        counts["reference_rows"] = None
    base_src = ref_src or cand_src
    base_cols = ref_cols or cand_cols
    inference = _modality(candidate, cand_src, modality)
    time_column = config.time_column or (
        inference.column if inference.modality == "time_series" else None
    )
    text_column = config.text_column or (inference.column if inference.modality == "text" else None)
    if inference.modality == "text" and text_column is None:
        text_column = _longest_string_column(cand_src, common)
    for special in (time_column, text_column):
        if special is not None and special not in common:
            raise DataError(
                f"column {special!r} is missing from "
                + ("the reference" if special in cand_cols else "the candidate"),
                code=ErrorCode.DATA_SCHEMA,
                path=cand_src.path,
                column=special,
                expected=f"the {inference.modality} column in both datasets",
            )

    series = inference.modality == "time_series"
    if series:  # repeated values are normal in a series: copies are judged on windows
        counts = {k: counts[k] for k in ("candidate_rows", "reference_rows")}

    cand_sample = _sample(cand_src, common, config, series)
    base_sample = _sample(base_src, common, config, series) if ref_src else cand_sample
    kinds: dict[str, str] = {}
    if inference.modality != "text":
        kinds = _kinds(base_sample, base_cols, common, exclude={time_column})
        if series:
            kinds = {c: k for c, k in kinds.items() if k == "numeric"}
    cand_table, dropped = coerce_columns(cand_sample, kinds, base_cols, cand_cols, text_column)
    if dropped:
        notes["incomparable_columns"] = dropped
        kinds = {c: k for c, k in kinds.items() if c not in dropped}
    analysed = [c for c in common if c in kinds or c in (text_column, time_column)]
    if not analysed:
        raise DataError(
            "no column can be compared",
            code=ErrorCode.DATA_SCHEMA,
            path=cand_src.path,
            expected="a numeric, categorical or text column shared by both datasets",
        )
    reference = holdout = None
    if ref_src is not None:
        ref_table, _ = coerce_columns(base_sample, kinds, base_cols, base_cols, text_column)
        ref_table = _in_order(ref_table.select(analysed), time_column)
        reference, holdout = _split(ref_table, config, series)
    target = config.target_column or (analysed[-1] if inference.modality == "tabular" else None)
    if target is not None and target not in kinds:
        target = None
    skipped = [c for c in common if c not in analysed]
    if skipped:
        notes["skipped_columns"] = skipped
    notes["modality"] = inference.to_dict()
    dataset = {
        "path": cand_src.path,
        "modality": inference.modality,
        "rows": cand_src.num_rows,
        "columns": list(cand_cols),
    }
    return Comparison(
        modality=inference.modality,
        candidate=_in_order(cand_table.select(analysed), time_column),
        reference=_in_order(reference, time_column),
        holdout=_in_order(holdout, time_column),
        kinds=kinds,
        config=config,
        text_column=text_column,
        time_column=time_column,
        target_column=target,
        cascade=cascade,
        counts=counts,
        notes=notes,
        dataset=dataset,
    )


def _modality(candidate: Any, source: Source, override: str | None):
    """The modality and its special column (text or time). An override sets the modality;
    the inference still names the column when it agrees."""
    import dataclasses

    from synthos.datamodules.modality import infer_modality

    preview = source.arrow("SELECT * EXCLUDE (__rid, __row) FROM {src} ORDER BY __row LIMIT 2000")
    path = os.fspath(candidate) if isinstance(candidate, (str, os.PathLike)) else "<table>"
    found = infer_modality(path, preview=preview)
    if override is None:
        return found
    chosen = infer_modality(path, override)
    if chosen.modality == found.modality:
        return dataclasses.replace(found, overridden=True)
    return chosen


def _longest_string_column(source: Source, names: list[str]) -> str | None:
    strings = [n for n in names if type_family(source.columns[n]) == "string"]
    if not strings:
        return None
    lengths = ", ".join(f"avg(length(CAST({quote_ident(n)} AS VARCHAR)))" for n in strings)
    (row,) = source.fetchall(f"SELECT {lengths} FROM (SELECT * FROM {{src}} LIMIT 2000)")
    return strings[int(np.argmax([v or 0 for v in row]))]


def _schema_mismatch(cand: dict[str, str], ref: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    missing = [n for n in ref if n not in cand]
    extra = [n for n in cand if n not in ref]
    types = {
        n: {"candidate": cand[n], "reference": ref[n]}
        for n in ref
        if n in cand and type_family(cand[n]) != type_family(ref[n])
    }
    if missing:
        out["missing_in_candidate"] = missing
    if extra:
        out["extra_in_candidate"] = extra
    if types:
        out["type_mismatch"] = types
    return out


#: Modulus of the order-free row-hash sum that fingerprints a dataset's content.
_FINGERPRINT_MOD = 1_000_000_007


def _hash_rows(
    cand: Source, ref: Source | None, names: list[str], numeric: set[str], seed: int
) -> dict[str, Any]:
    """Exact duplicates over every row, hashed in the engine (one pass per dataset).

    candidate_duplicate_rows: rows equal to an earlier row. copied_reference_rows: candidate
    rows equal to some reference row; its real-data baseline is
    reference_rows_in_duplicate_groups (reference rows equal to another reference row: what
    a fresh real row meets against a reference of this size). The duplicate rate grows with
    the number of rows drawn, so both are also counted at the same size (the larger one
    hash-subsampled): matched_rows, candidate_/reference_matched_duplicate_rows. identical:
    same rows, same distinct rows, same order-free hash sum, every row found in the other.
    """
    if not names:
        return {"identical": False}
    h = row_hash_expr(names, numeric)
    mod = _FINGERPRINT_MOD
    if ref is None:
        (row,) = cand.fetchall(f"SELECT count(*) - count(DISTINCT {h}) FROM {{src}}")
        return {"candidate_duplicate_rows": int(row[0]), "identical": False}
    groups = ref.arrow(f"SELECT h, count(*) AS c FROM (SELECT {h} AS h FROM {{src}}) GROUP BY h")
    hashes = groups.column("h").to_numpy()
    sizes = groups.column("c").to_numpy().astype(np.int64)
    ref_rows = int(sizes.sum())
    ref_sum = int(np.sum(((hashes % mod).astype(np.int64) * sizes) % mod)) % mod
    cand.register("__synthos_reference_hashes", groups.select(["h"]))
    (row,) = cand.fetchall(
        f"SELECT count(*), count(DISTINCT t.h), sum(t.h % {mod}) % {mod}, count(r.h) "
        f"FROM (SELECT {h} AS h FROM {{src}}) t "
        "LEFT JOIN __synthos_reference_hashes r ON t.h = r.h"
    )
    cand_rows, cand_distinct, cand_sum, copied = (int(v or 0) for v in row)
    out: dict[str, Any] = {
        "candidate_duplicate_rows": cand_rows - cand_distinct,
        "reference_rows": ref_rows,
        "reference_duplicate_rows": ref_rows - hashes.size,
        "reference_rows_in_duplicate_groups": int(sizes[sizes >= 2].sum()),
        "copied_reference_rows": copied,
        "identical": (cand_rows, cand_distinct, cand_sum, copied)
        == (ref_rows, hashes.size, ref_sum, ref_rows),
    }
    n = min(cand_rows, ref_rows)
    out["matched_rows"] = n
    for role, source, rows in (("candidate", cand, cand_rows), ("reference", ref, ref_rows)):
        if rows > n:
            u = f"hash(__rid, {int(seed)}::BIGINT)"
            thr = u64_threshold(candidate_fraction(n, rows))
            (row,) = source.fetchall(
                f"SELECT count(*) - count(DISTINCT h) FROM (SELECT {h} AS h FROM {{src}} "
                f"WHERE {u} <= {thr}::UBIGINT ORDER BY {u}, __rid LIMIT {n})"
            )
            out[f"{role}_matched_duplicate_rows"] = int(row[0])
        else:
            out[f"{role}_matched_duplicate_rows"] = out[f"{role}_duplicate_rows"]
    return out


def _sample(source: Source, names: list[str], config: CollapseConfig, series: bool) -> pa.Table:
    select = ", ".join(quote_ident(n) for n in names)
    if series:
        table = source.arrow(
            f"SELECT {select} FROM {{src}} ORDER BY __row LIMIT {int(config.series_rows)}"
        )
    else:
        u = f"hash(__rid, {int(config.seed)}::BIGINT)"
        thr = u64_threshold(candidate_fraction(config.sample_rows, source.num_rows))
        # The hash filter spares sorting every row; its margin almost surely keeps enough
        # rows, and the query without it runs when it did not.
        ordered = f"ORDER BY {u}, __rid LIMIT {int(config.sample_rows)}"
        table = source.arrow(f"SELECT {select} FROM {{src}} WHERE {u} <= {thr}::UBIGINT {ordered}")
        if table.num_rows < min(config.sample_rows, source.num_rows):
            table = source.arrow(f"SELECT {select} FROM {{src}} {ordered}")
    columns = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def _kinds(
    table: pa.Table, types: dict[str, str], names: list[str], exclude: set[str | None]
) -> dict[str, str]:
    kinds = {}
    for index, name in enumerate(names):
        if name in exclude:
            continue
        column = Column(name, types[name], index)
        classify(column, table.column(name), max_levels=50, max_int_levels=12)
        if column.kind in ANALYSED_KINDS:
            kinds[name] = column.kind
    return kinds


def coerce_columns(
    table: pa.Table,
    kinds: dict[str, str],
    base: dict[str, str],
    own: dict[str, str],
    text_column: str | None,
) -> tuple[pa.Table, dict[str, str]]:
    """Cast analysed columns to their kind (float64 or string); a column whose values cannot
    be read as its reference kind is dropped and named."""
    dropped: dict[str, str] = {}
    columns, names = [], []
    for name in table.column_names:
        column = table.column(name)
        kind = kinds.get(name)
        if kind == "numeric":
            if type_family(own[name]) == "temporal":
                column = pc.cast(column, pa.timestamp("us")).cast(pa.int64())
            try:
                column = pc.cast(column, pa.float64(), safe=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                import pandas as pd

                values = pd.to_numeric(column.to_pandas(), errors="coerce")
                readable = values.notna().sum() / max(1, len(column) - column.null_count)
                if readable < 0.5:
                    dropped[name] = (
                        f"reference type {base[name]} but candidate type {own[name]} "
                        f"({readable:.0%} readable as numbers)"
                    )
                    continue
                column = pa.chunked_array([pa.array(values.to_numpy(), pa.float64())])
        elif kind == "categorical" or name == text_column:
            column = pc.cast(column, pa.string())
        columns.append(column)
        names.append(name)
    return pa.table(columns, names=names), dropped


def _split(
    table: pa.Table, config: CollapseConfig, series: bool
) -> tuple[pa.Table, pa.Table | None]:
    n = table.num_rows
    n_holdout = round(n * config.holdout_fraction)
    if n_holdout < 2 or n - n_holdout < 2:
        raise DataError(
            f"the reference has {n} rows; at least 4 are needed to keep a holdout",
            code=ErrorCode.DATA_EMPTY,
            expected="a reference of at least 4 rows",
        )
    if series:
        return table.slice(0, n - n_holdout), table.slice(n - n_holdout)
    order = np.random.default_rng(config.seed).permutation(n)
    return table.take(np.sort(order[n_holdout:])), table.take(np.sort(order[:n_holdout]))


def _in_order(table: pa.Table | None, time_column: str | None) -> pa.Table | None:
    """Series rows sorted by their time column (stable), so time runs forward."""
    if table is None or time_column is None or time_column not in table.column_names:
        return table
    return table.sort_by([(time_column, "ascending")])
