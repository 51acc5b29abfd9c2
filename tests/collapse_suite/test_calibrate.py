"""The calibration procedure on hand-made score records: per-modality thresholds from each
modality's own clean controls, the general one where a modality has too few."""

from __future__ import annotations

import pytest

from benchmarks.collapse_suite import calibrate as cal

DIMS = ("memorization", "entropy_stability")


def _record(modality: str, seed: int, family: str = "clean", **scores: float) -> dict:
    return {
        "case_id": f"{modality}/{family}/s{seed}",
        "modality": modality,
        "family": family,
        "seed": seed,
        "synthos": {"error": None, "scores": scores},
    }


def _controls(modality: str, count: int, entropy: float) -> list[dict]:
    """`count` calibration controls (even seeds) with a fixed entropy score."""
    return [
        _record(modality, 2 * i, memorization=100.0, entropy_stability=entropy)
        for i in range(count)
    ]


def test_each_modality_gets_thresholds_from_its_own_controls():
    records = _controls("tabular", 12, 95.0) + _controls("time_series", 12, 50.0)
    general = {d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0))}
    own = cal.by_modality(records, DIMS, general)
    tabular = {d.name: d for d in own["tabular"]}
    series = {d.name: d for d in own["time_series"]}
    # quantile minus 5 points (no spread): the noisy series sets the general threshold only
    assert tabular["entropy_stability"].threshold == pytest.approx(90.0)
    assert series["entropy_stability"].threshold == pytest.approx(45.0)
    assert general["entropy_stability"] < 50.0
    # a series score of 60 passes its own threshold; a table scoring 60 fails its own
    thresholds = (general, {m: {d.name: d.threshold for d in v} for m, v in own.items()})
    assert not cal.verdict(_record("time_series", 1, entropy_stability=60.0), thresholds)
    assert cal.verdict(_record("tabular", 1, entropy_stability=60.0), thresholds)


def test_too_few_controls_keep_the_general_threshold():
    records = _controls("tabular", 12, 95.0) + _controls("text", 4, 70.0)
    general = {d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0))}
    text = {d.name: d for d in cal.by_modality(records, DIMS, general)["text"]}
    assert not text["entropy_stability"].calibrated
    assert text["entropy_stability"].threshold == general["entropy_stability"]


def test_a_modality_all_at_the_ceiling_keeps_the_general_threshold():
    """Every series control at 100 locates no tail: the series would get 95 from the
    margin alone; the pooled controls, which do spread, set it instead."""
    records = _controls("tabular", 12, 70.0) + _controls("time_series", 12, 100.0)
    general = {d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0))}
    series = {d.name: d for d in cal.by_modality(records, DIMS, general)["time_series"]}
    assert not series["entropy_stability"].calibrated
    assert series["entropy_stability"].threshold == general["entropy_stability"] < 70.0
    assert series["entropy_stability"].quantile == 100.0


def test_held_out_controls_never_set_a_threshold():
    records = _controls("tabular", 12, 95.0)
    records.append(_record("tabular", 1, entropy_stability=10.0, memorization=100.0))  # odd seed
    dims = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0))}
    assert dims["entropy_stability"].controls == 12
    check = cal.check(records, ({d: dims[d].threshold for d in DIMS}, {}), {1})
    assert check["fpr"] == 1.0 and check["false_alarms"] == ["tabular/clean/s1"]


def test_every_seed_calibrates_when_asked():
    """Real-table controls carry split seeds 0, 1, 2: all of them calibrate, odd ones too."""
    records = [_record("tabular", s, memorization=100.0, entropy_stability=80.0) for s in range(12)]
    records += [_record("tabular", s, memorization=100.0, entropy_stability=20.0) for s in (7, 9)]
    records *= 2
    even = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0))}
    every = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), seeds=None)}
    assert even["entropy_stability"].controls == 12
    assert every["entropy_stability"].controls == 28
    assert every["entropy_stability"].threshold < even["entropy_stability"].threshold


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
