"""`DatasetLoader`: one entry point over every format, file layout and storage.

`stream_chunks` yields record batches of a fixed number of rows under one schema (fixed by
the first rows) in bounded memory; `read_table` collects a whole table, reconciling types
across blocks and parts; `get_metadata` describes a dataset from footers where it can.
Every failure caused by the data is a `DataError` (1xxx) naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from .batches import conform, rebatch, select_columns, unify_schemas
from .detect import Detection, detect
from .failures import TypeConflict, guard, short
from .metadata import DatasetMetadata, merge_footer_stats, preview_stats
from .options import LoadOptions
from .readers import FormatReader, open_reader
from .source import Source, resolve
from .validate import check_finite, finite_columns

PathLike = str | os.PathLike[str]


def _same_family(a: str, b: str) -> bool:
    return a == b or {a, b} <= {"arrow", "feather"}


class _Part:
    """A file opened for reading: its source, detected format and reader."""

    def __init__(self, src: Source, detection: Detection, reader: FormatReader) -> None:
        self.src = src
        self.detection = detection
        self.reader = reader

    @property
    def path(self) -> str:
        return self.src.display

    @property
    def sparse(self) -> bool:
        return self.reader.sparse

    def _guard(self, what: str):
        return guard(self.path, f"{self.detection.format} {what}", ErrorCode.DATA_CORRUPT)

    def schema(self) -> pa.Schema:
        with self._guard("schema"):
            return self.reader.schema

    def num_rows(self) -> int | None:
        with self._guard("row count"):
            return self.reader.num_rows()

    def column_statistics(self) -> dict[str, dict[str, Any]]:
        with self._guard("statistics"):
            return self.reader.column_statistics()

    def info(self) -> dict[str, Any]:
        with self._guard("metadata"):
            return self.reader.info()

    def batches(self, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        """The reader's batches; whatever escapes a reader still becomes a DataError."""
        iterator = self.reader.iter_batches(columns)
        try:
            while True:
                with self._guard("data"):
                    try:
                        batch = next(iterator)
                    except StopIteration:
                        return
                yield batch
        finally:
            iterator.close()


class DatasetLoader:
    """Loads datasets in any supported format from local paths, directories, globs or S3.

    Options are those of `LoadOptions`, given as an instance, keywords, or both::

        loader = DatasetLoader(batch_rows=8192, s3_endpoint="http://127.0.0.1:9000")
        for batch in loader.stream_chunks("s3://bucket/data/"):
            ...
    """

    def __init__(self, options: LoadOptions | None = None, **overrides: Any) -> None:
        base = options or LoadOptions()
        self.options = base.evolve(**overrides) if overrides else base

    # -- parts -------------------------------------------------------------------------

    def _sources(self, path: PathLike, options: LoadOptions) -> list[Source]:
        sources = resolve(path, options)
        if len(sources) > 1:
            non_empty = [src for src in sources if src.size > 0]
            if not non_empty:
                raise DataError(
                    f"all {len(sources)} files are empty",
                    code=ErrorCode.DATA_EMPTY,
                    path=os.fspath(path),
                    expected="at least one non-empty part file",
                )
            return non_empty
        return sources

    def _parts(self, sources: list[Source], options: LoadOptions) -> Iterator[_Part]:
        """Open each part in turn (the caller closes `part.reader`)."""
        first: str | None = None
        for src in sources:
            with guard(src.display, "file", ErrorCode.DATA_CORRUPT):
                detection = detect(src, options)
            if first is None:
                first = detection.format
            elif not _same_family(first, detection.format):
                raise DataError(
                    f"part is {detection.format} while the first part is {first}",
                    code=ErrorCode.DATA_FORMAT,
                    path=src.display,
                    expected=f"every part of the dataset in {first} format",
                )
            reader = open_reader(src, detection, options)
            yield _Part(src, detection, reader)

    def detect(self, path: PathLike) -> Detection:
        """The detected format of `path` (its first file, for a directory or glob)."""
        sources = self._sources(path, self.options)
        return detect(sources[0], self.options)

    # -- streaming ---------------------------------------------------------------------

    def stream_chunks(
        self,
        path: PathLike,
        columns: Sequence[str] | None = None,
        batch_rows: int | None = None,
        *,
        max_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of `batch_rows` rows (the last may be shorter), in file order.

        Memory stays bounded whatever the file size, except for Excel, which is read whole
        and size-capped (legacy Feather v1 is first rewritten as Arrow IPC by a child process).
        The schema is fixed by the first rows; a later value that does not fit raises
        DATA_SCHEMA (pass `column_types` to fix types up front). The path is resolved and
        the first file opened before this returns, so a missing file raises here.
        """
        options = self.options
        if batch_rows is not None:
            options = options.evolve(batch_rows=batch_rows)
        columns = _check_columns_arg(columns)
        sources = self._sources(path, options)
        parts = self._parts(sources, options)
        first = _next_part(parts)
        select_columns(first.schema(), columns, first.path)  # fail fast
        return self._stream(path, first, parts, columns, options, max_rows)

    def _stream(
        self,
        path: PathLike,
        first: _Part,
        parts: Iterator[_Part],
        columns: Sequence[str] | None,
        options: LoadOptions,
        max_rows: int | None,
    ) -> Iterator[pa.RecordBatch]:
        def conformed() -> Iterator[pa.RecordBatch]:
            target: pa.Schema | None = None
            part: _Part | None = first
            while part is not None:
                with ExitStack() as stack:
                    stack.callback(part.reader.close)
                    schema = select_columns(part.schema(), columns, part.path)
                    if target is None:
                        target = _with_types(schema, options)
                    row = 0
                    for raw in part.batches(columns):
                        batch = _apply_types(raw, options, part.path, row)
                        batch = conform(
                            batch,
                            target,
                            path=part.path,
                            row_offset=row,
                            fill_missing=part.sparse,
                        )
                        _check(batch, options, part.path, row)
                        row += batch.num_rows
                        yield batch
                part = _next_part(parts, required=False)

        total = 0
        try:
            for batch in rebatch(conformed(), options.batch_rows):
                if max_rows is not None and total + batch.num_rows >= max_rows:
                    batch = batch.slice(0, max_rows - total)
                    if batch.num_rows:
                        total += batch.num_rows
                        yield batch
                    break
                total += batch.num_rows
                yield batch
        finally:
            parts.close()
        if total == 0 and not options.allow_empty and max_rows != 0:
            raise DataError(
                "dataset has zero rows",
                code=ErrorCode.DATA_EMPTY,
                path=os.fspath(path),
                expected="at least one row (or pass allow_empty=True)",
            )

    # -- whole tables ------------------------------------------------------------------

    def read_table(
        self,
        path: PathLike,
        columns: Sequence[str] | None = None,
        max_rows: int | None = None,
    ) -> pa.Table:
        """The dataset (or its first `max_rows` rows) as one table.

        Unlike `stream_chunks`, types are reconciled over all rows: a CSV column of
        integers that later holds '1.5' becomes float64, a JSON field that is null in
        the first rows takes the type of its later values.
        """
        columns = _check_columns_arg(columns)
        options = self.options
        for _attempt in range(64):
            try:
                return self._collect(path, columns, max_rows, options)
            except TypeConflict as conflict:
                retry = conflict.retry_type
                known = options.arrow_types.get(conflict.column)
                if retry is None or known == retry:
                    raise
                options = options.with_types({conflict.column: retry})
        raise DataError(  # pragma: no cover - needs 64 distinct conflicts
            "column types keep changing", code=ErrorCode.DATA_SCHEMA, path=os.fspath(path)
        )

    def _collect(
        self,
        path: PathLike,
        columns: Sequence[str] | None,
        max_rows: int | None,
        options: LoadOptions,
    ) -> pa.Table:
        sources = self._sources(path, options)
        pieces: list[tuple[pa.RecordBatch, str, int, bool]] = []
        total = 0
        done = max_rows is not None and max_rows <= 0
        first_schema: pa.Schema | None = None
        parts = self._parts(sources, options)
        try:
            for part in parts:
                with ExitStack() as stack:
                    stack.callback(part.reader.close)
                    schema = select_columns(part.schema(), columns, part.path)
                    if first_schema is None:
                        first_schema = _with_types(schema, options)
                    if done:
                        break
                    row = 0
                    for raw in part.batches(columns):
                        batch = _apply_types(raw, options, part.path, row)
                        if max_rows is not None and total + batch.num_rows > max_rows:
                            batch = batch.slice(0, max_rows - total)
                        _check(batch, options, part.path, row)
                        if batch.num_rows:
                            pieces.append((batch, part.path, row, part.sparse))
                        row += batch.num_rows
                        total += batch.num_rows
                        if max_rows is not None and total >= max_rows:
                            done = True
                            break
                if done:
                    break
        finally:
            parts.close()
        schema = unify_schemas(
            [(first_schema, "", 0)] + [(b.schema, p, r) for b, p, r, _ in pieces]
        )
        if columns is not None:
            schema = pa.schema([schema.field(name) for name in columns])
        batches = [
            conform(b, schema, path=p, row_offset=r, fill_missing=sparse)
            for b, p, r, sparse in pieces
        ]
        table = pa.Table.from_batches(batches, schema=schema)
        if table.num_rows == 0 and not options.allow_empty and max_rows != 0:
            raise DataError(
                "dataset has zero rows",
                code=ErrorCode.DATA_EMPTY,
                path=os.fspath(path),
                expected="at least one row (or pass allow_empty=True)",
            )
        return table

    # -- metadata ----------------------------------------------------------------------

    def get_metadata(self, path: PathLike, *, exact_row_count: bool = True) -> DatasetMetadata:
        """Schema, size, row count and preview statistics of a dataset.

        Parquet, Arrow IPC file, Feather and HDF5 give schema and row count from their
        footer or shape without reading data; the statistics read only the first
        `preview_rows` rows (Parquet min/max/null counts come from the footer, exactly).
        For CSV, JSON, JSONL and Arrow streams the row count needs a streaming pass, done
        when `exact_row_count` is true (the default) and skipped (row_count None) if not.
        """
        options = self.options
        sources = self._sources(path, options)
        schemas: list[tuple[pa.Schema, str, int]] = []
        footers: list[dict[str, dict[str, Any]]] = []
        extra: dict[str, Any] = {}
        rows: int | None = 0
        exact = True
        first: _Part | None = None
        parts = self._parts(sources, options)
        try:
            for part in parts:
                with ExitStack() as stack:
                    stack.callback(part.reader.close)
                    if first is None:
                        first = part
                        extra.update(part.info())
                        if part.detection.delimiter:
                            extra["delimiter"] = part.detection.delimiter
                        if part.detection.note:
                            extra["note"] = part.detection.note
                    schemas.append((part.schema(), part.path, 0))
                    footers.append(part.column_statistics())
                    count = part.num_rows()
                    if count is None and exact_row_count:
                        count = _count_rows(part)
                    if count is None:
                        exact = False
                        rows = None
                    elif rows is not None:
                        rows += count
        finally:
            parts.close()
        assert first is not None
        schema = unify_schemas(schemas)
        preview = None
        if options.preview_rows > 0 and (rows is None or rows > 0):
            preview_loader = DatasetLoader(options.evolve(allow_empty=True, require_finite=()))
            preview = preview_loader.read_table(path, max_rows=options.preview_rows)
            schema = _merge_preview_schema(schema, preview.schema)
        stats = preview_stats(schema, preview, merge_footer_stats(footers))
        return DatasetMetadata(
            path=os.fspath(path),
            format=first.detection.format,
            schema=schema,
            row_count=rows,
            row_count_exact=exact and rows is not None,
            num_bytes=sum(src.size for src in sources),
            files=tuple(src.display for src in sources),
            compression=first.detection.compression,
            columns=stats,
            preview_rows=0 if preview is None else preview.num_rows,
            extra=extra,
        )


def _check_columns_arg(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    out = [str(c) for c in columns]
    if not out:
        raise ValueError("columns must name at least one column (or be None for all)")
    if len(set(out)) != len(out):
        raise ValueError(f"columns lists a name twice: {out}")
    return out


def _next_part(parts: Iterator[_Part], required: bool = True) -> _Part | None:
    try:
        return next(parts)
    except StopIteration:
        if required:
            raise DataError(
                "dataset has no files", code=ErrorCode.DATA_EMPTY, expected="at least one file"
            ) from None
        return None


def _with_types(schema: pa.Schema, options: LoadOptions) -> pa.Schema:
    types = options.arrow_types
    if not types:
        return schema
    return pa.schema(
        [pa.field(f.name, types.get(f.name, f.type), f.nullable, f.metadata) for f in schema]
    )


def _apply_types(
    batch: pa.RecordBatch, options: LoadOptions, path: str, row: int
) -> pa.RecordBatch:
    """Cast columns named in `column_types` (explicit casts, not just lossless ones)."""
    types = options.arrow_types
    if not types:
        return batch
    arrays = []
    fields = []
    changed = False
    for f, array in zip(batch.schema, batch.columns, strict=True):
        want = types.get(f.name)
        if want is not None and array.type != want:
            try:
                array = array.cast(want, safe=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"column {f.name!r} cannot be read as {want}: {short(exc, 160)}",
                    code=ErrorCode.DATA_VALUE,
                    path=path,
                    row=row,
                    column=f.name,
                    expected=f"values convertible to {want}",
                ) from exc
            changed = True
            f = pa.field(f.name, want, f.nullable, f.metadata)
        arrays.append(array)
        fields.append(f)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _check(batch: pa.RecordBatch, options: LoadOptions, path: str, row: int) -> None:
    spec = options.require_finite
    if spec and finite_columns(batch.schema, spec):
        check_finite(batch, spec, path=path, row_offset=row)


def _count_rows(part: _Part) -> int:
    schema = part.schema()
    columns = [schema.names[0]] if len(schema.names) else None
    if part.detection.format in ("json", "jsonl"):
        columns = None
    return sum(batch.num_rows for batch in part.batches(columns))


def _merge_preview_schema(schema: pa.Schema, preview: pa.Schema) -> pa.Schema:
    """Prefer the preview's types (they match what read_table returns) for known columns."""
    fields = []
    for f in schema:
        index = preview.get_field_index(f.name)
        fields.append(preview.field(index) if index >= 0 else f)
    return pa.schema(fields)
