"""JSON Lines, JSON arrays of objects, and JSON objects of objects ("records per key").

Everything is parsed in blocks of whole records with pyarrow's JSON reader, so memory is
bounded by `block_bytes` plus the longest record (`max_record_bytes`):

* JSONL is cut into blocks at line ends.
* A JSON array (``[{...}, {...}]``) or a records-per-key object
  (``{"k1": {...}, "k2": {...}}``) is walked element by element with the standard
  library's C decoder (`raw_decode`) over a sliding text window; each element is re-emitted
  as one line (JSON strings never hold raw newlines, so only whitespace changes), the key
  of a records-per-key object going into `LoadOptions.json_key_column`.

When pyarrow rejects a block, the block is re-read in Python to say exactly where and why:
the line, the byte offset, and for mixed types the field and both kinds of value.

UTF-8 JSONL first goes through pyarrow's streaming reader (`open_json`: it reads a few
blocks ahead and parses them in parallel, types fixed by the first block). Whatever it
rejects (a bad line, a type or field that changes after the first block, a record longer
than a block), the block reader above resumes at the first row not yet yielded: it reads on
with types per block, as the loader expects, or says exactly where and why the data is wrong.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, expected_for, short
from ..source import open_stream
from .base import FormatReader
from .text import LineBlock, is_utf8, iter_line_blocks


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class JsonReader(FormatReader):
    """Reads format "jsonl" and format "json" (layouts "array" and "records_per_key")."""

    sparse = True

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self.format = detection.format
        self._schema: pa.Schema | None = None

    # -- blocks ----------------------------------------------------------------------

    def _blocks(self) -> Iterator[LineBlock]:
        with open_stream(self.src, self.detection.compression) as stream:
            if self.format == "jsonl":
                yield from self._jsonl_blocks(stream)
            else:
                yield from self._element_blocks(stream)

    def _jsonl_blocks(self, stream: pa.NativeFile) -> Iterator[LineBlock]:
        for block in iter_line_blocks(
            stream,
            block_bytes=self.options.block_bytes,
            max_line_bytes=self.options.max_record_bytes,
            path=self.path,
        ):
            data = block.data
            if block.byte_offset == 0 and data.startswith(codecs.BOM_UTF8):
                data = b" " * 3 + data[3:]
            if not is_utf8(self.options.encoding):
                data = self._transcode(data, block)
            yield LineBlock(data, block.first_line, block.byte_offset)

    def _transcode(self, data: bytes, block: LineBlock) -> bytes:
        try:
            return data.decode(self.options.encoding).encode("utf-8")
        except (UnicodeError, LookupError) as exc:
            raise DataError(
                f"text is not valid {self.options.encoding}: {short(exc, 120)}",
                code=ErrorCode.DATA_ENCODING,
                path=self.path,
                byte_offset=block.byte_offset + getattr(exc, "start", 0),
                expected=f"{self.options.encoding} text",
            ) from exc

    def _element_blocks(self, stream: pa.NativeFile) -> Iterator[LineBlock]:
        lines: list[str] = []
        size = 0
        first = 0
        offset = 0  # byte offsets are computed only for errors in JSON documents
        for index, line in enumerate(self._elements(stream)):
            if not lines:
                first = index
            lines.append(line)
            size += len(line) + 1
            if size >= self.options.block_bytes or len(lines) >= self.options.batch_rows:
                yield LineBlock(("\n".join(lines) + "\n").encode("utf-8"), first, offset)
                lines, size = [], 0
        if lines:
            yield LineBlock(("\n".join(lines) + "\n").encode("utf-8"), first, offset)

    def _elements(self, stream: pa.NativeFile) -> Iterator[str]:
        """One-line JSON object text for each element of the top level."""
        walker = _Walker(stream, self.path, self.options)
        by_key = self.detection.json_layout == "records_per_key"
        key_json = json.dumps(self.options.json_key_column)
        opener, closer = ("{", "}") if by_key else ("[", "]")
        walker.expect(opener, "a JSON array of objects" if not by_key else "a JSON object")
        index = 0
        if walker.peek() == closer:
            walker.advance(1)
            walker.expect_end()
            return
        while True:
            key = None
            if by_key:
                key_value, _ = walker.value(index, "a string key")
                if not isinstance(key_value, str):
                    raise walker.error("a record key is not a string", index, "a string key")
                key = key_value
                walker.expect(":", "':' after the key")
            value, text = walker.value(index, "a JSON object")
            if not isinstance(value, dict):
                start_offset = walker.byte_offset(walker.pos - len(text))
                raise DataError(
                    f"element {index} is a JSON {_kind(value)}, not an object",
                    code=ErrorCode.DATA_FORMAT,
                    path=self.path,
                    row=index,
                    byte_offset=start_offset,
                    expected="an array of objects (records) or an object of objects",
                )
            line = text.replace("\n", " ").replace("\r", " ")
            if key is not None:
                inner = line[1:].lstrip()
                prefix = "{" + key_json + ":" + json.dumps(key)
                line = prefix + "}" if inner.startswith("}") else prefix + "," + inner
            yield line
            index += 1
            separator = walker.expect(",", f"',' or '{closer}'", alternatives=closer)
            if separator == closer:
                walker.expect_end()
                return

    # -- parsing ----------------------------------------------------------------------

    def _parse_options(self) -> pajson.ParseOptions:
        types = self.options.arrow_types
        return pajson.ParseOptions(
            explicit_schema=pa.schema(list(types.items())) if types else None,
            unexpected_field_behavior="infer",
        )

    def _parse(self, block: LineBlock) -> pa.Table:
        parse_options = self._parse_options()
        read_options = pajson.ReadOptions(
            use_threads=False, block_size=max(len(block.data) + 1, 1 << 16)
        )
        try:
            table = pajson.read_json(
                io.BytesIO(block.data), read_options=read_options, parse_options=parse_options
            )
        except Exception as exc:
            raise self._explain(block, exc) from exc
        check_unique_names(table.schema, self.path)
        return table

    def _explain(self, block: LineBlock, exc: Exception) -> DataError:
        """Find the exact problem in a block pyarrow rejected."""
        data = block.data
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = block.first_line + data[: bad.start].count(b"\n")
            return DataError(
                f"text is not valid UTF-8 (line {line + 1})",
                code=ErrorCode.DATA_ENCODING,
                path=self.path,
                byte_offset=block.byte_offset + bad.start if self.format == "jsonl" else None,
                row=line,
                expected="UTF-8 text (or pass encoding=..., e.g. 'latin-1')",
            )
        kinds: dict[str, tuple[str, int]] = {}
        position = 0
        record = block.first_line
        for number, raw in enumerate(data.split(b"\n")):
            line_no = block.first_line + number
            line_offset = block.byte_offset + position
            position += len(raw) + 1
            if not raw.strip():
                continue
            row = line_no if self.format == "jsonl" else record
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError) as bad:
                return DataError(
                    f"invalid JSON on line {line_no + 1}: {short(bad, 120)}",
                    code=ErrorCode.DATA_FORMAT,
                    path=self.path,
                    row=row,
                    byte_offset=line_offset + getattr(bad, "pos", 0)
                    if self.format == "jsonl"
                    else None,
                    expected="one JSON object per line",
                )
            if not isinstance(value, dict):
                return DataError(
                    f"line {line_no + 1} holds a JSON {_kind(value)}, not an object",
                    code=ErrorCode.DATA_FORMAT,
                    path=self.path,
                    row=row,
                    expected="one JSON object per record",
                )
            for field, item in value.items():
                kind = _kind(item)
                if kind == "null":
                    continue
                seen = kinds.get(field)
                if seen is None:
                    kinds[field] = (kind, row)
                elif seen[0] != kind:
                    return DataError(
                        f"mixed types in JSON field {field!r}: {seen[0]} at row {seen[1]}, "
                        f"{kind} at row {row}",
                        code=ErrorCode.DATA_SCHEMA,
                        path=self.path,
                        row=row,
                        column=field,
                        expected=f"{seen[0]} values throughout",
                    )
            record += 1
        code = classify(exc, ErrorCode.DATA_FORMAT)
        return DataError(
            f"could not read JSON records: {short(exc)}",
            code=code,
            path=self.path,
            row=block.first_line,
            expected=expected_for(code, "JSON record"),
        )

    # -- reader interface -----------------------------------------------------------

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            blocks = self._blocks()
            try:
                schema = pa.schema([])
                for block in blocks:
                    table = self._parse(block)
                    if table.num_rows:
                        schema = table.schema
                        break
            finally:
                blocks.close()
            self._schema = schema
        return self._schema

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        done = 0
        if self.format == "jsonl" and is_utf8(self.options.encoding):
            streamed = self._streamed()
            try:
                while True:
                    try:
                        batch = next(streamed)
                    except StopIteration:
                        return
                    except Exception:
                        break  # the block reader resumes at row `done`
                    done += batch.num_rows
                    yield _select(batch, columns)
            finally:
                streamed.close()
        yield from self._block_batches(columns, skip=done)

    def _streamed(self) -> Iterator[pa.RecordBatch]:
        """JSONL through pyarrow's streaming reader; raises whatever pyarrow raises."""
        with open_stream(self.src, self.detection.compression) as stream:
            reader = pajson.open_json(
                stream,
                read_options=pajson.ReadOptions(block_size=self.options.block_bytes),
                parse_options=self._parse_options(),
            )
            check_unique_names(reader.schema, self.path)
            yield from reader

    def _block_batches(self, columns: Sequence[str] | None, skip: int) -> Iterator[pa.RecordBatch]:
        """Batches from the block reader, less the first `skip` rows (already yielded)."""
        blocks = self._blocks()
        try:
            for block in blocks:
                table = self._parse(block)
                if skip:
                    if skip >= table.num_rows:
                        skip -= table.num_rows
                        continue
                    table, skip = table.slice(skip), 0
                for batch in table.to_batches():
                    yield _select(batch, columns)
        finally:
            blocks.close()

    def info(self) -> dict[str, Any]:
        return {"json_layout": self.detection.json_layout or "lines"}


def _select(batch: pa.RecordBatch, columns: Sequence[str] | None) -> pa.RecordBatch:
    if columns is None:
        return batch
    return batch.select([name for name in columns if name in batch.schema.names])


class _Walker:
    """A sliding text window over a byte stream, for walking one JSON top-level value."""

    def __init__(self, stream: pa.NativeFile, path: str, options) -> None:
        self.stream = stream
        self.path = path
        self.max_record = options.max_record_bytes
        self.window = min(max(options.block_bytes, 1 << 16), 1 << 22)
        self.decoder = codecs.getincrementaldecoder(
            "utf-8" if is_utf8(options.encoding) else options.encoding
        )()
        self.json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.base_bytes = 0  # bytes of text dropped before `buf`
        self.raw_bytes = 0  # bytes read from the stream
        self.first = True

    def _fill(self, want: int | None = None) -> bool:
        want = want or self.window
        if self.eof:
            return False
        if self.pos > self.window:
            self.base_bytes += len(self.buf[: self.pos].encode("utf-8"))
            self.buf = self.buf[self.pos :]
            self.pos = 0
        chunk = self.stream.read(want)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise DataError(
                "text is not valid UTF-8",
                code=ErrorCode.DATA_ENCODING,
                path=self.path,
                byte_offset=self.raw_bytes + max(exc.start - 3, 0),
                expected="UTF-8 text (or pass encoding=..., e.g. 'latin-1')",
            ) from exc
        self.raw_bytes += len(chunk)
        if self.first:
            text = text.lstrip("\ufeff")
            self.first = False
        self.buf += text
        if not chunk:
            self.eof = True
        return True

    def byte_offset(self, pos: int | None = None) -> int:
        pos = self.pos if pos is None else pos
        return self.base_bytes + len(self.buf[:pos].encode("utf-8"))

    def error(self, message: str, row: int | None, expected: str) -> DataError:
        return DataError(
            message,
            code=ErrorCode.DATA_FORMAT,
            path=self.path,
            row=row,
            byte_offset=self.byte_offset(),
            expected=expected,
        )

    def _skip_ws(self) -> None:
        while True:
            buf, pos = self.buf, self.pos
            n = len(buf)
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < n or not self._fill():
                return

    def peek(self) -> str:
        self._skip_ws()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def advance(self, n: int) -> None:
        self.pos += n

    def expect(self, char: str, what: str, alternatives: str = "") -> str:
        found = self.peek()
        if found and (found == char or found in alternatives):
            self.pos += 1
            return found
        shown = repr(found) if found else "the end of the file"
        raise DataError(
            f"malformed JSON: found {shown}",
            code=ErrorCode.DATA_FORMAT,
            path=self.path,
            byte_offset=self.byte_offset(),
            expected=what,
        )

    def expect_end(self) -> None:
        found = self.peek()
        if found:
            raise DataError(
                "malformed JSON: data after the end of the top-level value",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                byte_offset=self.byte_offset(),
                expected="nothing but whitespace after the closing bracket",
            )

    def value(self, index: int, what: str) -> tuple[Any, str]:
        """Decode the next value; returns it and its source text."""
        self._skip_ws()
        while True:
            start = self.pos
            try:
                value, end = self.json.raw_decode(self.buf, start)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise DataError(
                        f"malformed JSON in element {index}: {exc.msg}",
                        code=ErrorCode.DATA_FORMAT,
                        path=self.path,
                        row=index,
                        byte_offset=self.byte_offset(exc.pos),
                        expected=what,
                    ) from exc
                self._grow(index, start)
                continue
            except RecursionError as exc:
                raise DataError(
                    f"JSON element {index} is nested too deeply",
                    code=ErrorCode.DATA_FORMAT,
                    path=self.path,
                    row=index,
                    byte_offset=self.byte_offset(start),
                    expected=what,
                ) from exc
            if end >= len(self.buf) and not self.eof:
                # A number or literal may continue in the next chunk.
                self._grow(index, start)
                continue
            self.pos = end
            return value, self.buf[start:end]

    def _grow(self, index: int, start: int) -> None:
        pending = len(self.buf) - start
        if pending > self.max_record:
            raise DataError(
                f"JSON element {index} is longer than {self.max_record} bytes or malformed",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                row=index,
                byte_offset=self.byte_offset(start),
                expected="records smaller than max_record_bytes",
            )
        self._fill(max(self.window, pending))
