"""Parquet through `pyarrow.parquet.ParquetFile`: footer metadata, row group by row group.

Schema, row count and per-column min/max/null counts come from the footer (no data read).
Batches are read one row group at a time with `iter_batches`, so memory follows the row
group size, not the file size; local files are memory-mapped. A compressed Parquet file
(``.parquet.gz``) is first decompressed into a temporary file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, guard, short
from ..source import Spilled, open_random
from .base import FormatReader


class ParquetReader(FormatReader):
    format = "parquet"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self._spilled: Spilled | None = None
        self._file: pa.NativeFile | None = None
        source = src
        try:
            if detection.compression:
                self._spilled = Spilled(src, detection.compression)
                source = self._spilled.source
            self._file = open_random(source)
            self._check_magic(source.size)
            self.pf = pq.ParquetFile(
                self._file, pre_buffer=src.remote, buffer_size=0 if src.remote else 1 << 20
            )
            self._schema = self.pf.schema_arrow
        except DataError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise DataError(
                f"corrupt Parquet footer: {short(exc)}",
                code=classify(exc, ErrorCode.DATA_CORRUPT),
                path=self.path,
                expected="a valid Parquet footer (thrift FileMetaData)",
            ) from exc
        check_unique_names(self._schema, self.path)

    def _check_magic(self, size: int) -> None:
        with guard(self.path, "Parquet file end", ErrorCode.DATA_CORRUPT):
            if size < 12:
                raise DataError(
                    f"truncated Parquet file: {size} bytes",
                    code=ErrorCode.DATA_CORRUPT,
                    path=self.path,
                    byte_offset=size,
                    expected="at least 12 bytes (magic, footer length, magic)",
                )
            self._file.seek(size - 8)
            tail = self._file.read(8)
            self._file.seek(0)
        if tail[4:] != b"PAR1":
            raise DataError(
                "truncated or corrupt Parquet file: the footer magic bytes PAR1 are missing "
                "at the end",
                code=ErrorCode.DATA_CORRUPT,
                path=self.path,
                byte_offset=size,
                expected="a complete Parquet file ending with PAR1",
            )
        footer_len = int.from_bytes(tail[:4], "little")
        if footer_len <= 0 or footer_len > size - 12:
            raise DataError(
                f"corrupt Parquet footer: length {footer_len} does not fit a {size}-byte file",
                code=ErrorCode.DATA_CORRUPT,
                path=self.path,
                byte_offset=size - 8,
                expected="a footer length smaller than the file",
            )

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def num_rows(self) -> int | None:
        return int(self.pf.metadata.num_rows)

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        metadata = self.pf.metadata
        row = 0
        for group in range(metadata.num_row_groups):
            with guard(self.path, f"Parquet row group {group}", ErrorCode.DATA_CORRUPT, row=row):
                for batch in self.pf.iter_batches(
                    batch_size=self.options.batch_rows,
                    row_groups=[group],
                    columns=list(columns) if columns is not None else None,
                    use_threads=False,
                ):
                    yield batch
            row += metadata.row_group(group).num_rows

    def column_statistics(self) -> dict[str, dict[str, Any]]:
        """Footer statistics aggregated over row groups, for top-level primitive columns."""
        metadata = self.pf.metadata
        out: dict[str, dict[str, Any]] = {}
        try:
            names = {
                metadata.schema.column(i).path: i for i in range(metadata.num_columns)
            }
            for field in self._schema:
                index = names.get(field.name)
                if index is None:
                    continue
                stats = self._aggregate(index)
                if stats is not None:
                    out[field.name] = stats
        except Exception:
            return {}
        return out

    def _aggregate(self, index: int) -> dict[str, Any] | None:
        metadata = self.pf.metadata
        nulls = 0
        low = high = None
        has_bounds = True
        for group in range(metadata.num_row_groups):
            column = metadata.row_group(group).column(index)
            stats = column.statistics
            if stats is None or not stats.has_null_count:
                return None
            nulls += stats.null_count
            if stats.has_min_max:
                try:
                    low = stats.min if low is None else min(low, stats.min)
                    high = stats.max if high is None else max(high, stats.max)
                except TypeError:
                    has_bounds = False
            elif column.num_values > stats.null_count:
                has_bounds = False
        result: dict[str, Any] = {"null_count": nulls}
        if has_bounds:
            result["min"] = low
            result["max"] = high
        return result

    def info(self) -> dict[str, Any]:
        metadata = self.pf.metadata
        return {
            "row_groups": metadata.num_row_groups,
            "created_by": metadata.created_by,
        }

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:
                pass
            self._file = None
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None
