"""The profile pass: which columns are analysed, as what, and a uniform sample of their rows.

The profile sample holds up to `profile_rows` rows, those with the smallest
``hash(row id, seed)``: the same rows whatever the thread count or the file split. Column
kinds, quantiles, Spearman, Cramer's V and clusters come from it (exact when the dataset
fits in it); on wide data it is capped at PROFILE_CELLS values, which bounds memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from ..columns import Column, classify, type_family
from ..engine import Params, Source, row_hash
from ..sampling import u64_threshold
from ..strata import PREFIX_CHARS
from .config import DiversityConfig

#: The profile sample holds at most this many values (rows x columns), at least
#: MIN_PROFILE_ROWS rows.
PROFILE_CELLS = 20_000_000
MIN_PROFILE_ROWS = 20_000
#: Column names the engine and the sample add; a dataset's own columns of these names are
#: not analysed.
RESERVED = ("__rid", "__row", "__u", "__stratum", "__weight")


@dataclass(frozen=True)
class ProfileScan:
    """The selected columns (kinds not yet set) and their raw profile values.

    raw: column ``__r{index}`` per readable column (strings cut to PREFIX_CHARS), plus
    ``__rid``, ``__row`` and ``__u``, ordered by u.
    """

    columns: list[Column]
    raw: pa.Table
    warnings: list[str]


@dataclass(frozen=True)
class Profile:
    """The selected columns, each with its kind, and the cleaned profile sample.

    sample: each analysed column under its `Column.alias`, cleaned as the engine cleans it
    (missing and non-finite values are null), plus ``__rid``, ``__row`` and ``__u``, ordered
    by u (ties by row id): any prefix of it is itself a uniform sample.
    dataset_rows: rows of the dataset when it was opened.
    """

    columns: list[Column]
    sample: pa.Table
    dataset_rows: int
    warnings: list[str]

    @property
    def analysed(self) -> list[Column]:
        return [c for c in self.columns if c.kind != "skip"]

    @property
    def numeric(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "categorical"]

    @property
    def text(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "text"]

    @property
    def rows(self) -> int:
        return self.sample.num_rows

    @property
    def exact(self) -> bool:
        """Whether the sample holds every row (its statistics are then exact)."""
        return self.rows >= self.dataset_rows

    def values(self, col: Column, rows: int | None = None) -> np.ndarray:
        """The first `rows` sampled values of `col`: float64 (NaN when missing) or objects."""
        column = self.sample.column(col.alias)
        if rows is not None:
            column = column.slice(0, rows)
        if col.kind == "numeric":
            return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        return np.asarray(column.to_pylist(), dtype=object)

    def kind_of(self, name: str) -> str:
        for col in self.columns:
            if col.name == name:
                return col.kind
        return "unknown"

    def scan_sql(self) -> str:
        """A query over every row: the analysed columns cleaned (as their aliases), the raw
        numeric values (``__r{index}``, to count NaN and infinities), ``__rid`` and ``__row``."""
        cleaned = ", ".join(f"{c.clean()} AS {c.alias}" for c in self.analysed)
        raw = ", ".join(f"{c.raw} AS __r{c.index}" for c in self.numeric)
        parts = [cleaned, raw] if raw else [cleaned]
        return f"SELECT {', '.join(parts)}, __rid, __row FROM {{src}}"


def scan_profile(src: Source, config: DiversityConfig) -> ProfileScan:
    """Select the columns and read the profile sample of their raw values (one scan)."""
    columns = _select_columns(src, config)
    rows = src.num_rows
    warnings = []
    # Bound the profile's memory on wide data: at most PROFILE_CELLS values.
    m = min(config.profile_rows, max(MIN_PROFILE_ROWS, PROFILE_CELLS // max(1, len(columns))))
    if m < config.profile_rows and rows > m:
        warnings.append(
            f"profile sample capped at {m:,} rows for {len(columns)} columns "
            f"(profile_rows={config.profile_rows:,})"
        )
    fraction = 1.0 if rows <= m else min(1.0, (1.15 * m + 64 * math.sqrt(m)) / rows)
    params = Params()
    u = row_hash(params, config.seed)
    fetched = []
    for c in columns:
        family = type_family(c.dtype)
        if family == "string":
            prefix = params.bind(PREFIX_CHARS, "BIGINT")
            fetched.append(f"left(CAST({c.raw} AS VARCHAR), {prefix}) AS __r{c.index}")
        elif family not in ("nested", "other"):
            fetched.append(f"{c.raw} AS __r{c.index}")
    select_list = ", ".join([*fetched, "__rid", "__row", f"{u} AS __u"])
    threshold = params.bind(u64_threshold(fraction), "UBIGINT")
    # ordered by u (ties by row id): any prefix is itself a uniform sample
    raw = src.arrow(
        f"SELECT {select_list} FROM {{src}} WHERE {u} <= {threshold} "
        f"ORDER BY __u, __rid LIMIT {params.bind(m, 'BIGINT')}",
        params.values,
    )
    return ProfileScan(columns, raw, warnings)


def build_profile(src: Source, config: DiversityConfig, scan: ProfileScan) -> Profile:
    """Classify the columns on their profile values, then clean those values in the engine."""
    _classify(scan, config)
    analysed = [c for c in scan.columns if c.kind != "skip"]
    if not analysed:
        raise DataError(
            "no column can be analysed (every column is nested, binary, empty or an identifier)",
            code=ErrorCode.DATA_SCHEMA,
            path=src.path,
            expected="at least one categorical, numeric or text column",
        )
    # Clean profile values with the engine's own expressions.
    src.register("__profile", scan.raw)
    clean_list = ", ".join(f"{c.clean(f'__r{c.index}')} AS {c.alias}" for c in analysed)
    sample = src.arrow(f"SELECT {clean_list}, __rid, __row, __u FROM __profile ORDER BY __u, __rid")
    src.unregister("__profile")
    return Profile(scan.columns, sample, src.num_rows, list(scan.warnings))


def _select_columns(src: Source, config: DiversityConfig) -> list[Column]:
    available = [name for name in src.columns if name not in RESERVED]
    wanted = list(config.columns) if config.columns is not None else available
    if isinstance(config.columns, str):
        wanted = [config.columns]
    missing = [c for c in wanted if c not in src.columns]
    for name in list(config.strata_columns or []) + list(config.column_kinds or {}):
        if name not in src.columns:
            missing.append(name)
    if missing:
        raise DataError(
            f"column {missing[0]!r} is not in the dataset",
            code=ErrorCode.DATA_SCHEMA,
            path=src.path,
            column=missing[0],
            expected="one of " + ", ".join(repr(c) for c in available[:20]),
        )
    if not wanted:
        raise DataError(
            "no columns to analyse",
            code=ErrorCode.DATA_SCHEMA,
            path=src.path,
            expected="at least one column besides the excluded ones",
        )
    for name in config.strata_columns or []:
        if name not in wanted:
            wanted.append(name)
    return [Column(name, src.columns[name], i) for i, name in enumerate(dict.fromkeys(wanted))]


def _classify(scan: ProfileScan, config: DiversityConfig) -> None:
    """Set each column's kind; text columns beyond `max_text_columns` are skipped."""
    kinds = dict(config.column_kinds or {})
    for col in scan.columns:
        name = f"__r{col.index}"
        raw = (
            scan.raw.column(name)
            if name in scan.raw.column_names
            else pa.chunked_array([], type=pa.null())
        )
        classify(
            col,
            raw,
            max_levels=config.max_levels,
            max_int_levels=config.max_int_levels,
            forced=kinds.get(col.name),
        )
    text_cols = [c for c in scan.columns if c.kind == "text"]
    for col in text_cols[config.max_text_columns :]:
        col.kind, col.reason = "skip", f"more than max_text_columns={config.max_text_columns}"
