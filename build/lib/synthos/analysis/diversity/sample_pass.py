"""The sample pass: the stratified sample, which keeps rare strata, rare levels and the tails.

One scan keeps the candidate rows: each stratum's rows under its hash threshold, and the
rows each constraint group (rare level, rare text length, tail, rare text cluster, the rows
holding each minimum and maximum) may need. The sample is then picked from those
(`sampling.select`), so it is the same for a seed whatever the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..engine import Params, Source, quote_ident, row_hash
from ..sampling import (
    Group,
    Selection,
    bounded_allocation,
    candidate_fraction,
    margin_of_error,
    rare_lower_bound,
    select,
    u64_threshold,
)
from .config import DiversityConfig
from .design import StrataDesign
from .global_pass import GlobalStats
from .numeric import NumericStats
from .profile import RESERVED, Profile
from .strata_pass import StrataCounts

#: Columns the sample adds to the dataset's, and what they hold.
ADDED_COLUMNS = {
    "__row": "row position in the dataset",
    "__stratum": "stratum id (see strata.strata)",
    "__weight": "design weight: stratum rows / sampled rows of the stratum",
}


@dataclass(frozen=True)
class StratifiedSample:
    """table: the sampled rows (every dataset column plus ADDED_COLUMNS), by row id;
    info: the result's ``sample`` section; allocation / drawn: rows allocated to and drawn
    from each stratum; stratum_margin_of_error: each stratum's (see `sampling.py`)."""

    table: pa.Table
    info: dict[str, Any]
    allocation: np.ndarray
    drawn: np.ndarray
    stratum_margin_of_error: np.ndarray
    warnings: list[str]


@dataclass(frozen=True)
class _Rule:
    """Candidate rows of one constraint: the scan computes `key_expr` ("expr AS name") from
    `column` and keeps the rows where `condition` holds (members under a hash fraction)."""

    column: str
    key_expr: str
    condition: str
    fraction: float


@dataclass(frozen=True)
class _Plan:
    """The constraint groups, the candidate rules, the rows forced in and the tail size."""

    groups: list[Group]
    rules: list[_Rule]
    forced: list[int]
    tail_rows: int


def sample_pass(
    src: Source,
    profile: Profile,
    stats: dict[str, NumericStats],
    design: StrataDesign,
    totals: GlobalStats,
    strata: StrataCounts,
    text_groups: list[Group],
    config: DiversityConfig,
) -> StratifiedSample:
    """Draw the stratified sample (one scan) and measure its precision."""
    n, counts = config.sample_size, strata.counts
    rare = counts < config.rare_threshold * totals.rows
    lower = _lower_bounds(counts, rare, totals.rows, config)
    preliminary = bounded_allocation(n, counts, lower)
    params = Params()
    level_groups, level_rules = _rare_levels(profile, design, strata, totals.rows, config, params)
    tail_rows = _tail_rows(config, len(stats))
    tail_groups, tail_rules = _tails(profile, stats, totals, tail_rows, params)
    groups = [*text_groups, *level_groups, *tail_groups, *_extremes(profile, totals)]
    forced = sorted({r for g in groups if g.mask_column is None for r in g.rids})
    plan = _Plan(groups, level_rules + tail_rules, forced, tail_rows)
    fractions = [
        candidate_fraction(int(a), int(c)) for a, c in zip(preliminary, counts, strict=True)
    ]
    largest = max([0.0, *(r.fraction for r in plan.rules), *fractions])
    query = _candidate_query(src, profile, design, plan, largest, config.seed, params)
    lookup = _strata_lookup(strata, len(design.dims), fractions)
    candidates = _scan_candidates(src, query, params, lookup, plan.forced)
    chosen = select(candidates, n, counts, lower, plan.groups)
    table = _sample_table(src, candidates, chosen, counts)
    warnings = _warnings(chosen, table.num_rows, n)
    moe, per = margin_of_error(chosen.drawn, counts, config.confidence_level)
    info = _info(config, table.num_rows, plan, chosen, rare, moe, per)
    return StratifiedSample(table, info, chosen.allocation, chosen.drawn, per, warnings)


def _lower_bounds(
    counts: np.ndarray, rare: np.ndarray, total: int, config: DiversityConfig
) -> np.ndarray:
    """Rows each stratum gets at least: oversampled when rare, else `min_rows_per_stratum`."""
    lower = np.array(
        [
            rare_lower_bound(int(c), total, config.sample_size, config.rare_oversample)
            if r
            else min(int(c), config.min_rows_per_stratum)
            for c, r in zip(counts, rare, strict=True)
        ],
        dtype=np.int64,
    )
    return np.maximum(lower, np.minimum(counts, config.min_rows_per_stratum))


def _rare_levels(
    profile: Profile,
    design: StrataDesign,
    strata: StrataCounts,
    total: int,
    config: DiversityConfig,
    params: Params,
) -> tuple[list[Group], list[_Rule]]:
    """A group per rare level of each categorical column and rare text length bucket."""
    n = config.sample_size
    groups, rules = [], []
    for col in profile.categorical + profile.text:
        levels = strata.levels[col.name]
        kind = "rare_level" if col.kind == "categorical" else "rare_text_length"
        rare_levels = [(k, c) for k, c in levels.items() if c < config.rare_threshold * total]
        if not rare_levels:
            continue
        key = f"__m{col.index}"
        dim = design.marginal[col.name]
        fraction = 0.0
        for code, count in rare_levels:
            need = rare_lower_bound(count, total, n, config.rare_oversample)
            groups.append(Group(kind, col.name, dim.label(code), count, need, key, int(code)))
            fraction = max(fraction, candidate_fraction(need, count))
        codes = params.bind([int(code) for code, _ in rare_levels], "INTEGER[]")
        threshold = params.bind(u64_threshold(fraction), "UBIGINT")
        condition = f"(list_contains({codes}, {key}) AND __u <= {threshold})"
        key_expr = f"{dim.expression(col.alias, params)} AS {key}"
        rules.append(_Rule(col.name, key_expr, condition, fraction))
    return groups, rules


def _tail_rows(config: DiversityConfig, columns: int) -> int:
    """Rows the sample keeps from each tail of each numeric column."""
    if config.tail_fraction <= 0:
        return 0
    return max(1, math.ceil(config.tail_fraction * config.sample_size / max(1, 2 * columns)))


def _tails(
    profile: Profile,
    stats: dict[str, NumericStats],
    totals: GlobalStats,
    tail_rows: int,
    params: Params,
) -> tuple[list[Group], list[_Rule]]:
    """A group per non-empty tail of each numeric column: rows beyond its tail quantile."""
    groups, rules = [], []
    for col in profile.numeric:
        st, column_totals = stats.get(col.name), totals.numeric.get(col.name)
        if st is None or column_totals is None:
            continue
        for side, op, bound, population in (
            ("low", "<", st.tail_low, column_totals.below_tail),
            ("high", ">", st.tail_high, column_totals.above_tail),
        ):
            if population == 0 or tail_rows == 0:
                continue
            flag = f"__t{side}{col.index}"
            need = min(population, tail_rows)
            label = f"{op} {bound:.6g}"
            groups.append(Group(f"tail_{side}", col.name, label, population, need, flag, True))
            fraction = candidate_fraction(need, population)
            key_expr = f"coalesce({col.alias} {op} {params.double(bound)}, false) AS {flag}"
            threshold = params.bind(u64_threshold(fraction), "UBIGINT")
            rules.append(_Rule(col.name, key_expr, f"({flag} AND __u <= {threshold})", fraction))
    return groups, rules


def _extremes(profile: Profile, totals: GlobalStats) -> list[Group]:
    """The rows holding each numeric column's minimum and maximum."""
    rids = []
    for col in profile.numeric:
        column_totals = totals.numeric.get(col.name)
        if column_totals is not None:
            rids += [r for r in (column_totals.argmin, column_totals.argmax) if r is not None]
    if not rids:
        return []
    uniq = sorted(set(rids))
    return [Group("extreme", "*", "min/max rows", len(uniq), len(uniq), rids=uniq)]


def _data_columns(src: Source) -> list[str]:
    return [name for name in src.columns if name not in RESERVED]


def _candidate_query(
    src: Source,
    profile: Profile,
    design: StrataDesign,
    plan: _Plan,
    largest: float,
    seed: int,
    params: Params,
) -> str:
    """One scan: rows under the largest hash threshold (and forced rows) first, then the
    keys and flags of those only, then each stratum's and rule's own threshold."""
    u = row_hash(params, seed)
    key_names = [f"__k{j}" for j in range(len(design.dims))]
    alias_of = {c.name: c.alias for c in profile.analysed}
    exprs = [
        f"{dim.expression(alias_of[dim.column], params)} AS {key_names[j]}"
        for j, dim in enumerate(design.dims)
    ] + [rule.key_expr for rule in plan.rules]
    forced = "__rid IN (SELECT __rid FROM __forced)"
    data_list = ", ".join(quote_ident(c) for c in _data_columns(src))
    prefilter = ""
    if largest < 1.0:
        threshold = params.bind(u64_threshold(largest), "UBIGINT")
        prefilter = f" WHERE {u} <= {threshold}" + (f" OR {forced}" if plan.forced else "")
    inner = f"SELECT {data_list}, __rid, __row, {u} AS __u FROM {{src}}{prefilter}"
    needed = {d.column for d in design.dims} | {rule.column for rule in plan.rules}
    cleaning = [c for c in profile.analysed if c.name in needed]
    if cleaning:
        cleaned = ", ".join(f"{c.clean()} AS {c.alias}" for c in cleaning)
        inner = f"SELECT *, {cleaned} FROM ({inner})"
    keyed = f"SELECT *{', ' if exprs else ''}{', '.join(exprs)} FROM ({inner})"
    join = " AND ".join(f"b.{k} = s.{k}" for k in key_names) or "true"
    conditions = ["b.__u <= s.__thr", *(rule.condition for rule in plan.rules)]
    if plan.forced:
        conditions.append(forced)
    exclude = f" EXCLUDE ({', '.join(c.alias for c in cleaning)})" if cleaning else ""
    return (
        f"SELECT b.*{exclude}, s.__stratum FROM ({keyed}) b "
        f"JOIN __strata s ON {join} WHERE {' OR '.join(conditions)}"
    )


def _strata_lookup(strata: StrataCounts, dims: int, fractions: list[float]) -> pa.Table:
    """Each stratum's key columns, id and hash threshold, for the scan to join on."""
    lookup: dict[str, Any] = {}
    for j in range(dims):
        lookup[f"__k{j}"] = pa.array([k[j] for k in strata.keys], type=pa.int32())
    lookup["__stratum"] = pa.array(range(len(strata.keys)), type=pa.int64())
    lookup["__thr"] = pa.array([u64_threshold(f) for f in fractions], type=pa.uint64())
    return pa.table(lookup)


def _scan_candidates(
    src: Source, query: str, params: Params, lookup: pa.Table, forced: list[int]
) -> pa.Table:
    src.register("__forced", pa.table({"__rid": pa.array(forced, type=pa.int64())}))
    src.register("__strata", lookup)
    try:
        return src.arrow(query, params.values)
    finally:
        src.unregister("__strata")
        src.unregister("__forced")


def _sample_table(
    src: Source, candidates: pa.Table, chosen: Selection, counts: np.ndarray
) -> pa.Table:
    """The chosen rows: the dataset's columns, their position, stratum and design weight."""
    sample = candidates.take(pa.array(chosen.positions))
    stratum = sample.column("__stratum").to_numpy()
    weights = counts[stratum] / np.maximum(chosen.drawn[stratum], 1)
    out = sample.select(_data_columns(src))
    out = out.append_column("__row", sample.column("__row"))
    out = out.append_column("__stratum", sample.column("__stratum"))
    return out.append_column("__weight", pa.array(weights, type=pa.float64()))


def _warnings(chosen: Selection, size: int, n: int) -> list[str]:
    warnings = []
    if chosen.shortfall:
        warnings.append(
            f"{chosen.shortfall} rows short of the allocation (the hash thresholds kept too "
            "few candidates); the sample is slightly smaller"
        )
    if size > n:
        warnings.append(
            f"the sample has {size} rows, more than the {n} asked, to keep every rare stratum, "
            "rare level and tail (raise sample_size or rare_threshold to avoid this)"
        )
    return warnings


def _info(
    config: DiversityConfig,
    size: int,
    plan: _Plan,
    chosen: Selection,
    rare: np.ndarray,
    moe: float,
    per: np.ndarray,
) -> dict[str, Any]:
    """The result's ``sample`` section."""
    drawn = chosen.drawn
    constraints = sorted(plan.groups, key=lambda g: (g.kind, g.column, str(g.level)))
    return {
        "path": None,
        "requested": config.sample_size,
        "size": size,
        "seed": config.seed,
        "strata_covered": int((drawn > 0).sum()),
        "strata_total": int(rare.size),
        "rare_strata_kept": int(((drawn > 0) & rare).sum()),
        "rare_strata_total": int(rare.sum()),
        "rare_oversample": config.rare_oversample,
        "tail_quantiles": list(config.tail_quantiles),
        "tail_rows_per_side": plan.tail_rows,
        "constraints": [g.to_dict() for g in constraints],
        "margin_of_error": moe,
        "confidence_level": config.confidence_level,
        "sampling_confidence": max(0.0, 1.0 - moe),
        "stratum_margin_of_error": {
            "min": float(per.min()) if per.size else None,
            "median": float(np.median(per)) if per.size else None,
            "max": float(per.max()) if per.size else None,
        },
        "columns_added": dict(ADDED_COLUMNS),
    }
