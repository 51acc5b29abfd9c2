"""Strata: how rows are grouped, and how even the groups are.

A *dimension* maps each row to a level, in SQL (so the engine does the grouping):

* categorical column: its value, capped to the most frequent `max_levels` values (the rest
  become ``<other>``; missing values ``<null>``; values are profiled on their first 1,000
  characters, so a longer value counts as ``<other>``);
* numeric column: its quantile bin (edges from the profile sample, ties merged);
* text column: a length bucket, ``floor(log2(chars + 1))`` (0, 1-2, 3-6, 7-14, ... chars).

The *strata* are the cells of the joint key over a few dimensions chosen so that the number
of possible cells stays under `max_strata` (round-robin over categorical, numeric and text
dimensions, lowest cardinality first). Text cluster buckets are sample-based and reported
next to them (see `clusters.py`).

`distribution_metrics` measures any list of group sizes:

* ``entropy``: Shannon entropy normalised by ``log(k)`` for the k non-empty groups (Pielou
  evenness; 1 = all groups equal, 0 = one group), with ``entropy_bits`` and
  ``effective_groups = 2**entropy_bits``;
* ``gini``: Gini coefficient of the group sizes (0 = equal sizes, towards 1 = concentrated);
* ``hhi``: Herfindahl-Hirschman index ``sum(p**2)`` and its normalised form
  ``(hhi - 1/k) / (1 - 1/k)``; ``top_share``: share of rows in the 1, 5 and 10 largest groups;
* ``rare``: groups holding less than `rare_threshold` (default 1 %) of the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Params

#: Strings are compared and profiled on their first characters only (bounds memory when
#: a "categorical" column holds long values; text columns are clustered on a prefix).
PREFIX_CHARS = 1000
OTHER = "<other>"
NULL = "<null>"
MISSING_BIN = -1
OTHER_CODE = 0


@dataclass
class Dimension:
    """One way of mapping rows to levels, evaluated by the engine.

    kind: "categorical", "numeric" or "text_length".
    levels: for categorical, the kept values (others map to ``<other>``); for numeric, the
        bin edges; unused for text length.
    """

    column: str
    kind: str
    levels: list[Any] = field(default_factory=list)
    size: int = 0  # number of levels that can occur (set by the builder)

    @property
    def name(self) -> str:
        return self.column if self.kind != "text_length" else f"{self.column}:length"

    @property
    def cardinality(self) -> int:
        """Number of levels that can occur (including ``<other>`` / missing)."""
        if self.size:
            return self.size
        if self.kind in ("categorical", "numeric"):
            return len(self.levels) + 2
        return 24  # length buckets up to 16M chars, plus missing

    def expression(self, value_sql: str, params: Params) -> str:
        """SQL mapping the column (already cleaned by the caller) to its integer key.

        Keys are small integers because the engine groups on them much faster than on
        strings: -1 for missing; categorical levels 1..k in `levels` order and 0 for
        ``<other>``; numeric bins 0..len(edges); text length buckets 0, 1, 2, ...
        Level values and bin edges are bound in `params`.
        """
        missing = f"CASE WHEN {value_sql} IS NULL THEN {MISSING_BIN}"
        if self.kind == "categorical":
            if not self.levels:
                return f"{missing} ELSE {OTHER_CODE} END"
            listed = params.bind([str(v) for v in self.levels], "VARCHAR[]")
            return (
                f"{missing} ELSE coalesce(list_position({listed}, {value_sql}), {OTHER_CODE}) END"
            )
        if self.kind == "numeric":
            if not self.levels:
                return f"{missing} ELSE 0 END"
            steps = " + ".join(f"({value_sql} > {params.double(e)})::INTEGER" for e in self.levels)
            return f"{missing} ELSE {steps} END"
        if self.kind == "text_length":
            return f"{missing} ELSE floor(log2(length({value_sql}) + 1))::INTEGER END"
        raise ValueError(f"unknown dimension kind {self.kind!r}")

    def label(self, key: Any) -> str:
        """A readable name for one level (keys are integer codes, see `expression`)."""
        key = int(key)
        if key == MISSING_BIN:
            return NULL
        if self.kind == "categorical":
            return OTHER if key == OTHER_CODE else str(self.levels[key - 1])
        if self.kind == "numeric":
            edges = self.levels
            if not edges:
                return "(-inf, inf)"
            lo = "-inf" if key == 0 else _fmt(edges[key - 1])
            hi = "inf" if key >= len(edges) else _fmt(edges[key])
            return f"({lo}, {hi}]" if key < len(edges) else f"({lo}, {hi})"
        lo, hi = 2**key - 1, 2 ** (key + 1) - 2
        return f"{lo} chars" if lo == hi else f"{lo}-{hi} chars"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Interior edges of `bins` equal-frequency bins (ties merged, so maybe fewer)."""
    values = values[np.isfinite(values)]
    if values.size == 0 or bins < 2:
        return []
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    edges = sorted({float(q) for q in qs})
    # An edge at the maximum would leave an empty last bin.
    top = float(values.max())
    return [e for e in edges if e < top]


def categorical_levels(counts: dict[Any, int], max_levels: int) -> list[str]:
    """The values kept as their own level: all when few, else the most frequent."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    keep = max_levels if len(ordered) <= max_levels else max_levels - 1
    return [str(k) for k, _ in ordered[: max(keep, 0)] if k is not None]


def choose_dimensions(candidates: dict[str, list[Dimension]], max_strata: int) -> list[Dimension]:
    """Round-robin over kinds (lowest cardinality first) while the cell count fits."""
    queues = {
        kind: sorted(dims, key=lambda d: (d.cardinality, d.column))
        for kind, dims in candidates.items()
    }
    chosen: list[Dimension] = []
    product = 1
    while any(queues.values()):
        for kind in ("categorical", "numeric", "text_length"):
            queue = queues.get(kind) or []
            while queue:
                dim = queue.pop(0)
                if product * dim.cardinality <= max_strata or not chosen:
                    chosen.append(dim)
                    product *= dim.cardinality
                    break
    return chosen


def distribution_metrics(
    counts: Sequence[int] | np.ndarray, rare_threshold: float = 0.01
) -> dict[str, Any]:
    """Evenness and concentration of group sizes (see module docstring)."""
    c = np.asarray([x for x in counts if x > 0], dtype=np.float64)
    k = int(c.size)
    total = float(c.sum())
    if k == 0 or total <= 0:
        return {
            "groups": 0,
            "rows": 0,
            "entropy": 0.0,
            "entropy_bits": 0.0,
            "effective_groups": 0.0,
            "gini": 0.0,
            "hhi": 0.0,
            "hhi_normalized": 0.0,
            "top_share": {"1": 0.0, "5": 0.0, "10": 0.0},
            "rare_groups": 0,
            "rare_rows": 0,
            "rare_percentage": 0.0,
        }
    p = c / total
    bits = float(-(p * np.log2(p)).sum())
    entropy = bits / math.log2(k) if k > 1 else 0.0
    hhi = float((p**2).sum())
    hhi_norm = (hhi - 1.0 / k) / (1.0 - 1.0 / k) if k > 1 else 1.0
    s = np.sort(c)
    index = np.arange(1, k + 1)
    gini = float((2.0 * (index * s).sum()) / (k * s.sum()) - (k + 1.0) / k) if k > 1 else 0.0
    desc = s[::-1]
    rare = c < rare_threshold * total
    return {
        "groups": k,
        "rows": int(total),
        "entropy": _clip01(entropy),
        "entropy_bits": bits,
        "effective_groups": float(2.0**bits),
        "gini": _clip01(gini),
        "hhi": hhi,
        "hhi_normalized": _clip01(hhi_norm),
        "top_share": {str(n): float(desc[:n].sum() / total) for n in (1, 5, 10)},
        "rare_groups": int(rare.sum()),
        "rare_rows": int(c[rare].sum()),
        "rare_percentage": float(100.0 * c[rare].sum() / total),
    }


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def lorenz_curve(counts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of groups (x) against cumulative share of rows (y), smallest first."""
    c = np.sort(np.asarray([x for x in counts if x > 0], dtype=np.float64))
    if c.size == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    x = np.concatenate([[0.0], np.arange(1, c.size + 1) / c.size])
    y = np.concatenate([[0.0], np.cumsum(c) / c.sum()])
    return x, y
