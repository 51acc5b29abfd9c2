"""Helpers shared by the text readers: line blocks and locating bad UTF-8."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from ..failures import guard
from ..source import Source, open_stream

_SCAN_CHUNK = 1 << 20


def is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def find_invalid_utf8(src: Source, compression: str | None) -> tuple[int, int] | None:
    """(byte offset, 1-based line) of the first byte that is not valid UTF-8, or None.

    Streams the file in 1 MiB chunks: linear time, constant memory.
    """
    offset = 0  # bytes of the file before `carry`
    line = 1
    carry = b""
    with guard(src.display, "text", ErrorCode.DATA_CORRUPT), open_stream(src, compression) as f:
        while True:
            chunk = f.read(_SCAN_CHUNK)
            final = not chunk
            data = carry + chunk
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and not final:
                    good = exc.start
                else:
                    where = offset + exc.start
                    return where, line + data[: exc.start].count(b"\n")
            line += data[:good].count(b"\n")
            offset += good
            carry = data[good:]
            if final:
                return None


def encoding_error(src: Source, compression: str | None, what: str) -> DataError:
    """A DATA_ENCODING error pointing at the first invalid byte (found by a scan)."""
    found = find_invalid_utf8(src, compression)
    if found is None:
        return DataError(
            f"{what} is not valid UTF-8",
            code=ErrorCode.DATA_ENCODING,
            path=src.display,
            expected="UTF-8 text (or pass encoding=..., e.g. 'latin-1')",
        )
    offset, line = found
    return DataError(
        f"{what} is not valid UTF-8 (first bad byte on line {line})",
        code=ErrorCode.DATA_ENCODING,
        path=src.display,
        byte_offset=offset,
        expected="UTF-8 text (or pass encoding=..., e.g. 'latin-1')",
    )


@dataclass(frozen=True)
class LineBlock:
    data: bytes
    first_line: int  # 0-based line number of the block's first line
    byte_offset: int  # offset of the block in the (decompressed) file


def iter_line_blocks(
    stream: pa.NativeFile, *, block_bytes: int, max_line_bytes: int, path: str
) -> Iterator[LineBlock]:
    """Blocks of whole lines, each about `block_bytes` long (bounded memory)."""
    carry = b""
    line = 0
    offset = 0
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            if carry:
                yield LineBlock(carry, line, offset)
            return
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > max_line_bytes:
                raise DataError(
                    f"a line is longer than {max_line_bytes} bytes",
                    code=ErrorCode.DATA_TOO_LARGE,
                    path=path,
                    byte_offset=offset,
                    row=line,
                    expected="one record per line (or raise max_record_bytes)",
                )
            carry = data
            continue
        block, carry = data[: cut + 1], data[cut + 1 :]
        yield LineBlock(block, line, offset)
        line += block.count(b"\n")
        offset += len(block)
