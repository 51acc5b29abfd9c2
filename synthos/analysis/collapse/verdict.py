"""The detector's rules: from dimension results to a verdict.

* overall_score: the weighted mean (``CollapseConfig.weights``) of evaluated dimensions'
  scores; None when none was evaluated.
* collapse_detected: any evaluated dimension below its threshold.
* risk_score: how far the worst dimension has gone toward failing. Without a failure,
  ``50 x (100 - score) / (100 - threshold)`` of the dimension where that is largest, below
  50 (halfway to its threshold is 25): the thresholds are calibrated to what clean data
  does on each dimension, so a dimension's distance to its own threshold ranks datasets
  better than the average score, where one dimension's drop is diluted by the rest. With
  failures ``50 + 50 x (worst shortfall / its threshold)``, where a dimension's shortfall
  is threshold - score. (memorization is evaluated on every non-empty candidate, so there
  is always an evaluated dimension.)
* severity from the risk score: none (< 25, and no failure), low (< 50), medium (< 70),
  high (< 85), critical (>= 85). A failure is never "none".
* collapse_type: None without a failure; otherwise the first pattern that matches:
  "correlation_loss" when correlation_preservation fails while distribution_fidelity passes
  (marginals intact, dependence broken; broken dependence also drags coverage and the
  spectrum down); "distribution_shift" when distribution_fidelity fails while
  spectral_coherence does not (the data moved, its structure did not); "mode_collapse"
  when entropy_stability fails together with spectral_coherence or tail_preservation
  (diversity lost across the board, the signature of recursive collapse); else the type
  (`COLLAPSE_TYPES`) of the failing dimension with the largest shortfall.
* root_causes: one per failing dimension, percentage proportional to its shortfall
  (threshold - score), summing to 100; without a failure, empty.
"""

from __future__ import annotations

from typing import Any

from .config import CollapseConfig
from .result import DimensionResult

COLLAPSE_TYPES = {
    "distribution_fidelity": "distribution_shift",
    "correlation_preservation": "correlation_loss",
    "entropy_stability": "diversity_loss",
    "tail_preservation": "tail_loss",
    "memorization": "memorization",
    "spectral_coherence": "structure_loss",
    "training_stability": "training_instability",
    "generalization_gap": "generalization_gap",
}
DESCRIPTIONS = {
    "distribution_fidelity": "marginal distributions differ from the reference",
    "correlation_preservation": "dependence between columns (or along time) is broken",
    "entropy_stability": "diversity is lost: fewer modes, shrunken variance, less support",
    "tail_preservation": "rare categories and extreme values are missing",
    "memorization": "duplicates or copies of reference rows",
    "spectral_coherence": "structure in the spectrum is lost",
    "training_stability": "models trained on it diverge or collapse",
    "generalization_gap": "models trained on it do worse on real data, or it is easy to "
    "tell apart from real data",
}
SEVERITY_BANDS = ((25, "none"), (50, "low"), (70, "medium"), (85, "high"))


def overall_score(results: list[DimensionResult], config: CollapseConfig) -> float | None:
    scored = [(r.score, config.weights.get(r.name, 1.0)) for r in results if r.evaluated]
    total = sum(w for _, w in scored)
    if not scored or total <= 0:
        return None
    return round(sum(s * w for s, w in scored) / total, 2)


def _shortfalls(results: list[DimensionResult]) -> dict[str, float]:
    return {r.name: max(r.threshold - r.score, 1e-6) for r in results if r.failed}


def risk_score(results: list[DimensionResult], overall: float | None) -> int:
    if overall is None:
        return 0
    shortfalls = _shortfalls(results)
    if shortfalls:
        worst = max(shortfalls, key=shortfalls.get)
        threshold = next(r.threshold for r in results if r.name == worst)
        risk = 50.0 + 50.0 * shortfalls[worst] / max(threshold, 1e-6)
    else:
        risk = max(
            (
                min(49.0, 50.0 * (100.0 - r.score) / max(100.0 - r.threshold, 1e-6))
                for r in results
                if r.evaluated
            ),
            default=0.0,
        )
    return round(min(100.0, max(0.0, risk)))


def severity(risk: int, collapse: bool) -> str:
    for bound, name in SEVERITY_BANDS:
        if risk < bound:
            return "low" if collapse and name == "none" else name
    return "critical"


def collapse_type(results: list[DimensionResult]) -> str | None:
    shortfalls = _shortfalls(results)
    if not shortfalls:
        return None
    passed = {r.name for r in results if r.evaluated and r.passed}
    failed = set(shortfalls)
    if "correlation_preservation" in failed and "distribution_fidelity" in passed:
        return "correlation_loss"
    if "distribution_fidelity" in failed and "spectral_coherence" not in failed:
        return "distribution_shift"
    if "entropy_stability" in failed and failed & {"spectral_coherence", "tail_preservation"}:
        return "mode_collapse"
    return COLLAPSE_TYPES[max(shortfalls, key=shortfalls.get)]


def root_causes(results: list[DimensionResult]) -> list[dict[str, Any]]:
    shortfalls = _shortfalls(results)
    total = sum(shortfalls.values())
    causes = [
        {
            "cause": COLLAPSE_TYPES[name],
            "dimension": name,
            "percentage": round(100.0 * value / total, 1),
            "description": DESCRIPTIONS[name],
        }
        for name, value in sorted(shortfalls.items(), key=lambda item: -item[1])
    ]
    if causes:  # rounding must not leave the sum off 100
        causes[0]["percentage"] = round(100.0 - sum(c["percentage"] for c in causes[1:]), 1)
    return causes
