"""Turning every failure met while reading into a `DataError` (DESIGN section 8).

Readers wrap their work in `guard(...)`: a `DataError` passes through untouched, anything
else (pyarrow, h5py, openpyxl, zipfile, OS errors, even a bug in a third-party parser
tripped by corrupt bytes) becomes a `DataError` with a 1xxx code that names the file.
No other exception type leaves the loading layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

from synthos.errors import DataError, ErrorCode

_MAX_DETAIL = 300


def short(text: object, limit: int = _MAX_DETAIL) -> str:
    """One line of at most `limit` characters: safe to show a user, never a traceback."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class TypeConflict(DataError):
    """A column's values do not fit the type fixed earlier in the stream.

    Still a `DataError` (code DATA_SCHEMA) for callers; `read_table` catches it to widen the
    column's type and read again, since it materialises the whole table anyway.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None,
        column: str,
        old_type: pa.DataType | None,
        value: str | None = None,
        row: int | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(
            message,
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            column=column,
            row=row,
            expected=expected,
        )
        self.column = column
        self.old_type = old_type
        self.value = value
        #: The type that would hold the value, when reading again could help (CSV).
        self.retry_type: pa.DataType | None = None


def classify(exc: BaseException, default: ErrorCode) -> ErrorCode:
    """The data error code that best describes a foreign exception."""
    if isinstance(exc, FileNotFoundError):
        return ErrorCode.DATA_NOT_FOUND
    if isinstance(exc, PermissionError):
        return ErrorCode.DATA_ACCESS
    if isinstance(exc, UnicodeError):
        return ErrorCode.DATA_ENCODING
    if isinstance(exc, MemoryError):
        return ErrorCode.DATA_TOO_LARGE
    text = str(exc).lower()
    if "utf8" in text or "utf-8" in text:
        return ErrorCode.DATA_ENCODING
    if "path does not exist" in text or "no such file" in text or "nosuchkey" in text:
        return ErrorCode.DATA_NOT_FOUND
    if "nosuchbucket" in text or "bucket does not exist" in text:
        return ErrorCode.DATA_NOT_FOUND
    if "access denied" in text or "accessdenied" in text or "permission denied" in text:
        return ErrorCode.DATA_ACCESS
    if "curl error" in text or ("connection" in text and "refused" in text):
        return ErrorCode.DATA_ACCESS
    return default


@contextmanager
def guard(
    path: str,
    what: str,
    default: ErrorCode = ErrorCode.DATA_CORRUPT,
    *,
    row: int | None = None,
) -> Iterator[None]:
    """Re-raise anything but a `DataError` as a `DataError` about `path`.

    `what` says what was being read ("Parquet file", "CSV header"), `default` is the code
    used when the exception says nothing more specific.
    """
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        code = classify(exc, default)
        raise DataError(
            f"could not read {what}: {short(exc)}",
            code=code,
            path=path,
            row=row,
            expected=expected_for(code, what),
        ) from exc


_EXPECTED = {
    ErrorCode.DATA_NOT_FOUND: "an existing file or object",
    ErrorCode.DATA_ACCESS: "a readable file (permissions, reachable storage)",
    ErrorCode.DATA_ENCODING: "UTF-8 text",
    ErrorCode.DATA_TOO_LARGE: "data that fits in memory",
}


def expected_for(code: ErrorCode, what: str) -> str:
    """What a reader expected when a foreign exception of class `code` hit it on `what`."""
    return _EXPECTED.get(code, f"a complete, well-formed {what}")


_ROW_RE = re.compile(r"\brow #?(\d+)", re.IGNORECASE)


def row_from_message(text: str) -> int | None:
    """The row number a pyarrow error message mentions, if any."""
    match = _ROW_RE.search(text)
    return int(match.group(1)) if match else None
