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
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthos.analysis.columns import type_family
from synthos.analysis.engine import Source, open_source, quote_ident
from synthos.analysis.sampling import candidate_fraction, u64_threshold
from synthos.errors import DataError, ErrorCode

from . import roles as roles_mod
from .config import CollapseConfig
from .metadata import Metadata, load_metadata

if TYPE_CHECKING:
    from synthos.datamodules.modality import ModalityInference

_ENGINE_COLUMNS = ("__rid", "__row")
_NUMERIC_FAMILIES = ("int", "float", "bool")


@dataclass
class Comparison:
    """Everything a dimension may use. `reference` and `holdout` are None without a reference.

    candidate / reference / holdout: samples restricted to the analysed columns.
    kinds: column -> "numeric" | "categorical" (tabular and series value columns).
    text_column / time_column: the modality's special column, if any.
    entity_column: a panel's entity key (rows sorted by entity, then time).
    roles: every common column's role (`roles`), with why.
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
    entity_column: str | None = None
    roles: roles_mod.Roles = field(default_factory=roles_mod.Roles)
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


@dataclass(frozen=True)
class _Specials:
    """The columns the modality singles out: the text, the time index, a panel's entity key."""

    text: str | None
    time: str | None
    entity: str | None

    @property
    def order(self) -> list[str]:
        """The columns a series is sorted by: entity, then time."""
        return [c for c in (self.entity, self.time) if c is not None]

    @property
    def kept(self) -> tuple[str | None, ...]:
        """The special columns, analysed whatever their kind."""
        return (self.text, self.time, self.entity)


@dataclass(frozen=True)
class _Analysed:
    """The analysed samples (reference and holdout None without a reference), the kind of
    each analysed column and the columns dropped as incomparable."""

    candidate: pa.Table
    reference: pa.Table | None
    holdout: pa.Table | None
    kinds: dict[str, str]
    dropped: dict[str, str]


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
    common = _common_columns(cand_src, cand_cols, ref_cols, notes)
    meta = _metadata(config, set(cand_cols) | set(ref_cols or {}), cand_src.path)
    entity = config.entity_column or meta.entity
    inference = dataset_modality(candidate, cand_src, modality, panel=entity is not None)
    specials = _special_columns(cand_src, cand_cols, common, config, meta, inference, entity)
    kind = inference.modality
    series = kind == "time_series"
    cand_sample = _sample(cand_src, common, config, series, specials.order)
    base_sample = (
        _sample(ref_src, common, config, series, specials.order) if ref_src else cand_sample
    )
    plain = [c for c in common if c != specials.text or kind != "text"]
    given = _given_roles(config, meta, specials)
    roles = roles_mod.infer(base_sample, cand_sample, ref_cols or cand_cols, plain, given)
    meaningful = config.meaningful_keys or bool(meta.meaningful_keys)
    counts, same_content = _kept_counts(
        _counts(cand_src, ref_src, cand_cols, ref_cols, common, roles, meaningful, config),
        cand_cols,
        ref_cols,
        series,
    )
    if same_content:
        notes["self_comparison"] = _self_note("identical content hash")
        notes.pop("schema_mismatch", None)
    compared = ref_src is not None and not same_content
    ref_sample, base_cols = (base_sample, ref_cols) if compared else (None, cand_cols)
    analysed = _analysed(
        cand_sample, ref_sample, cand_cols, base_cols, roles, kind, specials, config, cand_src.path
    )
    if analysed.dropped:
        notes["incomparable_columns"] = analysed.dropped
    target = _target(config.target_column or meta.target, analysed.kinds, roles, kind)
    notes.update(_role_notes(roles, common, analysed.kinds, specials.kept, meaningful))
    notes["modality"] = inference.to_dict()
    return Comparison(
        modality=kind,
        candidate=analysed.candidate,
        reference=analysed.reference,
        holdout=analysed.holdout,
        kinds=analysed.kinds,
        config=config,
        text_column=specials.text,
        time_column=specials.time,
        entity_column=specials.entity,
        target_column=target,
        cascade=cascade,
        counts=counts,
        notes=notes,
        dataset=_dataset_entry(cand_src, kind, cand_cols, roles, specials),
        roles=roles,
    )


def _special_columns(
    cand_src: Source,
    cand_cols: dict[str, str],
    common: list[str],
    config: CollapseConfig,
    meta: Metadata,
    inference: ModalityInference,
    entity: str | None,
) -> _Specials:
    """The text, time and entity columns: set by the user, the metadata or the modality
    inference (a text dataset without one takes its longest string column); each must be in
    both datasets."""
    time_column = config.time_column or meta.time
    if time_column is None and inference.modality == "time_series":
        time_column = inference.column
    text_column = config.text_column or (inference.column if inference.modality == "text" else None)
    if inference.modality == "text" and text_column is None:
        text_column = longest_string_column(cand_src, common)
    specials = {time_column: "time", text_column: "text", entity: "entity"}
    for special, what in specials.items():
        if special is not None and special not in common:
            raise DataError(
                f"{what} column {special!r} is missing from "
                + ("the reference" if special in cand_cols else "the candidate"),
                code=ErrorCode.DATA_SCHEMA,
                path=cand_src.path,
                column=special,
                expected=f"the {what} column in both datasets",
            )
    return _Specials(text=text_column, time=time_column, entity=entity)


def _given_roles(
    config: CollapseConfig, meta: Metadata, specials: _Specials
) -> dict[str, roles_mod.ColumnRole]:
    """Roles not left to inference: the metadata's, the user's, the time index and the
    entity key."""
    given = {**roles_mod.given_roles(meta.roles, "metadata", meta.source), **_user_roles(config)}
    given.update(
        {
            c: roles_mod.ColumnRole(
                c, r, f"the {what}", "metadata" if c in meta.columns() else "inferred"
            )
            for c, r, what in (
                (specials.time, "time", "time index"),
                (specials.entity, "entity", "panel's entity key"),
            )
            if c is not None
        }
    )
    return given


def _kept_counts(
    counts: dict[str, Any],
    cand_cols: dict[str, str],
    ref_cols: dict[str, str] | None,
    series: bool,
) -> tuple[dict[str, Any], bool]:
    """The exact row counts kept, and whether the reference holds the candidate's very
    content (then only the candidate's counts are kept). A series keeps only its row counts:
    repeated values are normal in a series, so copies are judged on windows."""
    identical = counts.pop("identical", None)
    same_content = bool(ref_cols is not None and identical and set(cand_cols) == set(ref_cols))
    if same_content:
        counts = {k: v for k, v in counts.items() if k.startswith("candidate")}
        counts["reference_rows"] = None
    if series:
        counts = {k: counts[k] for k in ("candidate_rows", "reference_rows")}
    return counts, same_content


def _analysed(
    cand_sample: pa.Table,
    ref_sample: pa.Table | None,
    cand_cols: dict[str, str],
    base_cols: dict[str, str],
    roles: roles_mod.Roles,
    modality: str,
    specials: _Specials,
    config: CollapseConfig,
    path: str | None,
) -> _Analysed:
    """The samples cast to their columns' kinds and cut to the analysed columns; the
    reference sample (None without a reference) split into reference and holdout.
    `base_cols`: the reference's column types (the candidate's without a reference)."""
    kinds: dict[str, str] = {}
    if modality != "text":
        kinds = roles.kinds()
        if modality == "time_series":
            kinds = {c: k for c, k in kinds.items() if k == "numeric"}
    cand_table, dropped = coerce_columns(
        roles.features_of(cand_sample), kinds, base_cols, cand_cols, specials.text
    )
    kinds = {c: k for c, k in kinds.items() if c not in dropped}
    analysed = [c for c in cand_table.column_names if c in kinds or c in specials.kept]
    if not any(c in kinds or c == specials.text for c in analysed):
        raise DataError(
            "no column can be compared",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            expected="a numeric, categorical or text column shared by both datasets "
            "(excluded: " + (", ".join(roles.excluded) or "none") + ")",
        )
    reference = holdout = None
    if ref_sample is not None:
        ref_table, _ = coerce_columns(
            roles.features_of(ref_sample), kinds, base_cols, base_cols, specials.text
        )
        ref_table = _in_order(ref_table.select(analysed), specials.order)
        series = modality == "time_series"
        reference, holdout = _split(ref_table, config, series, specials.entity)
    candidate = _in_order(cand_table.select(analysed), specials.order)
    return _Analysed(candidate, reference, holdout, kinds, dropped)


def _dataset_entry(
    cand_src: Source,
    modality: str,
    cand_cols: dict[str, str],
    roles: roles_mod.Roles,
    specials: _Specials,
) -> dict[str, Any]:
    """The report's description of the candidate dataset."""
    dataset = {
        "path": cand_src.path,
        "modality": modality,
        "rows": cand_src.num_rows,
        "columns": list(cand_cols),
        "column_roles": roles.to_dict(),
    }
    if specials.entity is not None:
        dataset["panel"] = {"entity": specials.entity, "time": specials.time}
    return dataset


def _common_columns(
    cand_src: Source, cand_cols: dict[str, str], ref_cols: dict[str, str] | None, notes: dict
) -> list[str]:
    if ref_cols is None:
        return list(cand_cols)
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
    return common


def _metadata(config: CollapseConfig, available: set[str], path: str | None) -> Metadata:
    if config.metadata is None:
        meta = Metadata(source="metadata")
    else:
        meta = load_metadata(config.metadata)
    meta.check_columns(available, path)
    user = Metadata(
        roles=dict(config.column_roles),
        entity=config.entity_column,
        time=config.time_column,
        target=config.target_column,
        source="the column settings",
    )
    user.check_columns(available, path)
    return meta


def _user_roles(config: CollapseConfig) -> dict[str, roles_mod.ColumnRole]:
    return roles_mod.given_roles(config.column_roles, "user")


def _counts(
    cand_src: Source,
    ref_src: Source | None,
    cand_cols: dict[str, str],
    ref_cols: dict[str, str] | None,
    common: list[str],
    roles: roles_mod.Roles,
    meaningful_keys: bool,
    config: CollapseConfig,
) -> dict[str, Any]:
    """Exact-duplicate counts over every row, on the columns that say what a row holds:
    keys only when they are meaningful, never ignored columns."""
    left_out = set(roles.of("ignore")) | (set() if meaningful_keys else set(roles.of("key")))
    names = [
        n
        for n in common
        if n not in left_out and type_family(cand_cols[n]) not in ("nested", "other")
    ]
    numeric = {
        n
        for n in names
        if type_family(cand_cols[n]) in _NUMERIC_FAMILIES
        and type_family((ref_cols or cand_cols)[n]) in _NUMERIC_FAMILIES
    }
    counts: dict[str, Any] = {"candidate_rows": cand_src.num_rows, "reference_rows": None}
    counts.update(_hash_rows(cand_src, ref_src, names, numeric, config.seed))
    return counts


def _target(
    named: str | None, kinds: dict[str, str], roles: roles_mod.Roles, modality: str
) -> str | None:
    """The target column: the one named, else the last analysed column that is neither a
    key nor derived (tables only)."""
    if named is not None:
        if named not in kinds:
            role = roles.columns.get(named)
            raise DataError(
                f"the target column {named!r} is not analysed"
                + (f" (role {role.role}: {role.reason})" if role else ""),
                code=ErrorCode.DATA_SCHEMA,
                column=named,
                expected="a numeric or categorical column of both datasets",
            )
        return named
    if modality != "tabular":
        return None
    plain = [c for c in kinds if c in roles.columns and roles.columns[c].role != "datetime"]
    return plain[-1] if plain else None


def _role_notes(
    roles: roles_mod.Roles,
    common: list[str],
    kinds: dict[str, str],
    keep: tuple[str | None, ...],
    meaningful_keys: bool,
) -> dict[str, Any]:
    """Notes on the columns left out: excluded by their role, or skipped (no usable kind)."""
    notes: dict[str, Any] = {}
    excluded = roles.excluded
    if excluded:
        notes["excluded_columns"] = excluded
        if roles.of("key"):
            notes["keys_in_row_hash"] = meaningful_keys
    used = {k.split(" (")[0] for k in kinds} | set(kinds)
    skipped = [c for c in common if c not in used and c not in excluded and c not in keep]
    if skipped:
        notes["skipped_columns"] = skipped
    return notes


def dataset_modality(candidate: Any, source: Source, override: str | None, panel: bool = False):
    """The modality and its special column (text or time). An override sets the modality;
    the inference still names the column when it agrees. An entity key makes a panel: a
    time series per entity."""
    import dataclasses

    from synthos.datamodules.modality import ModalityInference, infer_modality

    preview = source.arrow("SELECT * EXCLUDE (__rid, __row) FROM {src} ORDER BY __row LIMIT 2000")
    path = os.fspath(candidate) if isinstance(candidate, (str, os.PathLike)) else "<table>"
    found = infer_modality(path, preview=preview)
    if override is not None:
        chosen = infer_modality(path, override)
        if chosen.modality == found.modality:
            found = dataclasses.replace(found, overridden=True)
        else:
            found = chosen
    if panel and found.modality != "time_series":
        if found.overridden:
            raise DataError(
                f"an entity column makes a panel of time series, but the modality is "
                f"{found.modality}",
                code=ErrorCode.DATA_VALUE,
                expected="modality time_series (or none) with an entity column",
            )
        return ModalityInference(
            "time_series", "an entity key and a time index make a panel (one series per entity)"
        )
    return found


def longest_string_column(source: Source, names: list[str]) -> str | None:
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


def _sample(
    source: Source, names: list[str], config: CollapseConfig, series: bool, order: list[str]
) -> pa.Table:
    """A seeded uniform sample of rows; a series in time order (a panel by entity, then
    time: whole entities, up to `series_rows` rows)."""
    select = ", ".join(quote_ident(n) for n in names)
    if series:
        keys = ", ".join([*(quote_ident(c) for c in order[:-1]), "__row"])
        table = source.arrow(
            f"SELECT {select} FROM {{src}} ORDER BY {keys} LIMIT {int(config.series_rows)}"
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
            if pa.types.is_temporal(column.type):
                column = pc.cast(column, pa.timestamp("us")).cast(pa.int64())
            try:
                column = pc.cast(column, pa.float64(), safe=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                import pandas as pd

                values = pd.to_numeric(column.to_pandas(), errors="coerce")
                readable = values.notna().sum() / max(1, len(column) - column.null_count)
                if readable < 0.5:
                    dropped[name] = (
                        f"reference type {base.get(name)} but candidate type {own.get(name)} "
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
    table: pa.Table, config: CollapseConfig, series: bool, entity: str | None = None
) -> tuple[pa.Table, pa.Table | None]:
    """Reference and holdout: tables at random, a series by its last stretch, a panel by
    entity (whole entities on each side)."""
    n = table.num_rows
    if entity is not None:
        split = _split_entities(table, config, entity)
        if split is not None:
            return split
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


def _split_entities(
    table: pa.Table, config: CollapseConfig, entity: str
) -> tuple[pa.Table, pa.Table] | None:
    """Entities drawn at random for the holdout; None with fewer than 2 entities (the
    series is then split in time)."""
    keys = pc.cast(table.column(entity), pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    names = np.unique(keys)
    if names.size < 2:
        return None
    count = int(np.clip(round(names.size * config.holdout_fraction), 1, names.size - 1))
    held = np.random.default_rng(config.seed).permutation(names)[:count]
    mask = np.isin(keys, held)
    return table.filter(pa.array(~mask)), table.filter(pa.array(mask))


def _in_order(table: pa.Table | None, order: list[str]) -> pa.Table | None:
    """Series rows sorted by their entity and time columns (stable), so time runs forward
    within each entity."""
    present = [c for c in order if table is not None and c in table.column_names]
    if table is None or not present:
        return table
    return table.sort_by([(c, "ascending") for c in present])
