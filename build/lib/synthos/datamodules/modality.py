"""Which kind of data is this: free text, a table, or a time series?

`infer_modality` decides from the schema and a preview of the first rows (never a full scan)
and says why, so a job can pick its DataModule and objective and show the reason::

    from synthos.datamodules.modality import infer_modality

    found = infer_modality("data/reviews.parquet")
    found.modality   # "text"
    found.reason     # "column 'review' holds free text: median 412 characters, ..."
    found.column     # "review" (the text column, or the time column of a series)

The rules, in order:

1. text: a string column of long, mostly distinct, multi-word values (free text, not
   labels or codes). The longest such column is the text column.
2. time_series: a time column (a date/timestamp column, ISO 8601 date strings, or a numeric
   column with a time-like name) that is non-decreasing and mostly distinct over the
   preview, with mostly numeric other columns.
3. tabular: everything else.

An explicit `override` wins without reading the data (it is validated first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthos.datamodules.loading import DatasetMetadata, read_table
from synthos.errors import DataError, ErrorCode

Modality = Literal["text", "tabular", "time_series"]
MODALITIES: tuple[str, ...] = ("text", "tabular", "time_series")
# Spellings an override may use for each modality.
_ALIASES = {
    "text": "text",
    "tabular": "tabular",
    "table": "tabular",
    "time_series": "time_series",
    "timeseries": "time_series",
    "time-series": "time_series",
    "series": "time_series",
}

#: Rows read for the preview.
PREVIEW_ROWS = 2000
#: Free text: median length in characters and words, and share of distinct values.
TEXT_MIN_MEDIAN_CHARS = 64
TEXT_MIN_MEDIAN_WORDS = 8
TEXT_MIN_DISTINCT = 0.5
#: Time series: share of the other columns that must be numeric (strictly more than this),
#: and share of distinct time values.
SERIES_MIN_NUMERIC_SHARE = 0.5
SERIES_MIN_DISTINCT_TIMES = 0.9
#: Numeric columns count as a time axis only under one of these names (case-insensitive):
#: a monotonic `id` is a row number, not a clock.
TIME_NAMES = frozenset(
    [
        "time",
        "t",
        "timestamp",
        "ts",
        "date",
        "datetime",
        "ds",
        "step",
        "epoch",
        "year",
        "time_step",
        "timestep",
        "time_idx",
        "period",
        "month",
        "week",
        "day",
        "hour",
    ]
)


@dataclass(frozen=True)
class ModalityInference:
    """The decision and why. `column` is the text column (text), the time column (time
    series) or None (tabular, or an override)."""

    modality: Modality
    reason: str
    column: str | None = None
    overridden: bool = False

    def __str__(self) -> str:
        return f"{self.modality}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "reason": self.reason,
            "column": self.column,
            "overridden": self.overridden,
        }


def validate_modality(value: str) -> Modality:
    """The canonical name of a modality override; a DataError (DATA_VALUE) names the choices."""
    key = str(value).strip().lower() if isinstance(value, str) else None
    if key not in _ALIASES:
        raise DataError(
            f"unknown modality override {value!r}",
            code=ErrorCode.DATA_VALUE,
            expected="one of " + ", ".join(MODALITIES),
        )
    return _ALIASES[key]  # type: ignore[return-value]


def infer_modality(
    source: str | os.PathLike | DatasetMetadata,
    override: str | None = None,
    *,
    preview: pa.Table | None = None,
    preview_rows: int = PREVIEW_ROWS,
    **load_options: Any,
) -> ModalityInference:
    """Text, tabular or time series for a dataset, with the reason.

    Args:
        source: a path (anything the loader reads) or the `DatasetMetadata` from
            `get_metadata`; for metadata the preview is read from `metadata.path` unless
            `preview` is given.
        override: a modality to use instead of inferring one ("text", "tabular",
            "time_series"; "series", "timeseries" and "table" are accepted too). It wins
            and no data is read; an unknown value is a DataError.
        preview: the first rows, if the caller already has them.
        preview_rows: rows to read for the preview.
        load_options: `LoadOptions` fields for reading (format, s3_endpoint, ...).
    """
    if override is not None:
        modality = validate_modality(override)
        return ModalityInference(modality, "set by override", None, overridden=True)
    if preview_rows < 1:
        raise ValueError(f"preview_rows must be >= 1, got {preview_rows}")
    preview, names = _preview(source, preview, preview_rows, load_options)
    return (
        _text_inference(preview, names)
        or _series_inference(preview, names)
        or ModalityInference(
            "tabular",
            f"no free-text column and no time axis with mostly numeric columns; {len(names)} "
            f"columns ({_kind_counts(preview, names)})",
        )
    )


def _preview(
    source: str | os.PathLike | DatasetMetadata,
    preview: pa.Table | None,
    preview_rows: int,
    load_options: dict[str, Any],
) -> tuple[pa.Table, list[str]]:
    """The first `preview_rows` rows (read unless given) and the schema's columns among
    them; a DataError when the dataset has no column or no row."""
    if isinstance(source, DatasetMetadata):
        schema, path = source.schema, source.path
    else:
        path = str(source)
        schema = None
    if preview is None:
        preview = read_table(path, max_rows=preview_rows, **load_options)
    if schema is None:
        schema = preview.schema
    if len(schema) == 0:
        raise DataError(
            "the dataset has no columns",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            expected="at least one column",
        )
    if preview.num_rows == 0:
        raise DataError(
            "the dataset has no rows",
            code=ErrorCode.DATA_EMPTY,
            path=path,
            expected="at least one row",
        )
    preview = preview.slice(0, preview_rows)
    return preview, [n for n in schema.names if n in preview.column_names]


def _text_inference(preview: pa.Table, names: list[str]) -> ModalityInference | None:
    """Text when a column holds free text (the longest such column); else None."""
    texts = [t for t in (_text_profile(n, preview.column(n)) for n in names) if t is not None]
    if not texts:
        return None
    name, chars, words, distinct = max(texts, key=lambda t: t[1])
    return ModalityInference(
        "text",
        f"column {name!r} holds free text: median {chars:.0f} characters and "
        f"{words:.0f} words per value, {distinct:.0%} distinct over {preview.num_rows} "
        "preview rows",
        name,
    )


def _series_inference(preview: pa.Table, names: list[str]) -> ModalityInference | None:
    """A time series when a column is a time axis and most other columns are numeric (the
    first such column); else None."""
    for name in names:
        why = _time_axis(name, preview.column(name))
        if why is None:
            continue
        others = [n for n in names if n != name]
        numeric = [n for n in others if _is_numeric(preview.column(n).type)]
        if others and len(numeric) > SERIES_MIN_NUMERIC_SHARE * len(others):
            return ModalityInference(
                "time_series",
                f"column {name!r} is a time axis ({why}) and {len(numeric)} of the "
                f"{len(others)} other columns are numeric",
                name,
            )
    return None


# ------------------------------------------------------------------------------------------


def _is_numeric(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)


def _is_string(typ: pa.DataType) -> bool:
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or getattr(pa.types, "is_string_view", lambda _t: False)(typ)
    )


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A string column (dictionary-encoded ones decoded), or None for other types."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not _is_string(column.type):
        return None
    return column.drop_null()


def _text_profile(name: str, column: pa.ChunkedArray) -> tuple[str, float, float, float] | None:
    """(name, median chars, median words, distinct share) when the column is free text."""
    values = _strings(column)
    if values is None or len(values) == 0:
        return None
    chars = float(np.median(pc.utf8_length(values).to_numpy(zero_copy_only=False)))
    if chars < TEXT_MIN_MEDIAN_CHARS:
        return None
    words = pc.list_value_length(pc.utf8_split_whitespace(values))
    median_words = float(np.median(words.to_numpy(zero_copy_only=False)))
    distinct = pc.count_distinct(values).as_py() / len(values)
    if median_words < TEXT_MIN_MEDIAN_WORDS or distinct < TEXT_MIN_DISTINCT:
        return None
    return name, chars, median_words, distinct


def _time_axis(name: str, column: pa.ChunkedArray) -> str | None:
    """Why `column` is a time axis (non-decreasing, mostly distinct), or None."""
    typ = column.type
    if column.null_count:
        return None
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        what = f"{typ} values"
        if pa.types.is_date32(typ):
            column = column.cast(pa.int32())
        values = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    elif _is_numeric(typ) and name.strip().lower() in TIME_NAMES:
        what = "numeric values under a time-like name"
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    elif _is_string(typ):
        values = _parse_dates(column)
        if values is None:
            return None
        what = "date strings"
    else:
        return None
    if len(values) < 2 or not np.all(np.isfinite(values.astype(np.float64))):
        return None
    if np.any(np.diff(values) < 0):
        return None
    distinct = len(np.unique(values)) / len(values)
    if distinct < SERIES_MIN_DISTINCT_TIMES:
        return None
    return f"{what}, non-decreasing, {distinct:.0%} distinct"


def _parse_dates(column: pa.ChunkedArray) -> np.ndarray | None:
    """Integer nanoseconds of ISO 8601 date/time strings, or None if any does not parse."""
    import pandas as pd

    texts = column.to_pylist()
    # Cheap filter before pandas: dates start with a 4-digit year and a separator.
    if not all(_date_like(t) for t in texts):
        return None
    try:
        parsed = pd.to_datetime(pd.Series(texts), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed.to_numpy().astype("datetime64[ns]").astype(np.int64)


def _date_like(text: Any) -> bool:
    return isinstance(text, str) and len(text) >= 7 and text[:4].isdigit() and text[4] in "-/"


def _kind_counts(preview: pa.Table, names: list[str]) -> str:
    counts: dict[str, int] = {}
    for name in names:
        typ = preview.column(name).type
        if _is_numeric(typ):
            kind = "numeric"
        elif pa.types.is_temporal(typ):
            kind = "temporal"
        elif pa.types.is_boolean(typ) or _is_string(typ) or pa.types.is_dictionary(typ):
            kind = "categorical"
        else:
            kind = "other"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


__all__ = [
    "MODALITIES",
    "Modality",
    "ModalityInference",
    "infer_modality",
    "validate_modality",
]
