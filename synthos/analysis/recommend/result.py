"""What the recommender returns: ranked recommendations with their measured impact."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthos.analysis.localize import LocalizeResult
from synthos.fileio import to_jsonable


@dataclass
class RecommendResult:
    """Recommendations best first (report.json `recommendations`: DESIGN section 9 plus the
    measurements: `risk_impact`, `metric_impact` with their random controls, the fixed
    dataset, its spec and the command that rebuilds it)."""

    recommendations: list[dict[str, Any]]
    localization: LocalizeResult
    current_risk: float
    current_metric: float | None
    metric: str | None
    measured_by: str
    seconds: float

    def to_report(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "recommendations": self.recommendations,
                "recommendation_summary": {
                    "measured_by": self.measured_by,
                    "current_risk_score": self.current_risk,
                    "metric": self.metric,
                    "current_metric": self.current_metric,
                    "seconds": self.seconds,
                },
            }
        )

    def write_report(self, directory: str | os.PathLike, validation_id: str | None = None) -> Path:
        """The localization's files and report fields, then this stage's fields."""
        from synthos.report import read_report, write_report

        path = self.localization.write_report(directory, validation_id=validation_id)
        report = read_report(path)
        report.update(self.to_report())
        report["timings"] = {**(report.get("timings") or {}), "recommend": self.seconds}
        return write_report(directory, report)

    def summary(self) -> str:
        lines = [f"measured by  {self.measured_by}; current risk {self.current_risk:.0f}/100"]
        for rec in self.recommendations:
            risk = rec["risk_impact"]
            text = (
                f"{rec['priority']:>2}. {rec['title']} ({rec['affected_rows']} rows): risk "
                f"{risk['current']:.0f} -> {risk['expected']:.0f} (random control "
                f"{risk['control']['expected']:.1f})"
            )
            metric = rec.get("metric_impact")
            if metric:
                low, high = metric["interval"]
                text += (
                    f"; {metric['metric']} {metric['current']:.4g} -> {metric['expected']:.4g} "
                    f"[{low:.4g}, {high:.4g}] (control {metric['control']['expected']:.4g})"
                )
                verdict = metric["beats_random_control"]
            else:
                verdict = risk["beats_random_control"]
            if not rec["improves"]:
                text += "; does not improve it"
            else:
                text += "; beats random removal" if verdict else "; no better than random removal"
            lines.append(text)
        return "\n".join(lines)
