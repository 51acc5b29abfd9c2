"""The global pass: exact counts, extremes, moments and outliers over every row, in one scan.

Per column: values present, min / max and the rows holding them, shifted sums and the
co-moments of every numeric pair (exact Pearson, `correlations.pearson_from_moments`),
tail and outlier counts, distinct-count estimates, text lengths.

Outliers: a value is an outlier when its robust z, ``|x - median| / (1.4826 * MAD)``,
exceeds `robust_z_threshold` (Iglewicz-Hoaglin: 3.5), or, with ``outlier_method="iqr"``,
when it lies outside ``[Q1 - k * IQR, Q3 + k * IQR]``. Both counts are kept per column;
the outlier rows are those with at least one outlying value under the chosen method.
Skewed columns have many robust-z outliers on their long side: that is what they are.

``arg_min`` returns whichever tied row a thread met first, so where a column's values
repeat one more scan picks the smallest row id at each extreme.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, replace
from typing import Any

from ..columns import Column
from ..engine import Params, Source, quote_ident
from .config import DiversityConfig
from .numeric import NumericStats
from .profile import Profile


@dataclass(frozen=True)
class NumericTotals:
    """A numeric column over all rows (values minus the column's profile mean: `shift`)."""

    minimum: float | None
    maximum: float | None
    shifted_sum: float | None
    shifted_squares: float | None
    argmin: int | None  # row id holding the minimum
    argmax: int | None
    below_tail: int  # rows under the low tail bound
    above_tail: int
    robust_z_outliers: int | None  # None when the column has no spread
    iqr_outliers: int | None


@dataclass(frozen=True)
class TextLengths:
    mean: float | None
    minimum: int | None
    maximum: int | None


@dataclass(frozen=True)
class GlobalStats:
    """What the global pass counted.

    non_missing: rows with a value, per analysed column (for numeric columns: finite values).
    present: rows whose raw value is not null, per numeric column (NaN and infinities too).
    numeric: the totals of the numeric columns that have profile statistics.
    correlated: the numeric columns in the correlation matrix; co_moments holds, for each
    ordered pair of them, the sum of the product of their shifted values.
    outlier_rows: rows with an outlying value under the chosen method (None: no column).
    """

    rows: int
    non_missing: dict[str, int]
    present: dict[str, int]
    numeric: dict[str, NumericTotals]
    correlated: list[Column]
    co_moments: dict[tuple[str, str], float | None]
    distinct: dict[str, int | None]
    text_lengths: dict[str, TextLengths]
    outlier_rows: int | None


def global_pass(
    src: Source, profile: Profile, stats: dict[str, NumericStats], config: DiversityConfig
) -> GlobalStats:
    """Scan every row once (twice when some extreme may be tied)."""
    correlated = [c for c in profile.numeric if c.name in stats][: config.max_correlation_columns]
    params = Params()
    shifts = {name: params.double(st.shift) for name, st in stats.items()}
    aggs: list[tuple[str, str]] = [("n", "count(*)")]
    aggs += [(f"nn{c.index}", f"count({c.alias})") for c in profile.analysed]
    union: list[str] = []
    for col in profile.numeric:
        aggs.append((f"nr{col.index}", f"count(__r{col.index})"))
        st = stats.get(col.name)
        if st is not None:
            col_aggs, chosen = _numeric_aggregates(col, st, shifts[col.name], config, params)
            aggs += col_aggs
            if chosen:
                union.append(f"({chosen})")
    if union:
        aggs.append(("outlier_rows", f"count_if({' OR '.join(union)})"))
    for a_pos, a in enumerate(correlated):
        for b in correlated[a_pos + 1 :]:
            product = f"sum(({a.alias} - {shifts[a.name]}) * ({b.alias} - {shifts[b.name]}))"
            aggs.append((f"p{a.index}_{b.index}", product))
    aggs += _level_aggregates(profile)
    g = _one_row(src, profile, aggs, params)
    numeric = {c.name: _numeric_totals(g, c.index) for c in profile.numeric if c.name in stats}
    numeric = _break_extreme_ties(src, profile, stats, numeric)
    return GlobalStats(
        rows=int(g["n"]),
        non_missing={c.name: g[f"nn{c.index}"] for c in profile.analysed},
        present={c.name: g[f"nr{c.index}"] for c in profile.numeric},
        numeric=numeric,
        correlated=correlated,
        co_moments={
            (a.name, b.name): g[f"p{a.index}_{b.index}"]
            for a_pos, a in enumerate(correlated)
            for b in correlated[a_pos + 1 :]
        },
        distinct={c.name: g.get(f"nd{c.index}") for c in profile.categorical + profile.text},
        text_lengths={
            c.name: TextLengths(g[f"lavg{c.index}"], g[f"lmin{c.index}"], g[f"lmax{c.index}"])
            for c in profile.text
        },
        outlier_rows=g.get("outlier_rows"),
    )


def _numeric_aggregates(
    col: Column, st: NumericStats, shift: str, config: DiversityConfig, params: Params
) -> tuple[list[tuple[str, str]], str | None]:
    """The column's aggregates, and its outlier condition under the chosen method."""
    i, x = col.index, col.alias
    aggs = [
        (f"min{i}", f"min({x})"),
        (f"max{i}", f"max({x})"),
        (f"s{i}", f"sum({x} - {shift})"),
        (f"ss{i}", f"sum(({x} - {shift}) * ({x} - {shift}))"),
        (f"argmin{i}", f"arg_min(__rid, {x})"),
        (f"argmax{i}", f"arg_max(__rid, {x})"),
        (f"tlo{i}", f"count_if({x} < {params.double(st.tail_low)})"),
        (f"thi{i}", f"count_if({x} > {params.double(st.tail_high)})"),
    ]
    robust = iqr = None
    if st.robust_scale > 1e-12:
        bound = config.robust_z_threshold * st.robust_scale
        robust = f"abs({x} - {params.double(st.median)}) > {params.double(bound)}"
        aggs.append((f"orz{i}", f"count_if({robust})"))
    spread = st.q3 - st.q1
    if spread > 1e-12:
        low, high = st.q1 - config.iqr_k * spread, st.q3 + config.iqr_k * spread
        iqr = f"({x} < {params.double(low)} OR {x} > {params.double(high)})"
        aggs.append((f"oiqr{i}", f"count_if({iqr})"))
    return aggs, robust if config.outlier_method == "robust_z" else iqr


def _level_aggregates(profile: Profile) -> list[tuple[str, str]]:
    """Distinct-count estimates of categorical and text columns, and text lengths."""
    aggs = [(f"nd{c.index}", f"approx_count_distinct({c.alias})") for c in profile.categorical]
    for col in profile.text:
        length = f"length({col.alias})"
        aggs += [
            (f"lavg{col.index}", f"avg({length})"),
            (f"lmin{col.index}", f"min({length})"),
            (f"lmax{col.index}", f"max({length})"),
            (f"nd{col.index}", f"approx_count_distinct({col.alias})"),
        ]
    return aggs


def _numeric_totals(g: dict[str, Any], i: int) -> NumericTotals:
    return NumericTotals(
        minimum=g[f"min{i}"],
        maximum=g[f"max{i}"],
        shifted_sum=g[f"s{i}"],
        shifted_squares=g[f"ss{i}"],
        argmin=g[f"argmin{i}"],
        argmax=g[f"argmax{i}"],
        below_tail=int(g[f"tlo{i}"]),
        above_tail=int(g[f"thi{i}"]),
        robust_z_outliers=g.get(f"orz{i}"),
        iqr_outliers=g.get(f"oiqr{i}"),
    )


def _break_extreme_ties(
    src: Source,
    profile: Profile,
    stats: dict[str, NumericStats],
    numeric: dict[str, NumericTotals],
) -> dict[str, NumericTotals]:
    """The smallest row id at each extreme of the columns whose profile values repeat."""
    params = Params()
    aggs = []
    for col in profile.numeric:
        totals = numeric.get(col.name)
        if totals is None or totals.minimum is None or not stats[col.name].repeats:
            continue
        for key, value in (("argmin", totals.minimum), ("argmax", totals.maximum)):
            condition = f"{col.alias} = {params.double(value)}"
            aggs.append((f"{key}{col.index}", f"min(__rid) FILTER (WHERE {condition})"))
    if not aggs:
        return numeric
    g = _one_row(src, profile, aggs, params)
    out = dict(numeric)
    for col in profile.numeric:
        lowest, highest = g.get(f"argmin{col.index}"), g.get(f"argmax{col.index}")
        if lowest is not None:
            out[col.name] = replace(out[col.name], argmin=int(lowest))
        if highest is not None:
            out[col.name] = replace(out[col.name], argmax=int(highest))
    return out


def _one_row(
    src: Source, profile: Profile, aggs: list[tuple[str, str]], params: Params
) -> dict[str, Any]:
    """Evaluate the named aggregates over every row (one scan)."""
    select_list = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in aggs)
    row = src.arrow(f"SELECT {select_list} FROM ({profile.scan_sql()})", params.values)
    return {name: _plain(row.column(name)[0].as_py()) for name in row.column_names}


def _plain(value: Any) -> Any:
    """Engine numbers as Python int / float (DuckDB returns HUGEINT counts as Decimal)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
