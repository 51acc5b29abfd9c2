"""The strata pass: rows per stratum and per level of every categorical and text column.

One scan: the joint strata key and every column's level are grouping sets of one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import Params, Source
from .design import StrataDesign
from .profile import Profile


@dataclass(frozen=True)
class StrataCounts:
    """keys: each stratum's key (one level code per strata dimension), largest stratum first;
    counts: its rows (int64, aligned with keys); levels: rows per level code of each
    categorical and text column."""

    keys: list[tuple]
    counts: np.ndarray
    levels: dict[str, dict[Any, int]]


def strata_pass(src: Source, profile: Profile, design: StrataDesign, rows: int) -> StrataCounts:
    """Count the strata and the levels; `rows` is the dataset's row count."""
    levelled = profile.categorical + profile.text
    keys = [f"__k{j}" for j in range(len(design.dims))]
    margs = [f"__m{c.index}" for c in levelled]
    params = Params()
    alias_of = {c.name: c.alias for c in profile.analysed}
    exprs = [
        f"{dim.expression(alias_of[dim.column], params)} AS {keys[j]}"
        for j, dim in enumerate(design.dims)
    ]
    exprs += [
        f"{design.marginal[c.name].expression(c.alias, params)} AS __m{c.index}" for c in levelled
    ]
    sets = ["(" + ", ".join(keys) + ")"] if keys else []
    sets += [f"({m})" for m in margs]
    if not sets:
        sets = ["()"]
    grouping = ", ".join(f"GROUPING({k}) AS __g_{k}" for k in (keys[:1] + margs))
    inner = f"SELECT {', '.join(exprs) if exprs else '1 AS __one'} FROM ({profile.scan_sql()})"
    cols = ", ".join(keys + margs + ["count(*) AS __n"] + ([grouping] if grouping else []))
    table = src.arrow(
        f"SELECT {cols} FROM ({inner}) GROUP BY GROUPING SETS ({', '.join(sets)})",
        params.values,
    )
    strata, marginal = _split_sets(table.to_pydict(), table.num_rows, keys, margs)
    if not keys:
        strata = [((), rows)]
    strata.sort(key=lambda kv: (-kv[1], [str(x) for x in kv[0]]))
    return StrataCounts(
        keys=[k for k, _ in strata],
        counts=np.array([c for _, c in strata], dtype=np.int64),
        levels={c.name: marginal[f"__m{c.index}"] for c in levelled},
    )


def _split_sets(
    data: dict[str, list], rows: int, keys: list[str], margs: list[str]
) -> tuple[list[tuple[tuple, int]], dict[str, dict[Any, int]]]:
    """Tell the grouping sets' rows apart: (strata key, rows) pairs and level counts."""
    strata: list[tuple[tuple, int]] = []
    marginal: dict[str, dict[Any, int]] = {m: {} for m in margs}
    for r in range(rows):
        count = int(data["__n"][r])
        if keys and data[f"__g_{keys[0]}"][r] == 0:
            strata.append((tuple(data[k][r] for k in keys), count))
            continue
        for m in margs:
            if data[f"__g_{m}"][r] == 0:
                marginal[m][data[m][r]] = count
                break
    return strata, marginal
