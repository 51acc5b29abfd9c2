"""CSV and TSV through pyarrow's streaming CSV reader (`pyarrow.csv.open_csv`).

Memory is bounded by the block size (`LoadOptions.block_bytes`), not the file size. Column
types are inferred from the first block; a later value that does not fit (a '1.5' in a
column of integers) is a `TypeConflict` naming the column, which `read_table` resolves by
widening the column and reading again. Rows longer than a block are handled by reopening
with a larger block (up to `max_record_bytes`) and skipping the rows already delivered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.types as pat

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import TypeConflict, classify, expected_for, short
from ..source import open_stream
from .base import FormatReader
from .text import encoding_error, is_utf8

_RAGGED = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to ([^:]+): invalid value '(.*)'"
)


def widen(old: pa.DataType | None, value: str | None) -> pa.DataType:
    """The type to retry a CSV column with after `value` did not parse as `old`."""
    if old is not None and pat.is_integer(old) and value is not None:
        try:
            float(value)
            return pa.float64()
        except ValueError:
            pass
    return pa.string()


class DelimitedReader(FormatReader):
    format = "csv"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self.format = detection.format
        self._schema: pa.Schema | None = None

    @property
    def _delimiter(self) -> str:
        return self.detection.delimiter or ("\t" if self.format == "tsv" else ",")

    def _open(
        self, columns: Sequence[str] | None, block_size: int
    ) -> tuple[pa.NativeFile, pacsv.CSVStreamingReader]:
        stream = open_stream(self.src, self.detection.compression)
        encoding = "utf8" if is_utf8(self.options.encoding) else self.options.encoding
        read_options = pacsv.ReadOptions(
            use_threads=False, block_size=block_size, encoding=encoding
        )
        parse_options = pacsv.ParseOptions(delimiter=self._delimiter, newlines_in_values=True)
        types = self.options.arrow_types
        convert_options = pacsv.ConvertOptions(
            include_columns=list(columns) if columns is not None else None,
            column_types=types or None,
        )
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except BaseException as exc:
            stream.close()
            if isinstance(exc, Exception) and not isinstance(exc, DataError):
                raise self._translate(exc, 0, None) from exc
            raise
        return stream, reader

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            stream, reader = self._open(None, self.options.block_bytes)
            with stream:
                schema = reader.schema
            check_unique_names(schema, self.path)
            self._check_types(schema)
            self._schema = schema
        return self._schema

    def _check_types(self, schema: pa.Schema) -> None:
        if not is_utf8(self.options.encoding):
            return
        if any(pat.is_binary(f.type) or pat.is_large_binary(f.type) for f in schema):
            raise encoding_error(self.src, self.detection.compression, "text")

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        header = self.schema.names
        block = self.options.block_bytes
        done = 0
        while True:
            stream, reader = self._open(columns, block)
            skip = done
            try:
                with stream:
                    while True:
                        try:
                            batch = reader.read_next_batch()
                        except StopIteration:
                            return
                        if skip:
                            if batch.num_rows <= skip:
                                skip -= batch.num_rows
                                continue
                            batch = batch.slice(skip)
                            skip = 0
                        self._check_types(batch.schema)
                        done += batch.num_rows
                        yield batch
            except DataError:
                raise
            except Exception as exc:
                if "straddl" in str(exc) and block < self.options.max_record_bytes:
                    block = min(block * 4, self.options.max_record_bytes)
                    continue
                raise self._translate(exc, done, header) from exc

    def _translate(self, exc: Exception, rows_done: int, header: list[str] | None) -> DataError:
        text = str(exc)
        name = "TSV" if self.format == "tsv" else "CSV"
        if "utf8" in text.lower() or isinstance(exc, UnicodeError):
            return encoding_error(self.src, self.detection.compression, name)
        ragged = _RAGGED.search(text)
        if ragged:
            line, want, got = (int(g) for g in ragged.groups())
            return DataError(
                f"ragged {name} row: {got} fields instead of {want} (line {line})",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                row=max(line - 2, 0),
                expected=f"{want} fields per row, as in the header",
            )
        conversion = _CONVERSION.search(text)
        if conversion:
            index = int(conversion.group(1))
            column = header[index] if header and index < len(header) else f"#{index}"
            line = conversion.group(2)
            value = conversion.group(4)
            old_name = conversion.group(3).strip()
            old = _type_from_name(old_name)
            where = f"at line {line}" if line else f"at row {rows_done} or later"
            conflict = TypeConflict(
                f"column {column!r} was inferred as {old_name} from the first rows, but holds "
                f"{value!r} {where}",
                path=self.path,
                column=column,
                old_type=old,
                value=value,
                row=int(line) - 2 if line else rows_done,
                expected=f"{old_name} values throughout (or pass column_types=)",
            )
            conflict.retry_type = widen(old, value)
            return conflict
        if "straddl" in text:
            return DataError(
                f"a {name} row is longer than {self.options.max_record_bytes} bytes, or a "
                "quote is never closed",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                row=rows_done,
                expected="balanced quotes (or raise max_record_bytes)",
            )
        if "empty csv" in text.lower():
            return DataError(
                f"empty {name} file",
                code=ErrorCode.DATA_EMPTY,
                path=self.path,
                expected="a header row",
            )
        code = classify(exc, ErrorCode.DATA_FORMAT)
        return DataError(
            f"malformed {name}: {short(text)} (row {rows_done} or later)",
            code=code,
            path=self.path,
            row=rows_done,
            expected=expected_for(code, f"{name} file"),
        )


def _type_from_name(name: str) -> pa.DataType | None:
    try:
        return pa.type_for_alias(name)
    except (ValueError, KeyError):
        return None
