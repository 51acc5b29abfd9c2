"""A guard against Parquet footers that would abort the process inside pyarrow.

pyarrow builds column-chunk metadata objects (`RowGroupMetaData.column(i)`, the dataset
API's row-group statistics) outside its C++ exception handling: a footer whose size
statistics disagree with the schema ("Definition level histogram size mismatch") raises a
C++ exception that terminates the interpreter. Reading data goes through pyarrow's
checked path and is safe; looking at statistics is not.

So before statistics are touched, the footer is decoded here (Thrift compact protocol, a
small bounded parser) and checked for exactly the inconsistencies pyarrow throws on:
histogram lengths against the column's maximum levels, byte-array sizes on non-byte-array
columns, encrypted column metadata, a column count that differs from the schema, and
fixed-width min/max statistics of the wrong length.
"""

from __future__ import annotations

from typing import Any

# Thrift compact protocol type ids.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = range(9)
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
_MAX_DEPTH = 64

# Parquet physical types and their fixed widths (None: variable or type_length).
_WIDTHS = {0: 1, 1: 4, 2: 8, 3: 12, 4: 4, 5: 8, 6: None, 7: None}
_BYTE_ARRAY = 6
_FIXED_LEN_BYTE_ARRAY = 7


class FooterError(ValueError):
    """The footer cannot be decoded by this parser (pyarrow may still read it)."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise FooterError("unexpected end of footer")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = 0
        result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise FooterError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FooterError("length beyond the footer")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def value(self, kind: int, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise FooterError("footer nested too deeply")
        if kind == _TRUE:
            return True
        if kind == _FALSE:
            return False
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            return self.take(8)
        if kind == _BINARY:
            return self.take(self.varint())
        if kind in (_LIST, _SET):
            header = self.byte()
            size = header >> 4
            element = header & 0x0F
            if size == 15:
                size = self.varint()
            if size > len(self.data) - self.pos + 1:
                raise FooterError("list longer than the footer")
            if element in (_TRUE, _FALSE):
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(element, depth + 1) for _ in range(size)]
        if kind == _MAP:
            size = self.varint()
            if size == 0:
                return {}
            types = self.byte()
            if size > len(self.data) - self.pos:
                raise FooterError("map longer than the footer")
            out = {}
            for _ in range(size):
                key = self.value(types >> 4, depth + 1)
                out[key if not isinstance(key, list) else len(out)] = self.value(
                    types & 0x0F, depth + 1
                )
            return out
        if kind == _STRUCT:
            return self.struct(depth + 1)
        raise FooterError(f"unknown thrift type {kind}")

    def struct(self, depth: int = 0) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            header = self.byte()
            kind = header & 0x0F
            if kind == _STOP:
                return fields
            delta = header >> 4
            field_id = last + delta if delta else self.zigzag()
            fields[field_id] = self.value(kind, depth)
            last = field_id


def decode_footer(data: bytes) -> dict[int, Any]:
    """FileMetaData as nested {field id: value} dicts."""
    return _Reader(data).struct()


def footer_problem(footer: bytes, leaves: list[tuple[int, int, int, int]]) -> str | None:
    """What in the footer would make pyarrow abort, or None.

    `leaves` gives, per leaf column in schema order, (physical type, type length,
    max definition level, max repetition level). Raises FooterError if the footer
    cannot be decoded at all.
    """
    meta = decode_footer(footer)
    for g, group in enumerate(meta.get(4) or []):
        if not isinstance(group, dict):
            return f"row group {g} is not a struct"
        columns = group.get(1) or []
        if len(columns) != len(leaves):
            return f"row group {g} has {len(columns)} column chunks, schema has {len(leaves)}"
        for c, chunk in enumerate(columns):
            problem = _chunk_problem(chunk, leaves[c])
            if problem:
                return f"row group {g}, column {c}: {problem}"
    return None


def _chunk_problem(chunk: Any, leaf: tuple[int, int, int, int]) -> str | None:
    physical, type_length, max_def, max_rep = leaf
    if not isinstance(chunk, dict):
        return "column chunk is not a struct"
    if 8 in chunk or 9 in chunk:
        return "encrypted column metadata"
    meta = chunk.get(3)
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return "column metadata is not a struct"
    if meta.get(1, physical) != physical:
        return "physical type differs from the schema"
    sizes = meta.get(16)
    if isinstance(sizes, dict):
        reps = sizes.get(2) or []
        defs = sizes.get(3) or []
        if reps and len(reps) != max_rep + 1:
            return "repetition level histogram size mismatch"
        if defs and len(defs) != max_def + 1:
            return "definition level histogram size mismatch"
        if 1 in sizes and physical != _BYTE_ARRAY:
            return "unencoded byte array size on a non-byte-array column"
    elif sizes is not None:
        return "size statistics are not a struct"
    stats = meta.get(12)
    if isinstance(stats, dict):
        width = _WIDTHS.get(physical)
        if physical == _FIXED_LEN_BYTE_ARRAY:
            width = type_length
        for field in (1, 2, 5, 6):
            value = stats.get(field)
            if value is None:
                continue
            if not isinstance(value, bytes):
                return "statistics value is not binary"
            if width is not None and len(value) != width:
                return f"statistics value of {len(value)} bytes for a {width}-byte type"
    elif stats is not None:
        return "statistics are not a struct"
    return None
