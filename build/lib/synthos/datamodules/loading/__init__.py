"""Dataset loading: every supported format, local or ``s3://``, streamed in bounded memory.

Public API::

    from synthos.datamodules.loading import read_table, stream_chunks, get_metadata

    table = read_table("data/train.csv", columns=["text", "label"], max_rows=10_000)
    for batch in stream_chunks("s3://bucket/parts/", batch_rows=65536):
        ...
    meta = get_metadata("data/train.parquet")   # footer only for Parquet/Arrow/HDF5

Formats: CSV, TSV, JSON (array of records or records-per-key), JSONL, Parquet, Arrow IPC
(file and stream), Feather (v1, v2), HDF5 (compound datasets or groups of 1-D datasets),
Excel (.xlsx, size-capped). Files may be gzip/zstd/bz2/lz4 compressed, be directories of
parts, glob patterns, or S3 URIs (endpoint from `s3_endpoint` or ``AWS_ENDPOINT_URL``).
The format is detected from the content; the extension only breaks ties.

Every problem with the data raises `synthos.errors.DataError` with a 1xxx code, the file,
the position where known (row, byte offset, column) and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from .detect import Detection
from .loader import DatasetLoader, PathLike
from .metadata import ColumnStats, DatasetMetadata
from .options import FORMATS, LoadOptions
from .validate import check_finite

__all__ = [
    "FORMATS",
    "ColumnStats",
    "DatasetLoader",
    "DatasetMetadata",
    "Detection",
    "LoadOptions",
    "check_finite",
    "detect_format",
    "get_metadata",
    "read_table",
    "stream_chunks",
]


def stream_chunks(
    path: PathLike,
    columns: Sequence[str] | None = None,
    batch_rows: int = 65536,
    *,
    max_rows: int | None = None,
    **options: Any,
) -> Iterator[pa.RecordBatch]:
    """Record batches of `batch_rows` rows from `path`, in bounded memory.

    `options` are `LoadOptions` fields (format, require_finite, column_types, s3_endpoint,
    allow_empty, ...). See `DatasetLoader.stream_chunks`.
    """
    return DatasetLoader(**options).stream_chunks(
        path, columns=columns, batch_rows=batch_rows, max_rows=max_rows
    )


def read_table(
    path: PathLike,
    columns: Sequence[str] | None = None,
    max_rows: int | None = None,
    **options: Any,
) -> pa.Table:
    """The dataset at `path` (or its first `max_rows` rows) as a pyarrow Table."""
    return DatasetLoader(**options).read_table(path, columns=columns, max_rows=max_rows)


def get_metadata(
    path: PathLike, *, exact_row_count: bool = True, **options: Any
) -> DatasetMetadata:
    """Format, schema, row count, size and per-column preview statistics of `path`."""
    return DatasetLoader(**options).get_metadata(path, exact_row_count=exact_row_count)


def detect_format(path: PathLike, **options: Any) -> str:
    """The format name detected for `path` (its first file for a directory or glob)."""
    return DatasetLoader(**options).detect(path).format
