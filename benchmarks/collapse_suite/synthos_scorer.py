"""Synthos' detector on a case: dimension scores, verdict and time."""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks.collapse_suite.case import Case


@dataclass(frozen=True)
class DetectorScore:
    """What the suite keeps of a `CollapseResult`. `scores` holds the evaluated dimensions
    only; `failed` the dimensions below their threshold; `error` the message of a crash."""

    scores: dict[str, float]
    failed: tuple[str, ...]
    overall_score: float | None
    risk_score: int | None
    collapse_detected: bool | None
    collapse_type: str | None
    seconds: float
    error: str | None = None


def score_case(case: Case, config=None) -> DetectorScore:
    """Run `detect_collapse` on the case (a crash is recorded, not raised, so one bad case
    does not hide the rest of the suite)."""
    from synthos.analysis.collapse import detect_collapse

    start = time.perf_counter()
    try:
        result = detect_collapse(
            case.candidate, case.reference, modality=case.modality, config=config
        )
    except Exception as err:
        return DetectorScore({}, (), None, None, None, None, time.perf_counter() - start, repr(err))
    return DetectorScore(
        scores={d.name: float(d.score) for d in result.dimensions if d.evaluated},
        failed=tuple(result.failed_dimensions),
        overall_score=result.overall_score,
        risk_score=result.risk_score,
        collapse_detected=result.collapse_detected,
        collapse_type=result.collapse_type,
        seconds=time.perf_counter() - start,
    )
