"""The interface every per-format reader implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from ..detect import Detection
from ..options import LoadOptions
from ..source import Source


class FormatReader:
    """Reads one file of one format.

    `schema` and `num_rows` must be cheap where the format allows (footer, header, shape);
    `iter_batches` yields record batches in file order, each of bounded size, and may be
    called more than once. Batches may differ in type from block to block (text formats
    infer per block); the loader reconciles them. Everything raised is a `DataError`.
    """

    format: str = ""
    #: Whether a record may lack a column (JSON): missing columns read as nulls.
    sparse: bool = False

    def __init__(self, src: Source, detection: Detection, options: LoadOptions) -> None:
        self.src = src
        self.detection = detection
        self.options = options

    @property
    def path(self) -> str:
        return self.src.display

    @property
    def schema(self) -> pa.Schema:
        raise NotImplementedError

    def num_rows(self) -> int | None:
        """The row count if known without reading the data, else None."""
        return None

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def column_statistics(self) -> dict[str, dict[str, Any]]:
        """Exact per-column statistics stored in the file (Parquet footer), if any."""
        return {}

    def info(self) -> dict[str, Any]:
        """Format-specific facts for `DatasetMetadata.extra`."""
        return {}

    def close(self) -> None:
        pass

    def __enter__(self) -> FormatReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
