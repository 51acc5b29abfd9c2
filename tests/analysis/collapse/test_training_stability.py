"""training_stability reads the cascade's results: healthy jobs pass, sick ones fail."""

from __future__ import annotations

import json

import pytest

from synthos.analysis.collapse import detect_collapse, score_dimension
from synthos.analysis.collapse.cascade import load_cascade
from synthos.errors import DataError

CURVE = [[s, 3.0 * 0.97**s + 0.5] for s in range(0, 100, 5)]


def _job(name: str, **extra) -> dict:
    tier, variant = name[1], name[3]
    return {
        "job": name,
        "tier": int(tier),
        "variant": int(variant),
        "status": "completed",
        "metrics": {"test/loss": 1.0},
        **extra,
    }


def test_healthy_cascade_passes(table_pair):
    cascade = {"jobs": [_job(f"t1v{i}", loss_curve=CURVE) for i in range(4)]}
    dim = score_dimension("training_stability", table_pair[0], cascade=cascade)
    assert dim.evaluated and dim.passed and dim.score == 100.0
    assert dim.evidence["jobs_judged"] == 4


def test_collapsed_and_diverged_jobs_fail(table_pair):
    rising = [[s, 0.5 + 0.05 * s] for s in range(0, 100, 5)]
    jobs = [
        _job("t1v0", run_health={"collapsed": True, "reasons": ["rank_collapse"]}),
        _job("t1v1", loss_curve=rising),
        _job("t1v2", gradients={"steps_checked": 10, "exploding_steps": 3}),
        {"job": "t1v3", "status": "failed", "error": {"code": 2001, "name": "MODEL_DIVERGED"}},
        {"job": "t1v4", "status": "failed", "error": {"code": 3001, "name": "OUT_OF_MEMORY"}},
    ]
    dim = score_dimension("training_stability", table_pair[0], cascade={"jobs": jobs})
    assert dim.passed is False
    counts = dim.evidence["issue_counts"]
    assert counts["collapse_rank_collapse"] == 1 and counts["failed_model_diverged"] == 1
    assert counts["loss_diverged"] == 1 and counts["exploding_gradients"] == 1
    assert dim.evidence["jobs_not_judged"] == {"t1v4": "failed"}  # not the data's fault


def test_cascade_without_a_judged_job_is_not_evaluated(table_pair):
    cascade = {"jobs": [{"job": "t1v0", "status": "missing"}]}
    dim = score_dimension("training_stability", table_pair[0], cascade=cascade)
    assert not dim.evaluated and dim.passed is None


def test_sweep_directory_merges_job_files(tmp_path, table_pair):
    sweep = tmp_path / "sweep"
    (sweep / "t1v0").mkdir(parents=True)
    (sweep / "cascade_results.json").write_text(json.dumps({"jobs": [_job("t1v0"), _job("t1v1")]}))
    verdict = {"collapsed": True, "reasons": ["divergence"], "step": 40}
    (sweep / "t1v0" / "metrics.json").write_text(json.dumps({"run_health": verdict}))
    progress = {"event": "model_finished", "result": {"tier": 1, "variant": 1, "loss_curve": CURVE}}
    (sweep / "progress.jsonl").write_text(json.dumps(progress) + "\n{torn line")
    loaded = load_cascade(sweep)
    assert loaded["jobs"][0]["run_health"]["reasons"] == ["divergence"]
    assert loaded["jobs"][1]["loss_curve"] == CURVE
    result = detect_collapse(table_pair[0], cascade=sweep)
    dim = result.dimension("training_stability")
    assert dim.passed is False and dim.score == 50.0
    assert result.collapse_type == "training_instability"


def test_missing_results_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"cascade_results\.json"):
        load_cascade(tmp_path)
