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
