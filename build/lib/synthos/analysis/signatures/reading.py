"""A dataset as the fingerprint reads it: one pass over every row plus a content-keyed sample.

The dataset is opened through the analysis engine (`synthos.analysis.engine.open_source`:
Parquet scanned in place, every other format streamed once through the loader into a
spool). One engine pass hashes every row over all its columns (numbers as DOUBLE, the rest
as text, as the collapse detector hashes them, so CSV and Parquet of the same data agree)
and gives the row count, the duplicate rows and an order-free content hash (the sum of the
row hashes), which identifies the dataset in the library's provenance.

The sample is keyed by content, not by position: rows are ordered by ``hash(row hash,
seed)`` and the first ``sample_rows`` kept. The same rows in any order or file format give
the same sample (a row's copies are kept or dropped together, so the duplicate rate of
the sample estimates the dataset's). A time series is read in time order instead (the
first ``series_rows`` steps by its time column), since sampling would destroy its axis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from synthos.analysis.collapse.inputs import (
    coerce_columns,
    dataset_modality,
    longest_string_column,
    row_hash_expr,
)
from synthos.analysis.columns import Column, classify, type_family
from synthos.analysis.engine import Source, open_source, quote_ident
from synthos.analysis.sampling import candidate_fraction, u64_threshold
from synthos.errors import DataError, ErrorCode

#: Rows of the content-keyed sample (tables and text) and steps of a series.
SAMPLE_ROWS = 20_000
SERIES_ROWS = 20_000
#: Modulus of the order-free sum of row hashes.
_HASH_MOD = 1_000_000_007
_ENGINE_COLUMNS = ("__rid", "__row")
_HASHABLE = ("int", "float", "bool", "string", "enum", "temporal", "decimal")


@dataclass
class DatasetSample:
    """What the fingerprint sees of one dataset.

    rows / duplicate_rows / content_hash: from the pass over every row.
    sample: the content-keyed sample (a series: its first steps in time order), with the
    analysed columns cast to their kind (float64 numbers, strings).
    kinds: column -> "numeric" | "categorical" (not the text or time column).
    """

    path: str
    modality: str
    modality_reason: str
    rows: int
    columns: list[str]
    duplicate_rows: int
    content_hash: str
    sample: pa.Table
    kinds: dict[str, str]
    text_column: str | None = None
    time_column: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.sample.num_rows < self.rows

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "numeric"]

    @property
    def categorical_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "categorical"]

    def numbers(self, column: str) -> np.ndarray:
        """Finite values of a numeric column."""
        values = self.sample.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
        return values[np.isfinite(values)]

    def labels(self, column: str) -> np.ndarray:
        """Values of a categorical column as strings, missing values as their own label."""
        values = self.sample.column(column).fill_null("\0null").to_pylist()
        return np.asarray(values, dtype=object)

    def texts(self) -> list[str]:
        if self.text_column is None:
            return []
        return [t or "" for t in self.sample.column(self.text_column).to_pylist()]

    def value_matrix(self) -> np.ndarray:
        """(rows, numeric columns) of the sample, rows with a missing value dropped."""
        if not self.numeric_columns:
            return np.zeros((self.sample.num_rows, 0))
        columns = [
            self.sample.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in self.numeric_columns
        ]
        rows = np.column_stack(columns)
        return rows[np.all(np.isfinite(rows), axis=1)]


def read_dataset(
    data: Any,
    *,
    modality: str | None = None,
    time_column: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    series_rows: int = SERIES_ROWS,
    seed: int = 0,
    threads: int | None = None,
    load_options: dict[str, Any] | None = None,
) -> DatasetSample:
    """Open `data` (a path, pyarrow Table or pandas DataFrame), hash every row and sample it."""
    source = open_source(data, threads=threads, load_options=dict(load_options or {}))
    try:
        return _read(source, data, modality, time_column, sample_rows, series_rows, seed)
    finally:
        source.close()


def _read(
    source: Source,
    data: Any,
    modality: str | None,
    time_column: str | None,
    sample_rows: int,
    series_rows: int,
    seed: int,
) -> DatasetSample:
    types = {n: t for n, t in source.columns.items() if n not in _ENGINE_COLUMNS}
    names = list(types)
    if time_column is not None and time_column not in types:
        raise DataError(
            f"no time column {time_column!r} in the dataset",
            code=ErrorCode.DATA_SCHEMA,
            path=source.path,
            column=time_column,
            expected="one of " + ", ".join(repr(n) for n in names[:10]),
        )
    inference = dataset_modality(data, source, modality)
    kind = inference.modality
    time_col = time_column or (inference.column if kind == "time_series" else None)
    text_col = inference.column if kind == "text" else None
    if kind == "text" and text_col is None:
        text_col = longest_string_column(source, names)
    hashed = [n for n in names if type_family(types[n]) in _HASHABLE]
    numeric = {n for n in hashed if type_family(types[n]) in ("int", "float", "bool", "decimal")}
    row_hash = row_hash_expr(hashed, numeric) if hashed else "hash(__rid)"
    (counts,) = source.fetchall(
        f"SELECT count(*), count(DISTINCT h), sum(h % {_HASH_MOD}) % {_HASH_MOD} "
        f"FROM (SELECT {row_hash} AS h FROM {{src}})"
    )
    rows, distinct, hash_sum = (int(v or 0) for v in counts)
    digest = hashlib.sha256(
        repr((sorted(names), rows, distinct, hash_sum)).encode("utf-8")
    ).hexdigest()[:32]
    select = ", ".join(quote_ident(n) for n in names)
    if kind == "time_series" and time_col in types:
        order = f"ORDER BY {quote_ident(time_col)}, {row_hash} LIMIT {int(series_rows)}"
        sample = source.arrow(f"SELECT {select} FROM {{src}} {order}")
    else:
        sample = _content_sample(source, select, row_hash, rows, sample_rows, seed)
    sample = pa.table(
        [
            c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
            for c in sample.columns
        ],
        names=sample.column_names,
    )
    kinds: dict[str, str] = {}
    if kind != "text":
        kinds = _column_kinds(sample, types, names, exclude={time_col, text_col})
        if kind == "time_series":
            kinds = {c: k for c, k in kinds.items() if k == "numeric"}
    table, dropped = coerce_columns(sample, kinds, types, types, text_col)
    kinds = {c: k for c, k in kinds.items() if c not in dropped}
    return DatasetSample(
        path=source.path,
        modality=kind,
        modality_reason=inference.reason,
        rows=rows,
        columns=names,
        duplicate_rows=rows - distinct,
        content_hash=digest,
        sample=table,
        kinds=kinds,
        text_column=text_col,
        time_column=time_col,
        notes={"incomparable_columns": dropped} if dropped else {},
    )


def _content_sample(
    source: Source, select: str, row_hash: str, rows: int, size: int, seed: int
) -> pa.Table:
    """The `size` rows with the smallest hash(row hash, seed), ties broken by the row hash.

    The hash filter spares sorting every row; when its margin kept too few rows, the query
    runs without it."""
    key = f"hash({row_hash}, {int(seed)}::BIGINT)"
    ordered = f"ORDER BY {key}, {row_hash} LIMIT {int(size)}"
    threshold = u64_threshold(candidate_fraction(size, rows))
    table = source.arrow(
        f"SELECT {select} FROM {{src}} WHERE {key} <= {threshold}::UBIGINT {ordered}"
    )
    if table.num_rows < min(size, rows):
        table = source.arrow(f"SELECT {select} FROM {{src}} {ordered}")
    return table


def _column_kinds(
    table: pa.Table, types: dict[str, str], names: list[str], exclude: set[str | None]
) -> dict[str, str]:
    """Numeric and categorical columns of the sample, classified from their values (the
    fingerprint has no reference to infer roles against)."""
    kinds = {}
    for index, name in enumerate(names):
        if name in exclude:
            continue
        column = Column(name, types[name], index)
        classify(column, table.column(name), max_levels=50, max_int_levels=12)
        if column.kind in ("numeric", "categorical"):
            kinds[name] = column.kind
    return kinds
