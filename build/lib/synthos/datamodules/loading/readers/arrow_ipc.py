"""Arrow IPC: the file format (also Feather v2), the stream format, and legacy Feather v1.

The IPC file format has a footer listing its record batches, so the schema and row count
come without reading data and batches are read one at a time (plain reads, not a memory
map: see `open_random`). The stream format is read message by message. Every batch is
validated in full, so corrupt offsets become a `DataError` instead of a crash later on.

Legacy Feather v1 has no record batches, and pyarrow's v1 reader trusts the file's metadata:
a corrupt file can crash the process that reads it (a segmentation fault or bus error, not
always the same on the same bytes). So a child process rewrites a v1 file as a temporary
Arrow IPC file (`_rewrite_v1`), and a crash there becomes DATA_CORRUPT here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, guard, short
from ..source import Source, TemporaryLocalFile, open_random, open_stream
from .base import FormatReader, RandomAccessReader


def _select(batch: pa.RecordBatch, columns: Sequence[str] | None) -> pa.RecordBatch:
    if columns is None:
        return batch
    return batch.select(list(columns))


def _validated(batch: pa.RecordBatch) -> pa.RecordBatch:
    batch.validate(full=True)
    return batch


#: Child process: Feather v1 file argv[1] -> Arrow IPC file argv[2], batches of argv[3] rows.
_V1_TO_IPC = """
import mmap, sys, pyarrow as pa, pyarrow.feather as feather, pyarrow.ipc as ipc
with open(sys.argv[1], "rb") as file:
    mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
try:
    table = feather.read_table(pa.BufferReader(pa.py_buffer(mapped)))
    table.validate(full=True)
    with ipc.new_file(sys.argv[2], table.schema) as writer:
        for batch in table.to_batches(max_chunksize=int(sys.argv[3])):
            writer.write_batch(batch)
except Exception as exc:
    sys.stderr.write(" ".join(f"{type(exc).__name__}: {exc}".split()))
    sys.exit(3)
"""
#: Seconds the rewrite may take per MiB of the v1 file (plus a minute to start).
V1_SECONDS_PER_MIB = 2.0


def _rewrite_v1(source: Source, display: str, batch_rows: int, target: Path) -> None:
    """Rewrites the v1 file as an Arrow IPC file at `target`, in a child process."""
    limit = 60 + V1_SECONDS_PER_MIB * (source.size or 0) / 2**20
    args = [sys.executable, "-c", _V1_TO_IPC, source.path, str(target), str(batch_rows)]
    try:
        proc = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired:
        failure = f"reading it did not finish in {limit:.0f} s"
    else:
        if proc.returncode == 0:
            return
        failure = (
            f"reading it crashed the reader (signal {-proc.returncode})"
            if proc.returncode < 0
            else short(proc.stderr.decode("utf-8", "replace") or f"exit {proc.returncode}")
        )
    raise DataError(
        f"corrupt Feather v1 file: {failure}",
        code=ErrorCode.DATA_CORRUPT,
        path=display,
        expected="a complete Feather v1 file with consistent column metadata",
    )


class ArrowFileReader(RandomAccessReader):
    """Arrow IPC file / Feather v2, and legacy Feather v1 (rewritten first: `_rewrite_v1`)."""

    format = "arrow"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self.format = detection.format
        self._rewritten: TemporaryLocalFile | None = None
        self._reader: ipc.RecordBatchFileReader | None = None
        what = "Feather file" if self.format == "feather" else "Arrow IPC file"
        try:
            if detection.feather_v1:
                source = self.local_source(spill_remote=True)
                rewrite = partial(_rewrite_v1, source, self.path, options.batch_rows)
                self._rewritten = TemporaryLocalFile(self.path, rewrite)
                self._file = open_random(self._rewritten.source)
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
        reader = self._reader
        with guard(self.path, "Arrow IPC footer", ErrorCode.DATA_CORRUPT):
            if hasattr(reader, "count_rows"):
                return int(reader.count_rows())
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        reader = self._reader
        row = 0
        for index in range(reader.num_record_batches):
            with guard(self.path, f"Arrow record batch {index}", ErrorCode.DATA_CORRUPT, row=row):
                batch = _validated(reader.get_batch(index))
            row += batch.num_rows
            yield _select(batch, columns)

    def info(self) -> dict[str, Any]:
        if self._rewritten is not None:
            return {"feather_version": 1}
        return {"record_batches": self._reader.num_record_batches}

    def close(self) -> None:
        super().close()
        if self._rewritten is not None:
            self._rewritten.close()
            self._rewritten = None


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
