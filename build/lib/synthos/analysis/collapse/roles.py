"""Column roles: what each column of a comparison is, and what the dimensions see of it.

A role is inferred from the reference sample (the candidate's when there is none) with the
evidence behind it, or given: by metadata (`metadata`), or by the user (`column_roles`),
which wins. Roles and what becomes of each:

* key: a surrogate key or identifier (unique per row, and a key-like name, integers spread
  evenly over their range as sequential ids are, or unique strings). Its values say
  nothing about the data (every synthesizer draws its own), so it enters no distribution,
  correlation or discriminator statistic, and exact-copy hashing of whole rows leaves it
  out unless the user says keys are meaningful (`CollapseConfig.meaningful_keys`).
* constant: one value on both sides; nothing to compare.
* ignore: not analysed (nested or binary types, every value missing, or told so).
* numeric, categorical: compared as they are. A categorical of many levels keeps its
  reference's `MAX_LEVELS` most frequent levels, the rest compared as one level.
* datetime: compared as a time (days since 1970: range, spread, tails) and, at day
  resolution or finer, by its calendar (weekday and month shares).
* text: free text inside a table, compared through its length in words and characters.
* entity, time: a panel's entity key and time index (`inputs`); not compared as values.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthos.analysis.columns import type_family
from synthos.errors import DataError, ErrorCode

ROLES = (
    "key",
    "constant",
    "ignore",
    "numeric",
    "categorical",
    "datetime",
    "text",
    "entity",
    "time",
)
#: Roles whose columns the dimensions never see as values.
EXCLUDED = ("key", "constant", "ignore", "entity", "time")
#: Integers with at most this many levels are categories.
MAX_INT_LEVELS = 12
#: Strings with at most this many levels are categories; beyond it, a categorical keeps
#: this many of its reference's most frequent levels.
MAX_LEVELS = 50
OTHER_LEVEL = "(other levels)"
#: Rows a column needs before "unique per row" says anything.
MIN_KEY_ROWS = 20
KEY_NAME = re.compile(
    r"(?i)((^|[_\s.-])(id|uid|uuid|guid|key|pk|idx|index|code|number|no)$"
    r"|^(id|uuid|guid)[_\s.-]|^(row_?names?|row_?id|row_?number|obs|record)$)"
)
#: camelCase identifiers (userId, movieID), case-sensitive.
CAMEL_KEY_NAME = re.compile(r"[a-z](Id|ID)$")
#: Strings holding free text: a share of values with a space between words, or a length.
TEXT_SPACED_SHARE = 0.2
TEXT_MEAN_CHARS = 40
DAY_SECONDS = 86_400.0


@dataclass
class ColumnRole:
    """One column's role, why, and who set it ("inferred", "metadata" or "user")."""

    name: str
    role: str
    reason: str
    set_by: str = "inferred"
    levels: list[str] | None = None
    calendar: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, False) and k != "name"}
        if self.levels is not None:
            out["levels"] = len(self.levels)
        return out


@dataclass
class Roles:
    """Every common column's role, and the analysed features they give (`features_of`)."""

    columns: dict[str, ColumnRole] = field(default_factory=dict)

    def of(self, *roles: str) -> list[str]:
        return [n for n, r in self.columns.items() if r.role in roles]

    @property
    def excluded(self) -> dict[str, str]:
        """Columns the statistics leave out, with their role and why."""
        return {n: f"{r.role}: {r.reason}" for n, r in self.columns.items() if r.role in EXCLUDED}

    def kinds(self) -> dict[str, str]:
        """Analysed feature -> "numeric" | "categorical", in column order (derived features
        of datetime and text columns under names such as ``"start (weekday)"``)."""
        out: dict[str, str] = {}
        for name, role in self.columns.items():
            if role.role in ("numeric", "categorical"):
                out[name] = role.role
            elif role.role == "datetime":
                out[name] = "numeric"
                if role.calendar:
                    out[f"{name} (weekday)"] = out[f"{name} (month)"] = "categorical"
            elif role.role == "text":
                out[f"{name} (words)"] = out[f"{name} (characters)"] = "numeric"
        return out

    def features_of(self, table: pa.Table) -> pa.Table:
        """A raw sample's derived features (datetime, text and many-level categorical
        columns) added to or replacing its columns; other columns pass unchanged."""
        out = table
        for name, role in self.columns.items():
            if name not in table.column_names:
                continue
            if role.role == "datetime":
                out = _replace(out, name, _days(table.column(name)))
                if role.calendar:
                    stamps = _timestamps(table.column(name))
                    out = out.append_column(f"{name} (weekday)", _calendar(stamps, "%a"))
                    out = out.append_column(f"{name} (month)", _calendar(stamps, "%b"))
            elif role.role == "text":
                text = pc.cast(table.column(name), pa.string())
                words = pc.count_substring_regex(text, r"\S+")
                out = out.append_column(f"{name} (words)", pc.cast(words, pa.float64()))
                chars = pc.cast(pc.utf8_length(text), pa.float64())
                out = out.append_column(f"{name} (characters)", chars)
            elif role.role == "categorical" and role.levels is not None:
                text = pc.cast(table.column(name), pa.string())
                kept = pc.is_in(text, value_set=pa.array(role.levels, pa.string()))
                lumped = pc.if_else(pc.or_(kept, pc.is_null(text)), text, OTHER_LEVEL)
                out = _replace(out, name, lumped)
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {n: r.to_dict() for n, r in self.columns.items()}


def _replace(table: pa.Table, name: str, column: Any) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, column)


def _timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date, timestamp or ISO 8601 string column as microsecond timestamps (unparsed
    strings as nulls; times with an offset in UTC)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        import pandas as pd

        parsed = pd.to_datetime(column.to_pandas(), errors="coerce", format="ISO8601", utc=True)
        naive = parsed.dt.tz_localize(None)
        return pa.chunked_array([pa.Array.from_pandas(naive).cast(pa.timestamp("us"))])
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))
    return pc.cast(column, pa.timestamp("us"))


def _days(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if not (pa.types.is_temporal(column.type) or pa.types.is_string(column.type)):
        return pc.cast(column, pa.float64())
    micros = pc.cast(_timestamps(column), pa.int64())
    return pc.divide(pc.cast(micros, pa.float64()), DAY_SECONDS * 1e6)


def _calendar(stamps: pa.ChunkedArray, fmt: str) -> pa.ChunkedArray:
    return pc.strftime(stamps, format=fmt)


# --------------------------------------------------------------------------- inference


def infer(
    base: pa.Table,
    candidate: pa.Table,
    types: dict[str, str],
    names: list[str],
    given: dict[str, ColumnRole],
) -> Roles:
    """Roles of `names`: `given` ones as they are, the rest inferred from the `base`
    sample (and the candidate's, for constants and keys)."""
    roles = Roles()
    for name in names:
        if name in given:
            roles.columns[name] = _checked(given[name], base.column(name), types[name])
        else:
            roles.columns[name] = _infer_one(
                name, types[name], base.column(name), candidate.column(name)
            )
    return roles


def _checked(role: ColumnRole, values: pa.ChunkedArray, dtype: str) -> ColumnRole:
    """A given role, with what the data lets it be: a many-level categorical keeps its
    most frequent levels, a datetime its calendar where the data has one."""
    if role.role == "categorical":
        role.levels = _top_levels(values)
    elif role.role == "datetime":
        role.calendar = _has_calendar(values, dtype)
    elif role.role == "numeric" and type_family(dtype) in ("nested", "other"):
        raise DataError(
            f"column {role.name!r} of type {dtype} cannot be compared as numeric",
            code=ErrorCode.DATA_SCHEMA,
            column=role.name,
            expected="a numeric, temporal or string column",
        )
    return role


def _infer_one(name: str, dtype: str, base: pa.ChunkedArray, cand: pa.ChunkedArray) -> ColumnRole:
    family = type_family(dtype)
    values = base.drop_null() if base.null_count else base
    if family in ("nested", "other"):
        return ColumnRole(name, "ignore", f"type {dtype} is not analysed")
    if len(values) == 0:
        return ColumnRole(name, "ignore", "every sampled value is missing")
    distinct = len(pc.unique(values))
    if distinct == 1 and _same_constant(values, cand):
        return ColumnRole(name, "constant", f"one value ({values[0].as_py()!r}) on both sides")
    if family == "temporal" or (family == "string" and _iso_dates(values)):
        return ColumnRole(
            name, "datetime", f"{dtype} values", calendar=_has_calendar(values, dtype)
        )
    key = _key_reason(name, family, values, distinct)
    if key is not None:
        return ColumnRole(name, "key", key)
    if family in ("bool", "enum"):
        return ColumnRole(name, "categorical", f"{dtype} values")
    if family == "float":
        return ColumnRole(name, "numeric", f"{dtype} values")
    if family == "int":
        if distinct <= MAX_INT_LEVELS:
            return ColumnRole(name, "categorical", f"integers with {distinct} levels")
        return ColumnRole(name, "numeric", f"integers with {distinct} levels")
    return _string_role(name, values, distinct)


def _string_role(name: str, values: pa.ChunkedArray, distinct: int) -> ColumnRole:
    if distinct <= MAX_LEVELS:
        return ColumnRole(name, "categorical", f"{distinct} levels")
    text = pc.cast(values, pa.string())
    spaced = float(np.mean(pc.match_substring_regex(text, r"\s\S").to_numpy()))
    mean_chars = float(np.mean(pc.utf8_length(text).to_numpy()))
    if spaced >= TEXT_SPACED_SHARE or mean_chars >= TEXT_MEAN_CHARS:
        return ColumnRole(
            name,
            "text",
            f"free text: {spaced:.0%} of values hold several words, "
            f"{mean_chars:.0f} characters on average",
        )
    if distinct <= 0.5 * len(values):
        return ColumnRole(
            name,
            "categorical",
            f"{distinct} levels: the {MAX_LEVELS} most frequent kept, the rest as one",
            levels=_top_levels(values),
        )
    return ColumnRole(
        name, "key", f"identifier: {distinct} distinct short strings in {len(values)} rows"
    )


def _same_constant(values: pa.ChunkedArray, cand: pa.ChunkedArray) -> bool:
    other = cand.drop_null() if cand.null_count else cand
    if len(other) == 0:
        return True
    found = pc.unique(other)
    return len(found) == 1 and found[0].as_py() == values[0].as_py()


def _key_reason(name: str, family: str, values: pa.ChunkedArray, distinct: int) -> str | None:
    """Why a column unique per row is a key, or None when it is not one."""
    n = len(values)
    if n < MIN_KEY_ROWS or distinct < n or family in ("temporal", "bool", "enum"):
        return None
    named = bool(KEY_NAME.search(name) or CAMEL_KEY_NAME.search(name))
    if family == "string":
        return f"unique per row ({n} rows)" + (", key-like name" if named else "")
    numbers = pc.cast(values, pa.float64()).to_numpy()
    if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
        return None  # distinct real numbers are the norm for a measurement
    if named:
        return f"unique integers per row ({n} rows), key-like name"
    low, high = float(numbers.min()), float(numbers.max())
    if high <= low:
        return None
    # Sequential ids drawn from a table are spread evenly over their range; a measurement
    # that happens to be unique rarely is.
    from scipy.stats import kstest

    statistic = kstest(numbers, "uniform", args=(low, high - low)).statistic
    if statistic < 1.36 / np.sqrt(n):
        return (
            f"unique integers per row ({n} rows), spread evenly over {low:.0f}-{high:.0f} "
            f"as sequential ids are (KS to uniform {statistic:.3f})"
        )
    return None


def _iso_dates(values: pa.ChunkedArray) -> bool:
    from synthos.datamodules.modality import _parse_dates

    return _parse_dates(values.slice(0, 200).drop_null()) is not None


def _has_calendar(values: pa.ChunkedArray, dtype: str) -> bool:
    """Days of the week (and months) vary: a calendar to compare."""
    if type_family(dtype) not in ("temporal", "string"):
        return False
    stamps = _timestamps(values).drop_null()
    return len(stamps) > 0 and len(pc.unique(_calendar(stamps, "%a"))) > 1


def _top_levels(values: pa.ChunkedArray) -> list[str] | None:
    counts = pc.value_counts(pc.cast(values, pa.string()))
    if len(counts) <= MAX_LEVELS:
        return None
    order = np.argsort(-counts.field("counts").to_numpy(), kind="stable")[:MAX_LEVELS]
    return [counts.field("values")[int(i)].as_py() for i in order]


def given_roles(
    mapping: dict[str, str] | None, set_by: str, origin: str | None = None
) -> dict[str, ColumnRole]:
    """Roles named by the user or metadata (`origin`: the file), checked against `ROLES`."""
    out = {}
    for name, role in (mapping or {}).items():
        if role not in ROLES:
            raise DataError(
                f"unknown role {role!r} for column {name!r}",
                code=ErrorCode.DATA_VALUE,
                column=name,
                expected="one of " + ", ".join(ROLES),
            )
        out[name] = ColumnRole(name, role, f"given by {origin or set_by}", set_by=set_by)
    return out
