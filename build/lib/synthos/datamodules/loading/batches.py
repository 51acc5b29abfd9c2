"""Keeping a stream of record batches to one schema and one batch size.

Readers yield batches whose types come from what each block of the file held (a CSV block
of integers, a JSON block where a field was always null). Two policies reconcile them:

* `conform` (streaming): the first batch fixes the schema; later batches are cast to it
  when that loses nothing (null -> anything, int32 -> int64, float 2.0 -> int 2), and
  anything else is a `TypeConflict` naming the column and the row.
* `unify_schemas` (whole tables): every batch is seen first, each column gets the
  narrowest type that holds all its values (int + float -> float64), then all are cast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from synthos.errors import DataError, ErrorCode

from .failures import TypeConflict, short


def _kind(typ: pa.DataType) -> str:
    if pat.is_null(typ):
        return "null"
    if pat.is_boolean(typ):
        return "bool"
    if pat.is_integer(typ):
        return "int"
    if pat.is_floating(typ) or pat.is_decimal(typ):
        return "float"
    if pat.is_string(typ) or pat.is_large_string(typ) or pat.is_string_view(typ):
        return "string"
    if pat.is_binary(typ) or pat.is_large_binary(typ) or pat.is_fixed_size_binary(typ):
        return "binary"
    if pat.is_temporal(typ):
        return "temporal"
    if pat.is_nested(typ):
        return "nested"
    return str(typ)


def promote(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The narrowest type holding values of both `a` and `b`, or None if they clash."""
    if a == b:
        return a
    ka, kb = _kind(a), _kind(b)
    if ka == "null":
        return b
    if kb == "null":
        return a
    if ka == kb == "int":
        if a.bit_width >= b.bit_width and pat.is_signed_integer(a) == pat.is_signed_integer(b):
            return a
        if b.bit_width >= a.bit_width and pat.is_signed_integer(a) == pat.is_signed_integer(b):
            return b
        return pa.int64()
    if {ka, kb} <= {"int", "float"}:
        if pat.is_decimal(a) or pat.is_decimal(b):
            return (
                None
                if (pat.is_floating(a) or pat.is_floating(b))
                else (a if pat.is_decimal(a) else b)
            )
        if pat.is_floating(a) and pat.is_floating(b):
            return a if a.bit_width >= b.bit_width else b
        return pa.float64()
    if ka == kb == "string":
        return (
            pa.large_string()
            if (pat.is_large_string(a) or pat.is_large_string(b))
            else (pa.string())
        )
    if ka == kb == "binary" and not (pat.is_fixed_size_binary(a) or pat.is_fixed_size_binary(b)):
        return pa.large_binary()
    if ka == kb and ka in ("temporal", "nested"):
        try:
            merged = pa.unify_schemas(
                [pa.schema([("x", a)]), pa.schema([("x", b)])], promote_options="permissive"
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        return merged.field("x").type
    return None


def _describe_type(typ: pa.DataType) -> str:
    kind = _kind(typ)
    names = {"int": "integer", "float": "number", "string": "string", "bool": "boolean"}
    return f"{names.get(kind, kind)} ({typ})"


def check_unique_names(schema: pa.Schema, path: str) -> None:
    """Column names must decode (corrupt files carry garbage names) and be unique."""
    try:
        names = schema.names
        str(schema)  # nested field names decode too
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"corrupt schema: a column name is not valid UTF-8 ({short(exc, 120)})",
            code=ErrorCode.DATA_CORRUPT,
            path=path,
            expected="UTF-8 column names",
        ) from exc
    counts = Counter(names)
    dupes = [name for name, count in counts.items() if count > 1]
    if dupes:
        raise DataError(
            f"duplicate column name(s) {dupes}",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            column=str(dupes[0]),
            expected="unique column names",
        )


def select_columns(schema: pa.Schema, columns: Sequence[str] | None, path: str) -> pa.Schema:
    """The schema restricted to `columns` (in the order asked); DATA_SCHEMA if one is missing."""
    if columns is None:
        return schema
    missing = [name for name in columns if schema.get_field_index(name) < 0]
    if missing:
        shown = schema.names[:20]
        more = f" and {len(schema.names) - 20} more" if len(schema.names) > 20 else ""
        raise DataError(
            f"requested column(s) {missing} not found",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            column=str(missing[0]),
            expected=f"one of the file's columns {shown}{more}",
        )
    return pa.schema([schema.field(name) for name in columns])


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    return pc.cast(array, target, safe=True)


def conform(
    batch: pa.RecordBatch,
    target: pa.Schema,
    *,
    path: str,
    row_offset: int,
    fill_missing: bool,
) -> pa.RecordBatch:
    """Cast `batch` to `target` (same columns, same order) without losing information."""
    if batch.schema.equals(target):
        return batch
    names = set(target.names)
    for name in batch.schema.names:
        if name not in names:
            raise DataError(
                f"column {name!r} first appears at row {row_offset} or later, after the "
                "schema was fixed by the first rows of the stream",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                row=row_offset,
                column=name,
                expected=f"the columns {target.names} (or use read_table, or pass columns=)",
            )
    arrays = []
    for field in target:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            if not fill_missing:
                raise DataError(
                    f"column {field.name!r} is missing",
                    code=ErrorCode.DATA_SCHEMA,
                    path=path,
                    row=row_offset,
                    column=field.name,
                    expected=f"the same columns as the first part, {target.names}",
                )
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        array = batch.column(index)
        if array.type != field.type:
            array = _conform_array(array, field, path=path, row_offset=row_offset)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _conform_array(array: pa.Array, field: pa.Field, *, path: str, row_offset: int) -> pa.Array:
    merged = promote(field.type, array.type)
    lossless = merged is not None and merged == field.type
    float_to_int = _kind(field.type) == "int" and _kind(array.type) == "float"
    if lossless or float_to_int:
        try:
            return _cast(array, field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            detail = short(exc, 160)
            raise TypeConflict(
                f"column {field.name!r} changes type: {_describe_type(array.type)} values "
                f"do not fit {_describe_type(field.type)} ({detail})",
                path=path,
                column=field.name,
                old_type=field.type,
                row=row_offset,
                expected=f"{field.type} as in the first rows (or pass column_types=)",
            ) from exc
    raise TypeConflict(
        f"mixed types in column {field.name!r}: {_describe_type(field.type)} in the first "
        f"rows, {_describe_type(array.type)} at row {row_offset} or later",
        path=path,
        column=field.name,
        old_type=field.type,
        row=row_offset,
        expected=f"{field.type} throughout (or pass column_types=)",
    )


def unify_schemas(
    parts: Iterable[tuple[pa.Schema, str, int]],
) -> pa.Schema:
    """One schema for batches given as (schema, path, first row); raises on a real clash."""
    fields: dict[str, pa.DataType] = {}
    order: list[str] = []
    for schema, path, row in parts:
        for field in schema:
            if field.name not in fields:
                fields[field.name] = field.type
                order.append(field.name)
                continue
            merged = promote(fields[field.name], field.type)
            if merged is None:
                raise TypeConflict(
                    f"mixed types in column {field.name!r}: "
                    f"{_describe_type(fields[field.name])} earlier, "
                    f"{_describe_type(field.type)} at row {row} or later",
                    path=path,
                    column=field.name,
                    old_type=fields[field.name],
                    row=row,
                    expected=f"{fields[field.name]} throughout",
                )
            fields[field.name] = merged
    return pa.schema([(name, fields[name]) for name in order])


def combine(parts: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    if hasattr(pa, "concat_batches"):
        return pa.concat_batches(parts)
    table = pa.Table.from_batches(parts, schema=schema).combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else schema.empty_table().to_batches()[0]


def rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly `rows` rows (the last one may be shorter), zero-copy where possible."""
    pending: list[pa.RecordBatch] = []
    count = 0
    schema = None
    for batch in batches:
        schema = batch.schema
        offset = 0
        while offset < batch.num_rows:
            take = min(rows - count, batch.num_rows - offset)
            pending.append(batch.slice(offset, take))
            count += take
            offset += take
            if count == rows:
                yield combine(pending, schema)
                pending, count = [], 0
    if count and schema is not None:
        yield combine(pending, schema)
