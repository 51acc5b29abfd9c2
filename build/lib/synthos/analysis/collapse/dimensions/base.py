"""What every dimension module shares: building its result from a score and evidence."""

from __future__ import annotations

from typing import Any

from ..inputs import Comparison
from ..result import DimensionResult

NO_REFERENCE = "no reference dataset"
SELF_REFERENCE = "the reference is the candidate itself"


def scored(cmp: Comparison, name: str, score: float, evidence: dict[str, Any]) -> DimensionResult:
    return DimensionResult.scored(name, score, cmp.config.threshold(name, cmp.modality), evidence)


def not_evaluated(cmp: Comparison, name: str, reason: str, **evidence: Any) -> DimensionResult:
    return DimensionResult.not_evaluated(
        name, cmp.config.threshold(name, cmp.modality), reason, **evidence
    )


def missing_reference(cmp: Comparison, name: str, needs: str) -> DimensionResult:
    """Not evaluated for want of a reference; a split of the candidate is no substitute
    (it shares the candidate's distribution by construction, so it cannot reveal collapse)."""
    why = SELF_REFERENCE if "self_comparison" in cmp.notes else NO_REFERENCE
    return not_evaluated(
        cmp,
        name,
        f"{why}: {needs}; a held-out split of the candidate shares its distribution and "
        "cannot stand in for real data",
    )
