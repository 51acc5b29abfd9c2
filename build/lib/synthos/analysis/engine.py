"""The analytical engine behind the diversity analyzer: a DuckDB connection over one dataset.

`open_source()` turns what the user passed into a relation DuckDB can scan several times:

* local, uncompressed Parquet (a file, a directory of parts, a glob): scanned in place by
  ``read_parquet`` (no copy; DuckDB reads only the columns and row groups a query needs);
* every other format, compressed files and ``s3://`` URIs: streamed once through
  `synthos.datamodules.loading.stream_chunks` (bounded memory) into a temporary Parquet
  spool, which is then scanned like the above;
* an in-memory ``pyarrow.Table`` or ``pandas.DataFrame``: registered as an Arrow view.

Every row gets its position in the dataset, ``__row`` (file offset + row number in the
file, for a directory of parts in the loader's file order), also exposed as the row id
``__rid`` that sampling hashes with the seed: results depend neither on thread scheduling
nor on how the rows are split into files.

DuckDB errors are mapped onto the Synthos taxonomy: damaged Parquet data is a `DataError`
(DATA_CORRUPT), running out of memory a retryable resource error, anything else internal.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthos.errors import DataError, ErrorCode, SynthosError

#: Spool row groups: large enough for fast scans, small enough to bound writer memory.
SPOOL_BATCH_ROWS = 131072
#: ``{src}`` in a query, or a quoted name or string literal (group 1), which keeps it.
_SOURCE_TOKEN = re.compile(r"(\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*')|\{src\}")
#: Connection variables holding the Parquet files of the dataset and each file's first row.
FILES_VARIABLE = "synthos_files"
OFFSETS_VARIABLE = "synthos_offsets"
#: Messages of DuckDB's generic errors that mean the file is damaged, not that we erred.
_DAMAGE = re.compile(
    r"parquet|corrupt|thrift|decompress|snappy|zstd|gzip|lz4|brotli|magic|footer|truncat",
    re.IGNORECASE,
)


def quote_ident(name: str) -> str:
    """A SQL identifier for any column name."""
    return '"' + str(name).replace('"', '""') + '"'


class Params:
    """The values of one query, passed to the engine by name, never spliced into the SQL.

    `bind` records a value and returns its typed placeholder (``$p0::DOUBLE``) for the query
    text; run the query with `values` as its parameters.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def bind(self, value: Any, sql_type: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}::{sql_type}"

    def double(self, value: float) -> str:
        return self.bind(float(value), "DOUBLE")


def row_hash(params: Params, seed: int) -> str:
    """SQL for ``u = hash(row id, seed)``: the value every sample ranks rows by."""
    return f"hash(__rid, {params.bind(int(seed), 'BIGINT')})"


def _import_duckdb():
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SynthosError(
            ErrorCode.INTERNAL,
            "the diversity analyzer needs the 'duckdb' package (pip install duckdb)",
        ) from exc
    return duckdb


def to_arrow(relation: Any) -> pa.Table:
    """A DuckDB relation's result as a pyarrow Table (DuckDB 1.x and 2.x spell it apart)."""
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        method = getattr(relation, name, None)
        if method is not None:
            out = method()
            if isinstance(out, pa.RecordBatchReader):
                out = out.read_all()
            return out
    raise SynthosError(ErrorCode.INTERNAL, "this duckdb version cannot return Arrow tables")


@dataclass
class Source:
    """A dataset as DuckDB sees it.

    relation: the FROM clause that yields the data columns plus ``__rid`` and ``__row``.
    columns: data column names and DuckDB types, in order.
    """

    con: Any
    relation: str
    columns: dict[str, str]
    num_rows: int
    path: str
    format: str
    scanned_in_place: bool
    files: tuple[str, ...] = ()
    _cleanup: list[Any] = field(default_factory=list, repr=False)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """Run `query` (with ``{src}`` standing for the relation); errors are mapped.

        ``{src}`` inside a quoted name or string (a column called "{src}") is left alone.
        """
        text = _SOURCE_TOKEN.sub(lambda m: m.group(1) or self.relation, query)
        with engine_errors(self.path):
            return self.con.sql(text, params=params) if params else self.con.sql(text)

    def fetchall(self, query: str, params: dict[str, Any] | None = None) -> list[tuple]:
        with engine_errors(self.path):
            return self.sql(query, params).fetchall()

    def arrow(self, query: str, params: dict[str, Any] | None = None) -> pa.Table:
        with engine_errors(self.path):
            return to_arrow(self.sql(query, params))

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def close(self) -> None:
        for item in reversed(self._cleanup):
            with suppress(Exception):
                item()
        self._cleanup.clear()
        with suppress(Exception):
            self.con.close()


@contextmanager
def engine_errors(path: str) -> Iterator[None]:
    """Map DuckDB exceptions onto the Synthos error taxonomy."""
    duckdb = _import_duckdb()
    try:
        yield
    except SynthosError:
        raise
    except duckdb.OutOfMemoryException as exc:
        raise SynthosError(
            ErrorCode.OUT_OF_MEMORY,
            f"the analysis engine ran out of memory on {path}: {_first_line(exc)}; "
            "retry with a larger memory_limit or fewer columns",
            details={"path": path},
            retry_after_seconds=30.0,
        ) from exc
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        raise DataError(
            f"cannot read the data: {_first_line(exc)}",
            code=ErrorCode.DATA_CORRUPT,
            path=path,
            expected="a readable, undamaged file",
        ) from exc
    except duckdb.ConversionException as exc:
        raise DataError(
            f"a value cannot be converted: {_first_line(exc)}",
            code=ErrorCode.DATA_VALUE,
            path=path,
            expected="values of one type per column",
        ) from exc
    except duckdb.Error as exc:
        if _DAMAGE.search(str(exc)):
            raise DataError(
                f"cannot read the data: {_first_line(exc)}",
                code=ErrorCode.DATA_CORRUPT,
                path=path,
                expected="a readable, undamaged file",
            ) from exc
        raise SynthosError(
            ErrorCode.INTERNAL,
            f"the analysis engine failed on {path}: {_first_line(exc)}",
            details={"path": path},
        ) from exc


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def connect(threads: int | None, memory_limit: str | None, temp_dir: str) -> Any:
    """A fresh in-memory DuckDB connection with bounded threads and memory."""
    duckdb = _import_duckdb()
    con = duckdb.connect(database=":memory:")
    con.execute("SET threads = ?", [int(threads or os.cpu_count() or 1)])
    if memory_limit:
        con.execute("SET memory_limit = ?", [str(memory_limit)])
    con.execute("SET temp_directory = ?", [str(temp_dir)])
    con.execute("SET preserve_insertion_order=false")
    # Inside Jupyter without ipywidgets DuckDB refuses to touch the setting (its bar is off
    # there already).
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar=false")
    return con


def _describe(con: Any, relation: str, path: str) -> dict[str, str]:
    with engine_errors(path):
        rows = con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _parquet_relation(con: Any, files: Sequence[str], path: str) -> tuple[str, int]:
    """The FROM clause over Parquet `files` (with ``__row`` and ``__rid``), and its rows.

    The file list and the row offset of each file are connection variables, bound as
    parameters, so no file name enters the SQL text.
    """
    con.execute(f"SET VARIABLE {FILES_VARIABLE} = ?", [list(files)])
    scan = f"read_parquet(getvariable('{FILES_VARIABLE}'), union_by_name=true)"
    with engine_errors(path):
        per_file = con.sql(
            f"SELECT file_index, count(*) FROM {scan} GROUP BY file_index ORDER BY file_index"
        ).fetchall()
    counts = dict.fromkeys(range(len(files)), 0)
    for index, count in per_file:
        counts[int(index)] = int(count)
    offsets, total = [], 0
    for index in range(len(files)):
        offsets.append(total)
        total += counts[index]
    if len(files) == 1:
        row = "file_row_number::BIGINT"
    else:
        con.execute(f"SET VARIABLE {OFFSETS_VARIABLE} = ?", [offsets])
        listed = f"CAST(getvariable('{OFFSETS_VARIABLE}') AS BIGINT[])"
        row = f"(list_extract({listed}, CAST(file_index AS BIGINT) + 1) + file_row_number)::BIGINT"
    relation = f"(SELECT *, __row AS __rid FROM (SELECT *, {row} AS __row FROM {scan}))"
    return relation, total


def open_source(
    data: Any,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    work_dir: str | None = None,
    load_options: dict[str, Any] | None = None,
) -> Source:
    """Open `data` (a path, URI, pyarrow Table or pandas DataFrame) for repeated scans."""
    tmp = tempfile.mkdtemp(prefix="synthos-diversity-", dir=work_dir)
    cleanup: list[Any] = [lambda: shutil.rmtree(tmp, ignore_errors=True)]
    try:
        con = connect(threads, memory_limit, os.path.join(tmp, "duckdb"))
        source = _open(con, data, tmp, dict(load_options or {}))
    except BaseException:
        for item in reversed(cleanup):
            item()
        raise
    source._cleanup = cleanup
    return source


def _open(con: Any, data: Any, tmp: str, load_options: dict[str, Any]) -> Source:
    table = _as_arrow_table(data)
    if table is not None:
        return _open_table(con, table)

    from synthos.datamodules.loading import get_metadata

    path = os.fspath(data)
    meta = get_metadata(path, exact_row_count=False, preview_rows=0, **load_options)
    local = all(os.path.isfile(f) for f in meta.files)
    if meta.format == "parquet" and meta.compression is None and local and meta.files:
        if meta.row_count == 0 and not load_options.get("allow_empty"):
            raise _zero_rows(path)
        return _parquet_source(con, meta.files, path, meta.format, True, meta.files)
    # Everything else goes through the loader once, into a Parquet spool.
    spool = _spool(path, tmp, load_options)
    return _parquet_source(con, [spool], path, meta.format, False, meta.files)


def _zero_rows(path: str) -> DataError:
    return DataError(
        "dataset has zero rows",
        code=ErrorCode.DATA_EMPTY,
        path=path,
        expected="at least one row",
    )


def _open_table(con: Any, table: pa.Table) -> Source:
    """An in-memory table, registered as an Arrow view with row ids."""
    if table.num_rows == 0:
        raise _zero_rows("<table>")
    table = _plain_dictionaries(table)
    rids = pa.array(range(table.num_rows), type=pa.int64())
    con.register("__synthos_input", table.append_column("__rid", rids))
    relation = "(SELECT *, __rid AS __row FROM __synthos_input)"
    columns = _describe(con, "__synthos_input", "<table>")
    columns.pop("__rid", None)
    return Source(con, relation, columns, table.num_rows, "<table>", "arrow", True)


def _parquet_source(
    con: Any,
    scanned: Sequence[str],
    path: str,
    fmt: str,
    in_place: bool,
    files: Sequence[str],
) -> Source:
    relation, rows = _parquet_relation(con, scanned, path)
    columns = _describe(con, relation, path)
    for extra in ("__rid", "__row"):
        columns.pop(extra, None)
    return Source(con, relation, columns, rows, path, fmt, in_place, tuple(files))


def _spool(path: str, tmp: str, load_options: dict[str, Any]) -> str:
    """Stream `path` through the loader into one Parquet file (bounded memory)."""
    from synthos.datamodules.loading import stream_chunks

    spool = os.path.join(tmp, "spool.parquet")
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for batch in stream_chunks(path, batch_rows=SPOOL_BATCH_ROWS, **load_options):
            if writer is None:
                writer = pq.ParquetWriter(spool, batch.schema, compression="zstd")
            writer.write_batch(batch, row_group_size=SPOOL_BATCH_ROWS)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None or rows == 0:
        raise _zero_rows(path)
    return spool


def _as_arrow_table(data: Any) -> pa.Table | None:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return None
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, (str, os.PathLike, Path)):
        return None
    raise TypeError(f"cannot analyse an object of type {type(data).__name__}")


def _plain_dictionaries(table: pa.Table) -> pa.Table:
    """Decode dictionary columns so DuckDB sees plain values (as it does for Parquet)."""
    columns, changed = [], False
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
            changed = True
        columns.append(column)
    return pa.table(columns, names=table.column_names) if changed else table
