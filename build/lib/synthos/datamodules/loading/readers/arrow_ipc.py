"""Arrow IPC: the file format (also Feather v2), the stream format, and legacy Feather v1.

The IPC file format has a footer listing its record batches, so the schema and row count
come without reading data and batches are read one at a time (plain reads, not a memory
map: see `open_random`). The stream format is read message by message. Legacy Feather v1
has no record batches and no compression, just one contiguous array per column, so it is
memory-mapped (a compressed or remote v1 file is first spilled to a local temporary file)
and yielded in row slices that reference the map; the mapped pages are released after each
batch, so neither the heap nor the resident set grows with the file. Every batch is
validated in full, so corrupt offsets become a `DataError` instead of a crash later on.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, guard, short
from ..source import Source, open_stream
from .base import FormatReader, RandomAccessReader


def _select(batch: pa.RecordBatch, columns: Sequence[str] | None) -> pa.RecordBatch:
    if columns is None:
        return batch
    return batch.select(list(columns))


def _validated(batch: pa.RecordBatch) -> pa.RecordBatch:
    batch.validate(full=True)
    return batch


class _FeatherV1:
    """A Feather v1 file read through a read-only memory map: the table's buffers point
    into the map (pyarrow copies nothing), and `batches` drops the map's resident pages
    after each batch. A batch still held later faults its pages back in from the file.
    The map is unmapped once the table and every batch taken from it are gone."""

    def __init__(self, source: Source) -> None:
        with open(source.path, "rb") as file:
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.table = feather.read_table(pa.BufferReader(pa.py_buffer(self._map)))
        self.table.validate()  # lengths and buffer sizes; each batch's data is checked in full

    def batches(self, path: str, columns: Sequence[str] | None, batch_rows: int):
        table = self.table.select(list(columns)) if columns is not None else self.table
        row = 0
        for batch in table.to_batches(max_chunksize=batch_rows):
            with guard(path, "Feather v1 column data", ErrorCode.DATA_CORRUPT, row=row):
                _validated(batch)
            row += batch.num_rows
            yield batch
            if hasattr(mmap, "MADV_DONTNEED"):  # not on Windows: pages stay until unmapped
                self._map.madvise(mmap.MADV_DONTNEED)


class ArrowFileReader(RandomAccessReader):
    """Arrow IPC file / Feather v2, and legacy Feather v1 (memory-mapped, see `_FeatherV1`)."""

    format = "arrow"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self.format = detection.format
        self._v1: _FeatherV1 | None = None
        self._reader: ipc.RecordBatchFileReader | None = None
        what = "Feather file" if self.format == "feather" else "Arrow IPC file"
        try:
            if detection.feather_v1:
                source = self.local_source(spill_remote=True)
                with guard(self.path, "Feather v1 file", ErrorCode.DATA_CORRUPT):
                    self._v1 = _FeatherV1(source)
                self._schema = self._v1.table.schema
            else:
                self.open_file()
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
            return self._v1.table.num_rows
        reader = self._reader
        with guard(self.path, "Arrow IPC footer", ErrorCode.DATA_CORRUPT):
            if hasattr(reader, "count_rows"):
                return int(reader.count_rows())
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        if self._v1 is not None:
            yield from self._v1.batches(self.path, columns, self.options.batch_rows)
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

    def close(self) -> None:
        self._v1 = None  # unmapped once no batch from it is left either
        super().close()


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
