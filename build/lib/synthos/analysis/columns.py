"""Which columns are analysed, and as what.

Kinds come from the engine's type and the profile sample:

* BOOLEAN and ENUM: categorical;
* integers: categorical with at most `max_int_levels` distinct values, numeric otherwise;
* floating point and DECIMAL: numeric; DATE and TIMESTAMP: numeric (epoch seconds);
* strings: categorical with at most `max_levels` distinct values; otherwise text when at
  least 20 % of values contain whitespace between words or the mean length is >= 40
  characters; otherwise categorical (capped) when values repeat (distinct <= half the
  rows), else skipped as an identifier;
* nested (LIST, STRUCT, MAP), BLOB, TIME, INTERVAL: skipped.

`column_kinds` overrides any of it. A numeric value is missing when NULL, NaN or infinite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from .engine import quote_ident

KINDS = ("categorical", "numeric", "text", "skip")
_INT_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TEMPORAL_TYPES = {
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}
_STRING_TYPES = {"VARCHAR", "UUID"}


@dataclass
class Column:
    name: str
    dtype: str
    index: int
    kind: str = "skip"
    reason: str = ""
    source: str = "numeric"  # how to clean: numeric / temporal / string / varchar_numeric

    @property
    def raw(self) -> str:
        return quote_ident(self.name)

    @property
    def alias(self) -> str:
        return f"__c{self.index}"

    def clean(self, ref: str | None = None) -> str:
        """SQL for the analysed value of this column (NULL when missing or non-finite)."""
        ref = ref or self.raw
        if self.kind == "numeric":
            if self.source == "temporal":
                value = f"epoch({ref})::DOUBLE"
            elif self.source == "varchar_numeric":
                value = f"TRY_CAST({ref} AS DOUBLE)"
            else:
                value = f"CAST({ref} AS DOUBLE)"
            return f"CASE WHEN isfinite({value}) THEN {value} END"
        return f"CAST({ref} AS VARCHAR)"


def base_type(dtype: str) -> str:
    return dtype.split("(", 1)[0].strip().upper()


def type_family(dtype: str) -> str:
    base = base_type(dtype)
    if dtype.endswith("]") or base in ("STRUCT", "MAP", "UNION", "LIST", "ARRAY"):
        return "nested"
    if base == "BOOLEAN":
        return "bool"
    if base in _INT_TYPES:
        return "int"
    if base in _FLOAT_TYPES or base == "DECIMAL":
        return "float"
    if base in _TEMPORAL_TYPES:
        return "temporal"
    if base in _STRING_TYPES:
        return "string"
    if base == "ENUM":
        return "enum"
    return "other"


def classify(
    col: Column,
    values: pa.ChunkedArray,
    *,
    max_levels: int,
    max_int_levels: int,
    forced: str | None = None,
) -> None:
    """Set `col.kind` from its DuckDB type and a sample of its values (see module doc)."""
    family = type_family(col.dtype)
    col.source = {"temporal": "temporal"}.get(family, "numeric")
    if forced:
        col.kind = forced
        col.reason = "set by column_kinds"
        if forced == "numeric" and family in ("string", "enum", "bool"):
            col.source = "varchar_numeric"
        if forced == "numeric" and family in ("nested", "other"):
            raise DataError(
                f"column {col.name!r} of type {col.dtype} cannot be analysed as numeric",
                code=ErrorCode.DATA_SCHEMA,
                column=col.name,
                expected="a numeric, temporal or text column",
            )
        return
    nonnull = values.drop_null() if values.null_count else values
    if family in ("nested", "other"):
        col.kind, col.reason = "skip", f"type {col.dtype} is not analysed"
        return
    if len(nonnull) == 0:
        col.kind, col.reason = "skip", "every sampled value is missing"
        return
    if family in ("bool", "enum"):
        col.kind = "categorical"
        return
    if family == "float" or family == "temporal":
        col.kind = "numeric"
        return
    import pyarrow.compute as pc

    distinct = len(pc.unique(nonnull))
    if family == "int":
        col.kind = "categorical" if distinct <= max_int_levels else "numeric"
        return
    # strings
    if distinct <= max_levels:
        col.kind = "categorical"
        return
    text = nonnull.cast(pa.string())
    lengths = pc.utf8_length(text).to_numpy(zero_copy_only=False)
    spaced = pc.match_substring_regex(text, r"\s\S").to_numpy(zero_copy_only=False)
    if float(np.mean(spaced)) >= 0.2 or float(np.mean(lengths)) >= 40:
        col.kind = "text"
    elif distinct <= 0.5 * len(nonnull):
        col.kind = "categorical"
        col.reason = f"{distinct} distinct values, capped to {max_levels} levels"
    else:
        col.kind, col.reason = "skip", "mostly unique short strings (an identifier)"
