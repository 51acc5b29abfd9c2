"""Excel .xlsx through openpyxl (read-only mode).

Excel is the one format that is not streamed: openpyxl keeps a workbook's shared strings
and styles in memory and values arrive as Python objects, so a sheet is read whole when the
file is opened. To keep memory bounded, workbooks larger than
`LoadOptions.excel_max_bytes` (default 64 MiB on disk) or whose XML parts exceed
`excel_max_uncompressed_bytes` (default 1 GiB, a zip-bomb guard) are refused with
DATA_TOO_LARGE; convert such data to Parquet or CSV.

The first non-empty row is the header (blank header cells become ``column_<n>``); fully
empty rows are skipped; a cell to the right of the header's last column is a ragged-row
error. A column whose cells mix numbers and text is read as text; Excel error values
(``#N/A``, ``#DIV/0!``, ...) read as nulls.
"""

from __future__ import annotations

import datetime as _dt
import io
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import guard
from ..source import Spilled, open_random
from .base import FormatReader

_ERROR_VALUES = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
)


def _cell_text(value: Any) -> str:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_array(values: list[Any]) -> pa.Array:
    values = [None if isinstance(v, str) and v in _ERROR_VALUES else v for v in values]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    numbers = [v for v in values if v is not None]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else _cell_text(v) for v in values], type=pa.string())


class ExcelReader(FormatReader):
    format = "excel"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self._spilled: Spilled | None = None
        try:
            self._table, self._sheet = self._load()
        finally:
            if self._spilled is not None:
                self._spilled.close()
                self._spilled = None
        check_unique_names(self._table.schema, self.path)

    def _too_large(self, size: int, what: str, limit: int, option: str) -> DataError:
        return DataError(
            f"Excel workbook too large: {what} is {size} bytes, over the limit of {limit} "
            f"(Excel is read whole; raise {option} or convert to Parquet/CSV)",
            code=ErrorCode.DATA_TOO_LARGE,
            path=self.path,
            expected=f"at most {limit} bytes",
        )

    def _load(self) -> tuple[pa.Table, str]:
        limit = self.options.excel_max_bytes
        source = self.src
        if source.size > limit and not self.detection.compression:
            raise self._too_large(source.size, "the file", limit, "excel_max_bytes")
        if self.detection.compression:
            self._spilled = Spilled(source, self.detection.compression)
            source = self._spilled.source
            if source.size > limit:
                raise self._too_large(source.size, "the file", limit, "excel_max_bytes")
        with guard(self.path, "Excel file", ErrorCode.DATA_ACCESS):
            if source.is_local:
                with open(source.path, "rb") as handle:
                    data = handle.read()
            else:
                with open_random(source) as handle:
                    data = handle.read()
        with guard(self.path, "xlsx zip archive", ErrorCode.DATA_CORRUPT):
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = set(archive.namelist())
            uncompressed = sum(info.file_size for info in archive.infolist())
        if "xl/workbook.xml" not in names:
            raise DataError(
                "zip archive is not an xlsx workbook (no xl/workbook.xml)",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                expected="an .xlsx workbook",
            )
        cap = self.options.excel_max_uncompressed_bytes
        if uncompressed > cap:
            raise self._too_large(
                uncompressed, "the uncompressed content", cap, "excel_max_uncompressed_bytes"
            )
        try:
            import openpyxl
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DataError(
                "reading Excel needs openpyxl (pip install 'openpyxl>=3.1,<4')",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                expected="openpyxl installed",
            ) from exc
        with guard(self.path, "Excel workbook", ErrorCode.DATA_CORRUPT), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = self._sheet_of(workbook)
                return self._read_sheet(sheet), sheet.title
            finally:
                workbook.close()

    def _sheet_of(self, workbook: Any) -> Any:
        wanted = self.options.excel_sheet
        sheets = workbook.worksheets
        titles = [sheet.title for sheet in sheets]
        if wanted is None:
            if not sheets:
                raise DataError(
                    "workbook has no sheets",
                    code=ErrorCode.DATA_EMPTY,
                    path=self.path,
                    expected="a worksheet with a header row",
                )
            return sheets[0]
        if isinstance(wanted, int):
            if 0 <= wanted < len(sheets):
                return sheets[wanted]
        elif wanted in titles:
            return workbook[wanted]
        raise DataError(
            f"sheet {wanted!r} not found",
            code=ErrorCode.DATA_NOT_FOUND,
            path=self.path,
            expected=f"one of {titles}",
        )

    def _read_sheet(self, sheet: Any) -> pa.Table:
        rows = sheet.iter_rows(values_only=True)
        header = None
        excel_row = 0
        for row in rows:
            excel_row += 1
            if any(v is not None for v in row):
                header = list(row)
                break
        if header is None:
            raise DataError(
                f"sheet {sheet.title!r} is empty",
                code=ErrorCode.DATA_EMPTY,
                path=self.path,
                expected="a header row and data rows",
            )
        while header and header[-1] is None:
            header.pop()
        width = len(header)
        names = [
            f"column_{i + 1}" if value is None else _cell_text(value).strip() or f"column_{i + 1}"
            for i, value in enumerate(header)
        ]
        columns: list[list[Any]] = [[] for _ in names]
        data_row = 0
        for row in rows:
            excel_row += 1
            if not any(v is not None for v in row):
                continue
            if any(v is not None for v in row[width:]):
                raise DataError(
                    f"ragged row: a value right of the header's last column (sheet "
                    f"{sheet.title!r}, Excel row {excel_row})",
                    code=ErrorCode.DATA_FORMAT,
                    path=self.path,
                    row=data_row,
                    expected=f"at most {width} columns, as in the header",
                )
            for i in range(width):
                columns[i].append(row[i] if i < len(row) else None)
            data_row += 1
        arrays = [_column_array(values) for values in columns]
        return pa.Table.from_arrays(arrays, names=names)

    @property
    def schema(self) -> pa.Schema:
        return self._table.schema

    def num_rows(self) -> int | None:
        return self._table.num_rows

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        table = self._table.select(list(columns)) if columns is not None else self._table
        yield from table.to_batches(max_chunksize=self.options.batch_rows)

    def info(self) -> dict[str, Any]:
        return {"excel_sheet": self._sheet}
