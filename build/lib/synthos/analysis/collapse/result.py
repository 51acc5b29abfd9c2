"""What the detector returns: one `DimensionResult` per dimension and the `CollapseResult`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Evidence as plain JSON types (numpy scalars and arrays included, NaN as None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return round(value, 6) if math.isfinite(value) else None
    return value


@dataclass
class DimensionResult:
    """One dimension's verdict. Not evaluated: score and passed are None and
    ``evidence["reason"]`` says why."""

    name: str
    score: float | None
    threshold: float
    passed: bool | None
    evaluated: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scored(cls, name: str, score: float, threshold: float, evidence: dict[str, Any]):
        score = float(min(100.0, max(0.0, score)))
        return cls(name, round(score, 2), threshold, score >= threshold, True, jsonable(evidence))

    @classmethod
    def not_evaluated(cls, name: str, threshold: float, reason: str, **evidence: Any):
        return cls(name, None, threshold, None, False, jsonable({"reason": reason, **evidence}))

    @property
    def failed(self) -> bool:
        return self.evaluated and self.passed is False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CollapseResult:
    """The detector's verdict (see the package docstring for the rules)."""

    dimensions: list[DimensionResult]
    overall_score: float | None
    collapse_detected: bool
    risk_score: int
    severity: str
    collapse_type: str | None
    root_causes: list[dict[str, Any]]
    timings: dict[str, float]
    sample_sizes: dict[str, int | None]
    dataset: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    def dimension(self, name: str) -> DimensionResult:
        for result in self.dimensions:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def failed_dimensions(self) -> list[str]:
        return [d.name for d in self.dimensions if d.failed]

    def to_report(self) -> dict[str, Any]:
        """The report.json fields this stage owns (DESIGN section 9)."""
        return {
            "dataset": dict(self.dataset),
            "dimensions": [d.to_dict() for d in self.dimensions],
            "overall_score": self.overall_score,
            "collapse_detected": self.collapse_detected,
            "risk_score": self.risk_score,
            "severity": self.severity,
            "collapse_type": self.collapse_type,
            "root_causes": list(self.root_causes),
            "timings": dict(self.timings),
        }

    def summary(self) -> str:
        """A few readable lines: verdict, each dimension, the top root causes."""
        verdict = "COLLAPSE DETECTED" if self.collapse_detected else "no collapse detected"
        overall = "n/a" if self.overall_score is None else f"{self.overall_score:.1f}"
        lines = [
            f"verdict      {verdict} (overall {overall}/100, risk {self.risk_score}/100, "
            f"severity {self.severity}"
            + (f", type {self.collapse_type})" if self.collapse_type else ")"),
            f"dataset      {self.dataset.get('path')} ({self.dataset.get('modality')}, "
            f"{self.dataset.get('rows')} rows; "
            f"{sum(d.evaluated for d in self.dimensions)} of {len(self.dimensions)} "
            "dimensions evaluated)",
        ]
        for d in self.dimensions:
            if not d.evaluated:
                status = f"not evaluated ({str(d.evidence.get('reason', '')).split(':')[0]})"
                lines.append(f"  {d.name:<25}     -  / {d.threshold:5.1f}  {status}")
            else:
                status = "PASS" if d.passed else "FAIL"
                seen = "; ".join(e["text"] for e in (d.evidence.get("sensitivity") or [])[:2])
                if d.passed and seen:
                    status += f"  ({seen})"
                lines.append(f"  {d.name:<25} {d.score:5.1f} / {d.threshold:5.1f}  {status}")
        for cause in self.root_causes[:3]:
            share, name = cause["percentage"], cause["cause"]
            why = (
                f" (a consequence of {cause['explained_by']})" if cause.get("explained_by") else ""
            )
            lines.append(f"cause        {share:5.1f}%  {name}: {cause['description']}{why}")
        return "\n".join(lines)
