"""The interface every per-format reader implements."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from ..detect import Detection
from ..options import LoadOptions
from ..source import Source, Spilled, open_random


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


class RandomAccessReader(FormatReader):
    """A reader over one random-access file; a compressed file is first spilled
    (decompressed) to a temporary file, since these formats need to seek."""

    def __init__(self, src: Source, detection: Detection, options: LoadOptions) -> None:
        super().__init__(src, detection, options)
        self._spilled: Spilled | None = None
        self._file: pa.NativeFile | None = None

    def local_source(self, *, spill_remote: bool = False) -> Source:
        """The source to read: a compressed one (and with `spill_remote`, a remote one) is
        first spilled to a local temporary file, removed on `close`."""
        if self.detection.compression or (spill_remote and not self.src.is_local):
            self._spilled = Spilled(self.src, self.detection.compression)
            return self._spilled.source
        return self.src

    def open_file(self) -> Source:
        """Open `self._file` (spilling first if compressed); returns the source it reads."""
        source = self.local_source()
        self._file = open_random(source)
        return source

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None
