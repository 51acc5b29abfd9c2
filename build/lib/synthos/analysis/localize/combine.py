"""One score per row from every evidence source.

Each source's p-values become Benjamini-Hochberg q-values over the rows it scored (a row not
scored by a sampled source gets nothing from it); the source's score of a row is 1 - q, the
confidence at which it would be flagged with a false-discovery rate of q. A row's score is
its highest source score, its issue type that source's (ties go to the earlier type of
`ISSUE_TYPES`; "none" when no source gives it any score), and it is flagged at `flag_score`
(0.9: at most 10 % false discoveries per source). A source with many strong hits keeps them
near 1; within a run of equal q-values (BH's running minimum) rows keep the order of their
p-values (`TIE_BREAK`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evidence import ISSUE_TYPES, NO_ISSUE, Evidence
from .pvalues import q_values


@dataclass
class RowScores:
    """Combined scores in file order.

    score: per row in [0, 1]; issue_type: the issue of the source behind it ("none" when
    no source scores the row); flagged: score >= flag_score; source: index into the
    evidence list of that source (-1: no evidence);
    per_source: each source's score (1 - q; 0 where it did not look).
    """

    score: np.ndarray
    issue_type: np.ndarray
    source: np.ndarray
    flagged: np.ndarray
    per_source: dict[str, np.ndarray]


#: Weight of a row's own p-value within a run of equal q-values (BH's running minimum gives
#: runs of rows one q-value): small enough never to reorder rows of different q.
TIE_BREAK = 1e-6


def source_score(p_values: np.ndarray) -> np.ndarray:
    """1 - BH q-value over the rows a source scored (0 where it did not look); rows of equal
    q keep the order of their p-values."""
    score = 1.0 - q_values(p_values) + TIE_BREAK * (1.0 - np.asarray(p_values, dtype=float))
    return np.clip(np.nan_to_num(score, nan=0.0), 0.0, 1.0)


def combine(evidence: list[Evidence], rows: int, flag_score: float) -> RowScores:
    per_source = {e.name: source_score(e.p_values) for e in evidence}
    if not evidence:
        none = np.full(rows, NO_ISSUE, dtype=object)
        return RowScores(np.zeros(rows), none, np.full(rows, -1), np.zeros(rows, bool), {})
    priority = sorted(range(len(evidence)), key=lambda i: ISSUE_TYPES.index(evidence[i].issue_type))
    matrix = np.column_stack([per_source[evidence[i].name] for i in priority])
    best = np.asarray(priority)[np.argmax(matrix, axis=1)]
    score = matrix.max(axis=1)
    flagged = score >= flag_score
    issues = np.asarray([e.issue_type for e in evidence], dtype=object)[best]
    issues[score <= 0] = NO_ISSUE
    return RowScores(score, issues, np.where(score > 0, best, -1), flagged, per_source)
