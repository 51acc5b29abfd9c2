"""Format sniffing: decide a file's format from its content, the extension only breaking ties.

Binary formats are recognised by magic bytes (Parquet ``PAR1``, Arrow IPC file ``ARROW1``,
Arrow IPC stream continuation marker, Feather v1 ``FEA1``, the HDF5 signature, ``PK`` zip
for xlsx). Compression (gzip, zstd, bz2, lz4 frame) is recognised by its magic and looked
through. Text is told apart by its first non-blank character (``[`` / ``{`` for JSON and
JSONL) and, for delimited text, by which delimiter splits the first lines consistently.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import struct
from dataclasses import dataclass

from synthos.errors import DataError, ErrorCode

from .options import LoadOptions
from .source import Source, read_head

PARQUET_MAGIC = b"PAR1"
PARQUET_ENCRYPTED_MAGIC = b"PARE"
ARROW_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
IPC_CONTINUATION = b"\xff\xff\xff\xff"

_COMPRESSION_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".lz4")

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".arrows": "arrow_stream",
    ".feather": "feather",
    ".ftr": "feather",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".he5": "hdf5",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}

TEXT_FORMATS = frozenset({"csv", "tsv", "json", "jsonl"})
_DESCRIBE = {
    "parquet": "Parquet (starting with the magic bytes PAR1)",
    "arrow": "an Arrow IPC file (starting with ARROW1)",
    "feather": "Feather / Arrow IPC (starting with ARROW1 or FEA1)",
    "arrow_stream": "an Arrow IPC stream (starting with the continuation marker 0xFFFFFFFF)",
    "hdf5": "HDF5 (starting with the HDF5 signature)",
    "excel": "an xlsx workbook (a zip archive starting with PK)",
    "csv": "UTF-8 comma-separated text",
    "tsv": "UTF-8 tab-separated text",
    "json": "a UTF-8 JSON array of objects or an object of objects",
    "jsonl": "UTF-8 JSON Lines (one object per line)",
}


@dataclass(frozen=True)
class Detection:
    """What a file holds and how to read it."""

    format: str
    compression: str | None = None
    delimiter: str | None = None
    json_layout: str | None = None  # "array" or "records_per_key" for format "json"
    note: str | None = None  # e.g. the extension disagreed with the content
    feather_v1: bool = False


def extension_format(name: str) -> str | None:
    """The format a file name suggests, looking through compression suffixes."""
    lower = name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    dot = lower.rfind(".")
    if dot < 0:
        return None
    return EXTENSIONS.get(lower[dot:])


def describe(fmt: str) -> str:
    return _DESCRIBE.get(fmt, fmt)


def detect(src: Source, options: LoadOptions) -> Detection:
    """Sniff `src`. Raises DATA_EMPTY for an empty file, DATA_FORMAT when unrecognisable."""
    if src.size == 0:
        raise DataError(
            "file is empty (0 bytes)",
            code=ErrorCode.DATA_EMPTY,
            path=src.display,
            expected="a file with a header or at least one record",
        )
    raw, compression, head = read_head(src)
    if not raw:
        raise DataError(
            "file is empty (0 bytes)",
            code=ErrorCode.DATA_EMPTY,
            path=src.display,
            expected="a file with a header or at least one record",
        )
    if compression and not head:
        raise DataError(
            f"{compression}-compressed file decompresses to nothing",
            code=ErrorCode.DATA_EMPTY,
            path=src.display,
            expected="at least one record after decompression",
        )
    complete = compression is None and len(raw) >= src.size
    return sniff(
        head,
        name=src.name,
        path=src.display,
        compression=compression,
        complete=complete,
        options=options,
    )


def sniff(
    head: bytes,
    *,
    name: str,
    path: str,
    compression: str | None = None,
    complete: bool = False,
    options: LoadOptions | None = None,
) -> Detection:
    """Classify the first (decompressed) bytes of a file; `complete` if they are all of it."""
    options = options or LoadOptions()
    by_ext = extension_format(name)
    binary = _binary_format(head)
    if binary is not None:
        return _binary_detection(head, binary, by_ext, options.format, compression, path)
    found = _text_format(head, complete, options, path)
    if found is None:
        raise _unrecognised(head, by_ext, options.format, path)
    fmt, delimiter, layout = _text_choice(head, found, by_ext, options, path)
    note = None
    if by_ext is not None and not _same_family(by_ext, fmt):
        note = f"file name suggests {by_ext} but the content is {fmt}"
    if fmt in ("csv", "tsv") and options.delimiter:
        delimiter = options.delimiter
    return Detection(
        format=fmt,
        compression=compression,
        delimiter=delimiter,
        json_layout=layout,
        note=note,
    )


def _binary_detection(
    head: bytes,
    binary: str,
    by_ext: str | None,
    forced: str | None,
    compression: str | None,
    path: str,
) -> Detection:
    """The detection of a binary format found by its magic bytes; a DataError for the
    unsupported ones (encrypted Parquet, legacy Excel) and for a different format asked for."""
    if binary == "encrypted_parquet":
        raise DataError(
            "Parquet file with an encrypted footer is not supported",
            code=ErrorCode.DATA_FORMAT,
            path=path,
            expected="an unencrypted Parquet file",
        )
    if binary == "xls":
        raise DataError(
            "legacy Excel (.xls, OLE2) or an encrypted workbook is not supported",
            code=ErrorCode.DATA_FORMAT,
            path=path,
            expected="an .xlsx workbook (save the file as xlsx)",
        )
    fmt = binary
    if fmt == "arrow" and (by_ext == "feather" or forced == "feather"):
        fmt = "feather"
    if forced is not None and forced != fmt and not _same_family(forced, fmt):
        raise _mismatch(path, forced, fmt, "the format you asked for")
    note = None
    if by_ext is not None and not _same_family(by_ext, fmt):
        note = f"file name suggests {by_ext} but the content is {fmt}"
    return Detection(
        format=fmt,
        compression=compression,
        note=note,
        feather_v1=head.startswith(FEATHER_V1_MAGIC),
    )


def _unrecognised(head: bytes, by_ext: str | None, forced: str | None, path: str) -> DataError:
    """Content that is neither a known binary format nor text."""
    expected_fmt = forced or by_ext
    expected = describe(expected_fmt) if expected_fmt else "a supported format"
    shown = f" (named as {by_ext})" if by_ext else ""
    return DataError(
        f"unrecognised binary content{shown}; the first bytes are {head[:8]!r}",
        code=ErrorCode.DATA_FORMAT,
        path=path,
        byte_offset=0,
        expected=expected,
    )


def _text_choice(
    head: bytes,
    found: tuple[str, str | None, str | None],
    by_ext: str | None,
    options: LoadOptions,
    path: str,
) -> tuple[str, str | None, str | None]:
    """The text format, delimiter and JSON layout to read with, from what the content looks
    like (`found`): a format asked for wins, and the extension settles a single column (csv
    or tsv) and a one-line file (json or jsonl)."""
    fmt, delimiter, layout = found
    if fmt == "csv" and delimiter is None:
        fmt, delimiter = ("tsv", "\t") if by_ext == "tsv" else ("csv", ",")
    forced = options.format
    if forced is not None:
        if forced not in TEXT_FORMATS:
            raise _mismatch(path, forced, fmt, "the format you asked for")
        if forced in ("csv", "tsv"):
            delimiter = options.delimiter or ("\t" if forced == "tsv" else ",")
        if forced == "json" and layout is None:
            layout = (
                "array"
                if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
                else ("records_per_key")
            )
        fmt = forced
    elif {by_ext, fmt} == {"json", "jsonl"} and _single_json_line(head):
        # A one-line JSON file looks like JSONL and vice versa: the extension decides.
        layout = None
        if by_ext == "json":
            layout = "array" if _first_char(head) == "[" else "records_per_key"
        fmt = by_ext
    return fmt, delimiter, layout


def _same_family(a: str, b: str) -> bool:
    arrow = {"arrow", "feather"}
    return a == b or (a in arrow and b in arrow)


def _mismatch(path: str, wanted: str, found: str, why: str) -> DataError:
    return DataError(
        f"content is {found}, not {wanted} ({why})",
        code=ErrorCode.DATA_FORMAT,
        path=path,
        byte_offset=0,
        expected=describe(wanted),
    )


def _binary_format(head: bytes) -> str | None:
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(PARQUET_ENCRYPTED_MAGIC):
        return "encrypted_parquet"
    if head.startswith(ARROW_MAGIC):
        return "arrow"
    if head.startswith(FEATHER_V1_MAGIC):
        return "feather"
    if head.startswith(ZIP_MAGIC):
        return "excel"
    if head.startswith(OLE_MAGIC):
        return "xls"
    # HDF5 may carry a user block: the signature sits at 0, 512, 1024, 2048, ...
    offset = 0
    while offset + len(HDF5_MAGIC) <= len(head):
        if head[offset : offset + len(HDF5_MAGIC)] == HDF5_MAGIC:
            return "hdf5"
        offset = 512 if offset == 0 else offset * 2
    if _looks_like_ipc_stream(head):
        return "arrow_stream"
    return None


def _looks_like_ipc_stream(head: bytes) -> bool:
    if len(head) < 8:
        return False
    if head[:4] == IPC_CONTINUATION:
        (length,) = struct.unpack("<i", head[4:8])
        # The first message is the schema: a flatbuffer of modest size, 8-byte aligned.
        return 0 < length < (1 << 28) and length % 8 == 0
    return False


def _first_char(head: bytes) -> str:
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return chr(stripped[0]) if stripped else ""


def _single_json_line(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf").strip()
    return stripped[:1] in (b"[", b"{") and b"\n" not in stripped


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def _mostly_control(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\x0c\r")
    return "\x00" in sample or (bool(sample) and controls / len(sample) > 0.01)


def _decode_head(head: bytes, complete: bool, encoding: str, path: str) -> str | None:
    """Head bytes as text, or None if they look binary. Raises DATA_ENCODING for a
    text file that is not valid in `encoding` (UTF-8 by default)."""
    if not _is_utf8(encoding):
        try:
            text = head.decode(encoding, errors="replace")
        except LookupError as exc:
            raise DataError(
                f"unknown text encoding {encoding!r}",
                code=ErrorCode.DATA_ENCODING,
                path=path,
                expected="an encoding Python knows, e.g. 'utf-8' or 'latin-1'",
            ) from exc
        return None if _mostly_control(text) else text
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        len(head) >= 4 and head[0] != 0 and head[1] == 0 and head[2] != 0 and head[3] == 0
    ):
        raise DataError(
            "text is UTF-16 encoded",
            code=ErrorCode.DATA_ENCODING,
            path=path,
            byte_offset=0,
            expected="UTF-8 text (or pass encoding='utf-16')",
        )
    sample = head[:8192]
    if b"\x00" in sample:
        return None
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if sample and controls / len(sample) > 0.01:
        return None
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated_tail = exc.reason == "unexpected end of data" and not complete
        if truncated_tail and exc.start >= len(body) - 3:
            return body[: exc.start].decode("utf-8", errors="replace")
        offset = exc.start + (len(head) - len(body))
        # Mostly non-ASCII bytes that are not UTF-8: binary, not text.
        high = sum(1 for b in sample if b >= 128)
        if sample and high / len(sample) > 0.3:
            return None
        line = head[:offset].count(b"\n") + 1
        raise DataError(
            f"text is not valid UTF-8 (byte {head[offset : offset + 1]!r} on line {line})",
            code=ErrorCode.DATA_ENCODING,
            path=path,
            byte_offset=offset,
            row=max(line - 2, 0),
            expected="UTF-8 text (or pass encoding=..., e.g. 'latin-1')",
        ) from exc


def _text_format(
    head: bytes, complete: bool, options: LoadOptions, path: str
) -> tuple[str, str | None, str | None] | None:
    text = _decode_head(head, complete, options.encoding, path)
    if text is None:
        return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise DataError(
            "file holds only whitespace",
            code=ErrorCode.DATA_EMPTY,
            path=path,
            expected="a header and at least one row",
        )
    first = stripped[0]
    if first == "[":
        return "json", None, "array"
    if first == "{":
        return _json_or_jsonl(stripped, complete)
    delimiter = options.delimiter or _sniff_delimiter(text, complete)
    if delimiter is None:
        return "csv", None, None  # a single column: the caller picks by extension
    return ("tsv" if delimiter == "\t" else "csv"), delimiter, None


def _json_or_jsonl(text: str, complete: bool) -> tuple[str, str | None, str | None]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    try:
        obj = json.loads(lines[0])
    except ValueError:
        # The first line is not a whole object: pretty-printed JSON (or one huge line).
        return "json", None, "records_per_key"
    others = lines[1:]
    if others:
        return "jsonl", None, None
    if (
        isinstance(obj, dict)
        and obj
        and all(isinstance(value, dict) for value in obj.values())
        and complete
    ):
        return "json", None, "records_per_key"
    return "jsonl", None, None


_DELIMITERS = ("\t", ",", ";", "|")


def _sniff_delimiter(text: str, complete: bool) -> str | None:
    if not complete:
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut > 0 else text
    candidates = []
    for rank, delimiter in enumerate(_DELIMITERS):
        counts = []
        try:
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                if row:
                    counts.append(len(row))
                if len(counts) >= 50:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = all(count == counts[0] for count in counts)
        candidates.append((consistent, counts[0] if consistent else 0, -rank, delimiter))
    if not candidates:
        return None
    best = max(candidates)
    if best[0]:
        return best[3]
    # Nothing splits every line the same way (ragged rows): go by the header.
    header = text.split("\n", 1)[0]
    return max(_DELIMITERS, key=lambda d: (header.count(d), d == ","))
