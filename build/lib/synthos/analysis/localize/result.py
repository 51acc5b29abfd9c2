"""What the localizer returns: per-row scores (row_scores.parquet), regions and the evidence
behind them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthos.fileio import atomic_write, to_jsonable

ROW_SCORES_FILE = "row_scores.parquet"


@dataclass
class LocalizeResult:
    """Scores for every candidate row and the regions they form.

    row_scores: one row per candidate row (file order): row, score, issue_type, flagged,
        score_<source> for each source, and the sources' evidence columns.
    regions: report.json `regions` (DESIGN section 9, plus kind, rows, row_sample and the
        evidence sources of each region).
    evidence: the sources that ran: name, issue type, rows scored and flagged, what each
        compared with; skipped: the sources that did not run and why.
    """

    dataset: dict[str, Any]
    modality: str
    row_scores: pa.Table
    regions: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    skipped: list[dict[str, str]]
    flag_score: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.row_scores.num_rows

    def column(self, name: str) -> np.ndarray:
        return self.row_scores.column(name).to_numpy(zero_copy_only=False)

    @property
    def scores(self) -> np.ndarray:
        return self.column("score")

    @property
    def issue_types(self) -> np.ndarray:
        return self.column("issue_type")

    def flagged_rows(self, issue_type: str | None = None) -> np.ndarray:
        """Row numbers (file order) flagged, of one issue type when given."""
        flagged = self.column("flagged")
        if issue_type is not None:
            flagged = flagged & (self.issue_types == issue_type)
        return np.flatnonzero(flagged)

    def write(self, directory: str | os.PathLike) -> Path:
        """Write row_scores.parquet into `directory` (atomically); returns its path."""
        path = Path(directory) / ROW_SCORES_FILE
        return atomic_write(path, lambda tmp: pq.write_table(self.row_scores, tmp))

    def to_report(self, row_scores_path: str | os.PathLike | None = None) -> dict[str, Any]:
        """The report.json fields of this stage: `regions` and a `localization` summary."""
        flagged = self.column("flagged")
        counts = dict(zip(*np.unique(self.issue_types[flagged], return_counts=True), strict=True))
        return to_jsonable(
            {
                "regions": self.regions,
                "localization": {
                    "rows_scored": self.rows,
                    "rows_flagged": int(flagged.sum()),
                    "flagged_by_issue": {str(k): int(v) for k, v in counts.items()},
                    "flag_score": self.flag_score,
                    "evidence_used": self.evidence,
                    "evidence_skipped": self.skipped,
                    "row_scores_path": None if row_scores_path is None else str(row_scores_path),
                    "timings": dict(self.timings),
                },
            }
        )

    def write_report(self, directory: str | os.PathLike, validation_id: str | None = None) -> Path:
        """row_scores.parquet and this stage's fields merged into directory/report.json
        (a report of earlier stages keeps its fields; timings are merged)."""
        from synthos.report import empty_report, read_report, write_report
        from synthos.report.schema import REPORT_FILE

        path = self.write(directory)
        fields = self.to_report(path)
        existing = Path(directory) / REPORT_FILE
        if existing.is_file():
            report = fields
            earlier = read_report(existing).get("timings") or {}
            report["timings"] = {**earlier, **self.timings}
        else:
            report = empty_report(
                Path(str(self.dataset.get("path") or "dataset")).stem, self.dataset
            )
            report["prediction_unavailable"] = "no cascade was trained: localization only"
            report.update(fields, timings=dict(self.timings))
        if validation_id:
            report["validation_id"] = validation_id
        return write_report(directory, report)

    def summary(self) -> str:
        flagged = self.column("flagged")
        lines = [
            f"localized    {self.rows} rows ({self.modality}): {int(flagged.sum())} flagged "
            f"at score >= {self.flag_score}",
            "evidence     " + ", ".join(e["name"] for e in self.evidence),
        ]
        for skipped in self.skipped:
            lines.append(f"not used     {skipped['name']}: {skipped['reason']}")
        for region in self.regions[:5]:
            where = (
                f"rows {region['row_start']}-{region['row_end']}"
                if region["kind"] == "range"
                else f"{region['rows']} rows between {region['row_start']} and {region['row_end']}"
            )
            columns = ", ".join(region["affected_columns"][:4])
            lines.append(
                f"region {region['region_id']:<5} {region['issue_type']:<19} {where} "
                f"(impact {region['impact_score']:.2f}; {columns})"
            )
        return "\n".join(lines)
