"""The knobs of the loader, in one frozen dataclass shared by every reader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from synthos.errors import DataError, ErrorCode

#: Formats the loader knows, by the name `DatasetMetadata.format` reports.
FORMATS = (
    "csv",
    "tsv",
    "json",
    "jsonl",
    "parquet",
    "arrow",
    "arrow_stream",
    "feather",
    "hdf5",
    "excel",
)

#: Excel is the one format read whole: openpyxl holds the shared-strings table and styles
#: in memory, so workbooks are capped. 64 MiB of .xlsx is roughly 1-3 million cells.
DEFAULT_EXCEL_MAX_BYTES = 64 << 20
#: And the uncompressed XML inside the workbook (zip-bomb guard).
DEFAULT_EXCEL_MAX_UNCOMPRESSED = 1 << 30


@dataclass(frozen=True)
class LoadOptions:
    """How to read a dataset. Every field has a sensible default.

    format: force a format (one of FORMATS) instead of detecting it from the content.
    batch_rows: rows per batch that `stream_chunks` yields (the last one may be shorter).
    block_bytes: bytes of text parsed at a time for CSV/TSV/JSON/JSONL (bounds memory:
        pyarrow's CSV reader reads up to ~32 blocks ahead, so CSV holds ~32 x block_bytes).
    max_record_bytes: longest single CSV row or JSON record accepted (bounds memory).
    encoding: text encoding of CSV/TSV/JSON files; anything but UTF-8 is transcoded.
    delimiter: force the CSV delimiter instead of sniffing it.
    column_types: explicit arrow types for some columns (CSV/JSON parse with them; every
        other format casts to them).
    hdf5_key: the dataset or group inside an HDF5 file that holds the table.
    excel_sheet: sheet name or 0-based index (default: the first sheet).
    excel_max_bytes / excel_max_uncompressed_bytes: size limits for Excel workbooks.
    json_key_column: name of the column that receives the keys of a records-per-key JSON
        object (``{"id1": {...}, "id2": {...}}``).
    allow_empty: return an empty result instead of raising DATA_EMPTY for zero rows.
    require_finite: column names whose values must be finite numbers (no NaN, no +/-inf),
        or True for every floating-point column. Violations raise DATA_VALUE.
    s3_endpoint / s3_region / s3_anonymous: S3 settings; the endpoint falls back to the
        environment (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL), e.g. for MinIO or moto.
    filesystem: a pyarrow FileSystem (or an fsspec one) to read every path through.
    preview_rows: rows read by `get_metadata` for per-column preview statistics.
    """

    format: str | None = None
    batch_rows: int = 65536
    block_bytes: int = 1 << 20
    max_record_bytes: int = 16 << 20
    encoding: str = "utf-8"
    delimiter: str | None = None
    column_types: Mapping[str, Any] | None = None
    hdf5_key: str | None = None
    excel_sheet: str | int | None = None
    excel_max_bytes: int = DEFAULT_EXCEL_MAX_BYTES
    excel_max_uncompressed_bytes: int = DEFAULT_EXCEL_MAX_UNCOMPRESSED
    json_key_column: str = "_key"
    allow_empty: bool = False
    require_finite: Sequence[str] | bool = ()
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_anonymous: bool = False
    filesystem: Any = None
    preview_rows: int = 10_000
    _resolved_types: dict[str, pa.DataType] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise DataError(
                f"unknown format {self.format!r}",
                code=ErrorCode.DATA_FORMAT,
                expected="one of " + ", ".join(FORMATS),
            )
        for name in ("batch_rows", "block_bytes", "max_record_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.preview_rows < 0:
            raise ValueError("preview_rows must be >= 0")
        types: dict[str, pa.DataType] = {}
        for name, typ in (self.column_types or {}).items():
            types[str(name)] = _as_arrow_type(typ)
        object.__setattr__(self, "_resolved_types", types)

    @property
    def arrow_types(self) -> dict[str, pa.DataType]:
        """`column_types` as arrow types."""
        return dict(self._resolved_types)

    def with_types(self, extra: Mapping[str, pa.DataType]) -> LoadOptions:
        merged = {**self.arrow_types, **extra}
        return replace(self, column_types=merged)

    def evolve(self, **changes: Any) -> LoadOptions:
        return replace(self, **changes)


def _as_arrow_type(typ: Any) -> pa.DataType:
    if isinstance(typ, pa.DataType):
        return typ
    try:
        if isinstance(typ, str):
            return pa.type_for_alias(typ)
        return pa.from_numpy_dtype(typ)
    except Exception as exc:
        raise ValueError(f"cannot turn {typ!r} into an arrow type: {exc}") from exc
