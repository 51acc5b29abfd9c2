"""Per-format readers and the registry that picks one for a detected format."""

from __future__ import annotations

from synthos.errors import DataError, ErrorCode

from ..detect import Detection
from ..failures import guard
from ..options import LoadOptions
from ..source import Source
from .arrow_ipc import ArrowFileReader, ArrowStreamReader
from .base import FormatReader
from .delimited import DelimitedReader
from .json_records import JsonReader
from .parquet import ParquetReader

__all__ = [
    "ArrowFileReader",
    "ArrowStreamReader",
    "DelimitedReader",
    "FormatReader",
    "JsonReader",
    "ParquetReader",
    "open_reader",
]


def _reader_class(fmt: str) -> type[FormatReader]:
    if fmt in ("csv", "tsv"):
        return DelimitedReader
    if fmt in ("json", "jsonl"):
        return JsonReader
    if fmt == "parquet":
        return ParquetReader
    if fmt in ("arrow", "feather"):
        return ArrowFileReader
    if fmt == "arrow_stream":
        return ArrowStreamReader
    if fmt == "hdf5":
        from .hdf5 import Hdf5Reader

        return Hdf5Reader
    if fmt == "excel":
        from .excel import ExcelReader

        return ExcelReader
    raise DataError(f"no reader for format {fmt!r}", code=ErrorCode.DATA_FORMAT)


def open_reader(src: Source, detection: Detection, options: LoadOptions) -> FormatReader:
    """A reader for one file; raises only `DataError`."""
    cls = _reader_class(detection.format)
    with guard(src.display, f"{detection.format} file", ErrorCode.DATA_CORRUPT):
        return cls(src, detection, options)
