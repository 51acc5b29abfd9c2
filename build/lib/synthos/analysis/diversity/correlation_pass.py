"""The correlation pass: Pearson over all rows, Spearman and Cramer's V on the profile sample.

Pearson comes from the global pass's co-moments; pairs with missing values take one more
scan with the engine's ``corr`` over their complete rows (see `correlations.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..correlations import capped, codes, cramers_v, pearson_from_moments
from ..engine import Source
from .config import DiversityConfig
from .design import StrataDesign
from .global_pass import GlobalStats
from .profile import Profile


@dataclass(frozen=True)
class Correlations:
    """Pairs ``{"a", "b", "method", "value"}``, strongest first, per method and over all.

    pearson_matrix: the correlated columns and their Pearson matrix (None: no column).
    """

    pearson: list[dict[str, Any]]
    spearman: list[dict[str, Any]]
    cramers_v: list[dict[str, Any]]
    rows_used: dict[str, int]
    pearson_matrix: dict[str, Any] | None

    def to_dict(self, top: int) -> dict[str, Any]:
        """The result's ``correlations`` section: the `top` pairs of each list."""
        strongest = sorted(
            self.pearson + self.spearman + self.cramers_v, key=lambda d: -abs(d["value"])
        )
        out: dict[str, Any] = {
            "pearson": self.pearson[:top],
            "spearman": self.spearman[:top],
            "cramers_v": self.cramers_v[:top],
            "top": strongest[:top],
            "rows_used": self.rows_used,
        }
        if self.pearson_matrix is not None:
            out["pearson_matrix"] = self.pearson_matrix
        return out


def correlation_pass(
    src: Source,
    profile: Profile,
    design: StrataDesign,
    totals: GlobalStats,
    config: DiversityConfig,
) -> Correlations:
    names = [c.name for c in totals.correlated]
    matrix = _pearson_matrix(src, profile, totals)
    pearson = _pairs(names, matrix, "pearson")
    rows = min(profile.rows, config.correlation_rows)
    spearman: list[dict[str, Any]] = []
    if len(names) >= 2 and rows >= 3:
        import pandas as pd

        frame = pd.DataFrame({c.name: profile.values(c, rows) for c in totals.correlated})
        spearman = _pairs(
            names, frame.corr(method="spearman", min_periods=3).to_numpy(), "spearman"
        )
    cramer = _cramers_v(profile, design, rows)
    matrix_section = None
    if names:
        values = [[None if not np.isfinite(x) else float(x) for x in r] for r in matrix]
        matrix_section = {"columns": names, "values": values}
    return Correlations(
        pearson=pearson,
        spearman=spearman,
        cramers_v=cramer,
        rows_used={
            "pearson": totals.rows,
            "spearman": rows if spearman else 0,
            "cramers_v": rows if cramer else 0,
        },
        pearson_matrix=matrix_section,
    )


def _pearson_matrix(src: Source, profile: Profile, totals: GlobalStats) -> np.ndarray:
    """Exact Pearson of every correlated pair (NaN where undefined)."""
    cols, n = totals.correlated, totals.rows
    matrix = np.eye(len(cols)) if cols else np.zeros((0, 0))
    incomplete = []
    for a_pos, a in enumerate(cols):
        for b_pos in range(a_pos + 1, len(cols)):
            b = cols[b_pos]
            if totals.non_missing[a.name] < n or totals.non_missing[b.name] < n:
                incomplete.append((a_pos, b_pos))
                continue
            ta, tb = totals.numeric[a.name], totals.numeric[b.name]
            r = pearson_from_moments(
                n,
                ta.shifted_sum,
                tb.shifted_sum,
                ta.shifted_squares,
                tb.shifted_squares,
                totals.co_moments[(a.name, b.name)],
            )
            matrix[a_pos, b_pos] = matrix[b_pos, a_pos] = np.nan if r is None else r
    if incomplete:
        corr_list = ", ".join(
            f"corr({cols[i].alias}, {cols[j].alias}) AS __q{k}"
            for k, (i, j) in enumerate(incomplete)
        )
        row = src.fetchall(f"SELECT {corr_list} FROM ({profile.scan_sql()})")[0]
        for k, (i, j) in enumerate(incomplete):
            value = row[k]
            matrix[i, j] = matrix[j, i] = np.nan if value is None else float(value)
    return matrix


def _pairs(names: list[str], matrix: np.ndarray, method: str) -> list[dict[str, Any]]:
    """The finite upper-triangle entries of `matrix`, strongest (by |value|) first."""
    pairs = [
        {"a": names[i], "b": names[j], "method": method, "value": float(matrix[i, j])}
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if np.isfinite(matrix[i, j])
    ]
    pairs.sort(key=lambda d: -abs(d["value"]))
    return pairs


def _cramers_v(profile: Profile, design: StrataDesign, rows: int) -> list[dict[str, Any]]:
    """Bias-corrected Cramer's V of every categorical pair, strongest first."""
    cats = profile.categorical
    if len(cats) < 2 or rows < 2:
        return []
    coded = {}
    for col in cats:
        column = profile.sample.column(col.alias).slice(0, rows)
        coded[col.name] = codes(capped(column, design.marginal[col.name].levels))
    cramer = []
    for i, a in enumerate(cats):
        for b in cats[i + 1 :]:
            v = cramers_v(coded[a.name], coded[b.name])
            if v is not None:
                cramer.append({"a": a.name, "b": b.name, "method": "cramers_v", "value": v})
    cramer.sort(key=lambda d: -d["value"])
    return cramer
