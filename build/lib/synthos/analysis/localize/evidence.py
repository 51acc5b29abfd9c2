"""What one evidence source says about every row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Issue types, in the order that breaks a tie between equally strong evidence.
ISSUE_TYPES = (
    "memorized",
    "duplicate",
    "label_noise",
    "low_quality",
    "out_of_distribution",
)
NO_ISSUE = "none"


@dataclass
class Evidence:
    """One source's p-values and the columns it adds to row_scores.parquet.

    name: the source (e.g. "near_duplicates"); issue_type: what a hit means.
    p_values: per row in file order; NaN where the source did not look (a sampled source).
    columns: evidence columns (file order), written next to the scores.
    affected_columns: the columns a hit implicates, for every row alike, or
    row_columns: per row, the column a hit implicates most (None where none stands out).
    groups: per row, a group id shared by rows with this issue together (-1: none), e.g.
        a duplicate group; regions keep such groups together.
    summary: what was measured against what (baseline, sample sizes), for the report.
    """

    name: str
    issue_type: str
    p_values: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    affected_columns: list[str] = field(default_factory=list)
    row_columns: np.ndarray | None = None
    groups: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def implicated_columns(self, rows: np.ndarray, share: float = 0.25) -> list[str]:
        """Columns implicated by the hits in `rows`: the shared list, or the per-row columns
        named by at least `share` of those rows (the most common one at least)."""
        if self.row_columns is None:
            return list(self.affected_columns)
        named = [c for c in self.row_columns[rows] if c]
        if not named:
            return list(self.affected_columns)
        counts = Counter(named).most_common()
        keep = [c for c, n in counts if n >= share * len(rows)]
        return keep or [counts[0][0]]


@dataclass
class Skipped:
    """A source that did not run, and why (reported with the evidence that did)."""

    name: str
    reason: str
