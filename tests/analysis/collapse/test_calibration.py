"""The calibration procedure and `synthos calibrate` on hand-made score records: per-modality
thresholds from each modality's own clean controls, the general one where a modality has too
few; held-out seeds never set a threshold."""

from __future__ import annotations

import json

import pytest

from synthos.analysis.collapse import calibration as cal
from synthos.analysis.collapse.config import DIMENSIONS, CollapseConfig
from synthos.cli import main

DIMS = ("memorization", "entropy_stability")
EVEN = frozenset(range(0, 30, 2))


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
    general = {
        d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), EVEN)
    }
    own = cal.by_modality(records, DIMS, general, EVEN)
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
    general = {
        d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), EVEN)
    }
    text = {d.name: d for d in cal.by_modality(records, DIMS, general, EVEN)["text"]}
    assert not text["entropy_stability"].calibrated
    assert text["entropy_stability"].threshold == general["entropy_stability"]


def test_a_modality_all_at_the_ceiling_keeps_the_general_threshold():
    """Every series control at 100 locates no tail: the series would get 95 from the
    margin alone; the pooled controls, which do spread, set it instead."""
    records = _controls("tabular", 12, 70.0) + _controls("time_series", 12, 100.0)
    general = {
        d.name: d.threshold for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), EVEN)
    }
    series = {d.name: d for d in cal.by_modality(records, DIMS, general, EVEN)["time_series"]}
    assert not series["entropy_stability"].calibrated
    assert series["entropy_stability"].threshold == general["entropy_stability"] < 70.0
    assert series["entropy_stability"].quantile == 100.0


def test_held_out_controls_never_set_a_threshold():
    records = _controls("tabular", 12, 95.0)
    records.append(_record("tabular", 1, entropy_stability=10.0, memorization=100.0))  # odd seed
    dims = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), EVEN)}
    assert dims["entropy_stability"].controls == 12
    check = cal.check(records, ({d: dims[d].threshold for d in DIMS}, {}), {1})
    assert check["fpr"] == 1.0 and check["false_alarms"] == ["tabular/clean/s1"]


def test_every_seed_calibrates_when_asked():
    """Real-table controls carry split seeds 0, 1, 2: all of them calibrate, odd ones too."""
    records = [_record("tabular", s, memorization=100.0, entropy_stability=80.0) for s in range(12)]
    records += [_record("tabular", s, memorization=100.0, entropy_stability=20.0) for s in (7, 9)]
    records *= 2
    even = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), EVEN)}
    every = {d.name: d for d in cal.calibrate(records, DIMS, dict.fromkeys(DIMS, 0), None)}
    assert even["entropy_stability"].controls == 12
    assert every["entropy_stability"].controls == 28
    assert every["entropy_stability"].threshold < even["entropy_stability"].threshold


def _results_file(tmp_path, records) -> str:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"cases": records}))
    return str(path)


def test_the_command_writes_thresholds_the_detector_reads(tmp_path, capsys):
    scores = {name: 100.0 for name in DIMENSIONS}
    records = [
        _record("tabular", 2 * i, **{**scores, "entropy_stability": 95.0}) for i in range(12)
    ]
    records.append(_record("tabular", 3, "mean_shift", **{**scores, "entropy_stability": 50.0}))
    out = tmp_path / "thresholds.json"
    assert main(["calibrate", _results_file(tmp_path, records), "--out", str(out)]) == 0
    config = CollapseConfig.from_thresholds_file(out)
    # the 12 identical controls: their quantile, 95, minus the 5-point margin
    assert config.threshold("entropy_stability", "tabular") == pytest.approx(90.0)
    record = json.loads(out.read_text())["calibration"]
    assert record["check_held_out"]["defects"] == 1 and record["check_held_out"]["misses"] == 0
    assert "check_held_out: fpr None, fnr 0.0" in capsys.readouterr().out


def test_the_command_names_a_bad_results_file(tmp_path, capsys):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"cases": [{"case_id": "x", "seed": 0}]}))
    assert main(["calibrate", str(bad), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "1001" not in err and "DATA_FORMAT" in err and "case 'x' has no" in err
    assert main(["calibrate", str(tmp_path / "missing.json")]) == 1
    assert "DATA_NOT_FOUND" in capsys.readouterr().err
