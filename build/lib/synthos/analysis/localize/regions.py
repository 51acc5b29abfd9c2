"""Problem regions: flagged rows that share an issue, as row ranges or clusters.

Flagged rows of one issue type that follow each other in the file (at most `region_gap`
unflagged rows between them) and number at least `min_range_rows` form a row range. The
remaining flagged rows of the issue form clusters, one per evidence source and implicated
column (the column a row's out-of-support hit names, for instance), so a region says what a
person should look at. A region's impact score is the mean score of its rows; regions are
ranked by rows x impact and the first `max_regions` are kept, numbered r1, r2, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .combine import RowScores
from .config import LocalizeConfig
from .evidence import Evidence

#: Row numbers listed per region (the row_scores.parquet file has them all).
ROW_SAMPLE = 20


def runs(rows: np.ndarray, gap: int) -> list[np.ndarray]:
    """Sorted row numbers cut wherever more than `gap` rows lie between two of them."""
    if rows.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(rows) > gap + 1) + 1
    return np.split(rows, cuts)


def find_regions(
    scores: RowScores, evidence: list[Evidence], config: LocalizeConfig
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    flagged = np.flatnonzero(scores.flagged)
    for issue in np.unique(scores.issue_type[flagged]):
        rows = flagged[scores.issue_type[flagged] == issue]
        leftover = []
        for run in runs(rows, config.region_gap):
            if len(run) >= config.min_range_rows:
                found.append(_region(run, "range", str(issue), scores, evidence))
            else:
                leftover.append(run)
        if leftover:
            found.extend(_clusters(np.concatenate(leftover), str(issue), scores, evidence))
    found.sort(key=lambda r: (-r["rows"] * r["impact_score"], r["row_start"]))
    kept = found[: config.max_regions]
    for i, region in enumerate(kept, start=1):
        region["region_id"] = f"r{i}"
    return kept


def _clusters(
    rows: np.ndarray, issue: str, scores: RowScores, evidence: list[Evidence]
) -> list[dict[str, Any]]:
    keys: dict[tuple[int, str | None], list[int]] = {}
    for row in rows:
        source = int(scores.source[row])
        named = evidence[source].row_columns
        column = None if named is None else named[row]
        keys.setdefault((source, column), []).append(int(row))
    return [
        _region(np.asarray(members), "cluster", issue, scores, evidence)
        for members in keys.values()
    ]


def _region(
    rows: np.ndarray, kind: str, issue: str, scores: RowScores, evidence: list[Evidence]
) -> dict[str, Any]:
    sources = sorted({int(s) for s in scores.source[rows]})
    columns: list[str] = []
    for source in sources:
        hit = rows[scores.source[rows] == source]
        columns.extend(c for c in evidence[source].implicated_columns(hit) if c not in columns)
    return {
        "region_id": "",
        "row_start": int(rows.min()),
        "row_end": int(rows.max()),
        "issue_type": issue,
        "impact_score": round(float(np.mean(scores.score[rows])), 6),
        "affected_columns": columns,
        "kind": kind,
        "rows": int(rows.size),
        "row_sample": [int(r) for r in rows[:ROW_SAMPLE]],
        "evidence": [evidence[s].name for s in sources],
    }
