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
* collapse_type: None without a failure; otherwise the type of the *primary* failing
  dimension, the one that explains the most of the other failures (`EXPLAINS`: heavy
  duplication removes tails and support and moves marginals; a shift of the data moves
  tails, coverage, the discriminator and the target's dependence; broken dependence drags
  coverage, the spectrum and the discriminator down; lost diversity narrows the marginals
  and empties tails; lost tails narrow the spread; a series' lost spectrum changes its
  increments and their autocorrelation, whereas the covariance spectrum of a table or a
  text embedding only summarises the others and explains nothing, and a series' spectrum,
  in shares of its power, is left as it was by a shift, a change of scale or clipped
  extremes), ties going to the larger relative shortfall ((threshold - score) /
  threshold). One refinement: a failing
  distribution_fidelity whose worst column failed on a narrower spread, while
  entropy_stability fails too, is a consequence of lost diversity. The type is
  `COLLAPSE_TYPES` of the primary, except that lost diversity together with lost tails or
  spectrum is "mode_collapse" (the signature of recursive collapse).
* root_causes: one per failing dimension, the primary first (its cause is the collapse
  type), then by shortfall; each says whether the primary explains it ("consequence",
  with ``explained_by``) or not ("independent"); percentages proportional to the
  shortfalls, summing to 100. Without a failure, empty.
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


#: Failing dimension -> the other dimensions whose failure it explains.
EXPLAINS = {
    "memorization": {
        "distribution_fidelity",
        "entropy_stability",
        "tail_preservation",
        "spectral_coherence",
        "generalization_gap",
    },
    "distribution_fidelity": {
        "correlation_preservation",
        "entropy_stability",
        "tail_preservation",
        "spectral_coherence",
        "generalization_gap",
    },
    "correlation_preservation": {
        "entropy_stability",
        "tail_preservation",
        "spectral_coherence",
        "generalization_gap",
    },
    "entropy_stability": {
        "distribution_fidelity",
        "tail_preservation",
        "spectral_coherence",
        "generalization_gap",
    },
    "tail_preservation": {"distribution_fidelity", "entropy_stability", "spectral_coherence"},
    "spectral_coherence": {
        "distribution_fidelity",
        "correlation_preservation",
        "entropy_stability",
        "tail_preservation",
        "generalization_gap",
    },
    "generalization_gap": set(),
    "training_stability": set(),
}


def _explains(name: str, modality: str | None) -> set[str]:
    if name == "spectral_coherence" and modality in ("tabular", "text"):
        return set()
    if modality == "time_series" and name != "memorization":
        # a series' spectrum is in shares of its power: a shift, a change of scale or a
        # few clipped extremes leave it as it was
        return EXPLAINS[name] - {"spectral_coherence"}
    return EXPLAINS[name]


def _narrowed(results: list[DimensionResult]) -> bool:
    """distribution_fidelity failed on the spread of its worst column (of those with a
    spread test), the candidate narrower."""
    fidelity = next((r for r in results if r.name == "distribution_fidelity"), None)
    if fidelity is None or not fidelity.failed:
        return False
    columns = fidelity.evidence.get("columns") or {}
    ranked = [columns.get(name) or {} for name in fidelity.evidence.get("worst_columns") or []]
    column = next((c for c in ranked if c.get("sd_ratio") is not None), {})
    ratio = column.get("sd_ratio")
    return (
        ratio is not None
        and ratio < 1.0
        and column.get("scale_excess", 0.0) > column.get("mean_excess", 0.0)
    )


def primary_dimension(results: list[DimensionResult], modality: str | None = None) -> str | None:
    """The failing dimension that explains the most other failures (ties: the larger
    relative shortfall); None without a failure."""
    shortfalls = _shortfalls(results)
    if not shortfalls:
        return None
    failed = set(shortfalls)
    thresholds = {r.name: max(r.threshold, 1e-6) for r in results}
    if {"distribution_fidelity", "entropy_stability"} <= failed and _narrowed(results):
        failed_explained = failed - {"distribution_fidelity"}
    else:
        failed_explained = failed

    def rank(name: str) -> tuple[int, float]:
        explained = _explains(name, modality) & (failed - {name})
        return len(explained), shortfalls[name] / thresholds[name]

    return max(failed_explained, key=rank)


def _type_of(primary: str, failed: set[str]) -> str:
    if primary == "entropy_stability" and failed & {"spectral_coherence", "tail_preservation"}:
        return "mode_collapse"
    return COLLAPSE_TYPES[primary]


def collapse_type(results: list[DimensionResult], modality: str | None = None) -> str | None:
    primary = primary_dimension(results, modality)
    return None if primary is None else _type_of(primary, set(_shortfalls(results)))


def root_causes(
    results: list[DimensionResult], modality: str | None = None
) -> list[dict[str, Any]]:
    shortfalls = _shortfalls(results)
    primary = primary_dimension(results, modality)
    if primary is None:
        return []
    total = sum(shortfalls.values())
    order = [primary, *sorted(set(shortfalls) - {primary}, key=lambda n: -shortfalls[n])]
    causes = []
    for name in order:
        cause = {
            "cause": COLLAPSE_TYPES[name],
            "dimension": name,
            "percentage": round(100.0 * shortfalls[name] / total, 1),
            "description": DESCRIPTIONS[name],
            "role": "primary",
        }
        if name == primary:
            cause["cause"] = _type_of(primary, set(shortfalls))
        elif name in _explains(primary, modality) or (
            name == "distribution_fidelity" and primary == "entropy_stability"
        ):
            cause.update(role="consequence", explained_by=primary)
        else:
            cause["role"] = "independent"
        causes.append(cause)
    # rounding must not leave the sum off 100
    largest = max(causes, key=lambda c: c["percentage"])
    largest["percentage"] = round(
        100.0 - sum(c["percentage"] for c in causes if c is not largest), 1
    )
    return causes
