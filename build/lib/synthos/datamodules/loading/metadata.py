"""What `get_metadata` returns: schema, size, row count and per-column preview statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from synthos.fileio import to_jsonable

_MAX_SHOWN_CHARS = 200


@dataclass(frozen=True)
class ColumnStats:
    """Statistics of one column.

    `null_count`, `min` and `max` are exact over the whole dataset when `source` is
    "footer" (Parquet row-group statistics); otherwise they, like `mean` and
    `distinct_estimate`, describe the first `rows_seen` rows (the preview).
    `mean` ignores NaN and infinities; `distinct_estimate` is the number of distinct
    non-null values in the preview (a lower bound for the dataset).
    """

    name: str
    type: str
    null_count: int | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None
    distinct_estimate: int | None = None
    rows_seen: int = 0
    source: str = "preview"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "null_count": self.null_count,
            "min": to_jsonable(self.min),
            "max": to_jsonable(self.max),
            "mean": self.mean,
            "distinct_estimate": self.distinct_estimate,
            "rows_seen": self.rows_seen,
            "source": self.source,
        }


@dataclass(frozen=True)
class DatasetMetadata:
    """A dataset described without reading all of it where the format allows.

    format: detected format ("csv", "tsv", "json", "jsonl", "parquet", "arrow",
        "arrow_stream", "feather", "hdf5", "excel").
    schema: the arrow schema (column names and types) as `read_table` would return it.
    row_count: number of rows; from the footer/shape for Parquet, Arrow IPC file, Feather
        and HDF5, from a streaming count otherwise (None when a count was not asked for).
    row_count_exact: whether `row_count` is exact.
    num_bytes: bytes on storage (compressed size for compressed files), over all files.
    files: the files read (one, or the parts of a directory / glob).
    columns: per-column statistics, by column name, in schema order.
    """

    path: str
    format: str
    schema: pa.Schema
    row_count: int | None
    row_count_exact: bool
    num_bytes: int
    files: tuple[str, ...]
    compression: str | None = None
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    preview_rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    @property
    def column_types(self) -> dict[str, str]:
        return {f.name: str(f.type) for f in self.schema}

    @property
    def num_files(self) -> int:
        return len(self.files)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (types as strings)."""
        return {
            "path": self.path,
            "format": self.format,
            "columns": [{"name": f.name, "type": str(f.type)} for f in self.schema],
            "rows": self.row_count,
            "rows_exact": self.row_count_exact,
            "bytes": self.num_bytes,
            "files": list(self.files),
            "compression": self.compression,
            "stats": {name: stats.to_dict() for name, stats in self.columns.items()},
            "preview_rows": self.preview_rows,
            "extra": {key: to_jsonable(value) for key, value in self.extra.items()},
        }


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_SHOWN_CHARS:
        return value[:_MAX_SHOWN_CHARS] + "..."
    if isinstance(value, bytes) and len(value) > _MAX_SHOWN_CHARS:
        return value[:_MAX_SHOWN_CHARS]
    return value


def _orderable(typ: pa.DataType) -> bool:
    return (
        pat.is_integer(typ)
        or pat.is_floating(typ)
        or pat.is_decimal(typ)
        or pat.is_temporal(typ)
        or pat.is_string(typ)
        or pat.is_large_string(typ)
        or pat.is_boolean(typ)
        or pat.is_binary(typ)
        or pat.is_large_binary(typ)
    )


def column_stats(
    name: str,
    column: pa.ChunkedArray | pa.Array,
    footer: dict[str, Any] | None = None,
) -> ColumnStats:
    """Preview statistics of one column, taking exact footer values where given."""
    typ = column.type
    rows = len(column)
    null_count = column.null_count
    low = high = mean = distinct = None
    try:
        if _orderable(typ) and rows > null_count:
            values = column
            if pat.is_floating(typ):
                values = pc.filter(column, pc.fill_null(pc.invert(pc.is_nan(column)), False))
            if len(values) > values.null_count:
                extremes = pc.min_max(values)
                low = _shown(extremes["min"].as_py())
                high = _shown(extremes["max"].as_py())
        if (pat.is_integer(typ) or pat.is_floating(typ) or pat.is_decimal(typ)) and rows:
            values = column
            if pat.is_floating(typ):
                values = pc.filter(column, pc.fill_null(pc.is_finite(column), False))
            if len(values):
                result = pc.mean(pc.cast(values, pa.float64())).as_py()
                mean = float(result) if result is not None else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    try:
        distinct = int(pc.count_distinct(column).as_py())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        distinct = None
    source = "preview"
    if footer:
        source = "footer"
        null_count = footer.get("null_count", null_count)
        if "min" in footer:
            low, high = _shown(footer["min"]), _shown(footer["max"])
    return ColumnStats(
        name=name,
        type=str(typ),
        null_count=null_count,
        min=low,
        max=high,
        mean=mean,
        distinct_estimate=distinct,
        rows_seen=rows,
        source=source,
    )


def preview_stats(
    schema: pa.Schema, preview: pa.Table | None, footer: dict[str, dict[str, Any]]
) -> dict[str, ColumnStats]:
    """Statistics for every column of `schema`."""
    out: dict[str, ColumnStats] = {}
    for f in schema:
        if preview is not None and f.name in preview.column_names:
            column = preview.column(f.name)
        else:
            column = pa.chunked_array([], type=f.type)
        out[f.name] = column_stats(f.name, column, footer.get(f.name))
    return out


def merge_footer_stats(
    parts: list[dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Combine per-file footer statistics; a column missing from any file has none."""
    if not parts:
        return {}
    merged: dict[str, dict[str, Any]] = {}
    for name in parts[0]:
        if not all(name in part for part in parts):
            continue
        nulls = sum(part[name]["null_count"] for part in parts)
        entry: dict[str, Any] = {"null_count": nulls}
        if all("min" in part[name] for part in parts):
            lows = [part[name]["min"] for part in parts if part[name]["min"] is not None]
            highs = [part[name]["max"] for part in parts if part[name]["max"] is not None]
            try:
                entry["min"] = min(lows) if lows else None
                entry["max"] = max(highs) if highs else None
            except TypeError:
                pass
        merged[name] = entry
    return merged
