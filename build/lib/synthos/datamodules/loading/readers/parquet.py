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
from .base import RandomAccessReader
from .parquet_footer import FooterError, footer_problem

_PHYSICAL = {
    "BOOLEAN": 0,
    "INT32": 1,
    "INT64": 2,
    "INT96": 3,
    "FLOAT": 4,
    "DOUBLE": 5,
    "BYTE_ARRAY": 6,
    "FIXED_LEN_BYTE_ARRAY": 7,
}


class ParquetReader(RandomAccessReader):
    format = "parquet"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        source = src
        try:
            source = self.open_file()
            footer = self._check_magic(source.size)
            self.pf = pq.ParquetFile(
                self._file, pre_buffer=src.remote, buffer_size=0 if src.remote else 1 << 20
            )
            self._schema = self.pf.schema_arrow
            self._stats_safe = self._check_footer(footer)
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

    def _check_footer(self, footer: bytes) -> bool:
        """Refuse footers that would abort pyarrow; False if statistics must not be read."""
        try:
            schema = self.pf.metadata.schema
            leaves = []
            for i in range(len(schema)):
                column = schema.column(i)
                leaves.append(
                    (
                        _PHYSICAL.get(column.physical_type, -1),
                        int(column.length or 0),
                        int(column.max_definition_level),
                        int(column.max_repetition_level),
                    )
                )
            problem = footer_problem(footer, leaves)
        except (FooterError, RecursionError, ValueError, TypeError):
            return False
        if problem:
            raise DataError(
                f"corrupt Parquet footer: {problem}",
                code=ErrorCode.DATA_CORRUPT,
                path=self.path,
                expected="consistent Parquet column metadata",
            )
        return True

    def _check_magic(self, size: int) -> bytes:
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
        with guard(self.path, "Parquet footer", ErrorCode.DATA_CORRUPT):
            self._file.seek(size - 8 - footer_len)
            footer = self._file.read(footer_len)
            self._file.seek(0)
        return footer

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
                    # Parquet does not check UTF-8 or offsets of what it decodes.
                    batch.validate(full=True)
                    yield batch
            row += metadata.row_group(group).num_rows

    def column_statistics(self) -> dict[str, dict[str, Any]]:
        """Footer statistics aggregated over row groups, for top-level primitive columns."""
        if not self._stats_safe:
            return {}
        metadata = self.pf.metadata
        out: dict[str, dict[str, Any]] = {}
        try:
            names = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
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
