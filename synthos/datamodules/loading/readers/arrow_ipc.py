"""Arrow IPC: the file format (also Feather v2), the stream format, and legacy Feather v1.

The IPC file format has a footer listing its record batches, so the schema and row count
come without reading data and batches are read one at a time (plain reads, not a memory
map: see `open_random`). The stream format is read message by message. Legacy Feather v1
has no record batches, so a v1 file is read whole (memory grows with the file; convert it
to v2). Every batch is validated in full, so corrupt offsets become a `DataError` instead
of a crash later on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, guard, short
from ..source import open_stream
from .base import FormatReader, RandomAccessReader


def _select(batch: pa.RecordBatch, columns: Sequence[str] | None) -> pa.RecordBatch:
    if columns is None:
        return batch
    return batch.select(list(columns))


def _validated(batch: pa.RecordBatch) -> pa.RecordBatch:
    batch.validate(full=True)
    return batch


class ArrowFileReader(RandomAccessReader):
    """Arrow IPC file / Feather v2 (and v1, read whole through `pyarrow.feather`)."""

    format = "arrow"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self.format = detection.format
        self._v1: pa.Table | None = None
        self._reader: ipc.RecordBatchFileReader | None = None
        what = "Feather file" if self.format == "feather" else "Arrow IPC file"
        try:
            self.open_file()
            if detection.feather_v1:
                with guard(self.path, "Feather v1 file", ErrorCode.DATA_CORRUPT):
                    self._v1 = feather.read_table(self._file)
                    self._v1.validate(full=True)
                self._schema = self._v1.schema
            else:
                try:
                    self._reader = ipc.open_file(self._file)
                except Exception as exc:
                    raise DataError(
                        f"truncated or corrupt {what}: {short(exc)}",
                        code=classify(exc, ErrorCode.DATA_CORRUPT),
                        path=self.path,
                        expected="a complete Arrow IPC file ending with its footer and ARROW1",
                    ) from exc
                self._schema = self._reader.schema
        except BaseException:
            self.close()
            raise
        check_unique_names(self._schema, self.path)

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def num_rows(self) -> int | None:
        if self._v1 is not None:
            return self._v1.num_rows
        reader = self._reader
        with guard(self.path, "Arrow IPC footer", ErrorCode.DATA_CORRUPT):
            if hasattr(reader, "count_rows"):
                return int(reader.count_rows())
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        if self._v1 is not None:
            table = self._v1.select(list(columns)) if columns is not None else self._v1
            yield from table.to_batches(max_chunksize=self.options.batch_rows)
            return
        reader = self._reader
        row = 0
        for index in range(reader.num_record_batches):
            with guard(self.path, f"Arrow record batch {index}", ErrorCode.DATA_CORRUPT, row=row):
                batch = _validated(reader.get_batch(index))
            row += batch.num_rows
            yield _select(batch, columns)

    def info(self) -> dict[str, Any]:
        if self._v1 is not None:
            return {"feather_version": 1}
        return {"record_batches": self._reader.num_record_batches}


class ArrowStreamReader(FormatReader):
    """Arrow IPC stream format: no footer, so the row count needs a scan."""

    format = "arrow_stream"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self._schema: pa.Schema | None = None

    def _open(self) -> tuple[pa.NativeFile, ipc.RecordBatchStreamReader]:
        stream = open_stream(self.src, self.detection.compression)
        try:
            reader = ipc.open_stream(stream)
        except Exception as exc:
            stream.close()
            raise DataError(
                f"corrupt Arrow IPC stream: {short(exc)}",
                code=classify(exc, ErrorCode.DATA_CORRUPT),
                path=self.path,
                byte_offset=0,
                expected="an Arrow IPC stream starting with a schema message",
            ) from exc
        except BaseException:
            stream.close()
            raise
        return stream, reader

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            stream, reader = self._open()
            with stream:
                self._schema = reader.schema
            check_unique_names(self._schema, self.path)
        return self._schema

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        stream, reader = self._open()
        row = 0
        with stream:
            while True:
                with guard(self.path, "Arrow IPC stream", ErrorCode.DATA_CORRUPT, row=row):
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    _validated(batch)
                row += batch.num_rows
                yield _select(batch, columns)
