"""Value checks applied while streaming: numbers that must be finite."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from synthos.errors import DataError, ErrorCode


def finite_columns(schema: pa.Schema, spec: Sequence[str] | bool) -> list[str]:
    """The columns a `require_finite` setting names: True means every float column."""
    if spec is True:
        return [f.name for f in schema if pat.is_floating(f.type)]
    if spec is False or spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    return list(spec)


def check_finite(
    data: pa.RecordBatch | pa.Table,
    columns: Sequence[str] | bool,
    *,
    path: str | None = None,
    row_offset: int = 0,
) -> None:
    """Raise DATA_VALUE at the first NaN, +/-inf or null in `columns`.

    Numbers are required there: a null (missing value) fails as well, and a column that is
    not numeric fails with DATA_SCHEMA. `row_offset` is added to the reported row.
    """
    first: tuple[int, str, object] | None = None
    for name in finite_columns(data.schema, columns):
        index = data.schema.get_field_index(name)
        if index < 0:
            raise DataError(
                f"column {name!r} required to be finite is not in the data",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=name,
                expected=f"one of {data.schema.names}",
            )
        typ = data.schema.field(index).type
        column = data.column(index)
        if not (pat.is_integer(typ) or pat.is_floating(typ) or pat.is_decimal(typ)):
            if pat.is_null(typ) and len(column) == 0:
                continue
            raise DataError(
                f"column {name!r} must hold numbers but has type {typ}",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=name,
                expected="a numeric column",
            )
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if pat.is_floating(typ):
            ok = pc.fill_null(pc.is_finite(column), False)
        else:
            ok = pc.is_valid(column)
        if pc.all(ok).as_py() in (True, None):
            continue
        bad = pc.index(ok, False).as_py()
        if first is None or bad < first[0]:
            first = (bad, name, column[bad].as_py())
    if first is not None:
        bad, name, value = first
        what = "null" if value is None else repr(value)
        raise DataError(
            f"column {name!r} holds {what} where a finite number is required",
            code=ErrorCode.DATA_VALUE,
            path=path,
            row=row_offset + bad,
            column=name,
            expected="finite numbers (no NaN, inf or missing values)",
        )
