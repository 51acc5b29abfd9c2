"""The restated goals of the collapse suite: misses counted only where the separability
oracle says the defect can be told from clean data, and the agreement of collapse types."""

from __future__ import annotations

import pytest


def _record(modality: str, seed: int, family: str = "clean", **scores: float) -> dict:
    return {
        "case_id": f"{modality}/{family}/s{seed}",
        "modality": modality,
        "family": family,
        "seed": seed,
        "synthos": {"error": None, "scores": scores},
    }


def test_restated_goals_leave_out_only_what_the_oracle_cannot_separate():
    from benchmarks.collapse_suite.goals import restated, type_agreement

    def case(case_id, family, detected, typed=None, modality="tabular"):
        record = _record(modality, 1, family)
        record["synthos"].update(collapse_detected=detected, collapse_type=typed)
        return {**record, "case_id": case_id}

    records = [
        case("a", "mean_shift", False),
        case("b", "mean_shift", False),
        case("c", "exact_duplicates", True, "memorization"),
        case("d", "smoothing", True, "tail_loss", "time_series"),
        case("e", "clean", False),
    ]
    oracle = [{"case_id": "a", "separable": False}, {"case_id": "b", "separable": True}]
    found = restated(records, oracle, {"fpr": 0.04})
    assert found["separable_defects"] == 3 and found["misses_separable"] == ["b"]
    assert found["fnr_separable"] == pytest.approx(1 / 3) and not found["fnr_separable_met"]
    assert found["fnr_total"] == pytest.approx(2 / 4) and found["fpr_held_out_met"]
    types = type_agreement(records)
    assert types["agreement"] == pytest.approx(0.5)
    assert types["by_family"]["smoothing"]["types"] == {"tail_loss": 1}
