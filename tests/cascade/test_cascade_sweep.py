"""The cascade as users run it: `python train.py +cascade=smoke` in a subprocess."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthos.cascade.aggregate import aggregate_sweep, collect_jobs
from synthos.cascade.plan import CascadeJob, cascade_job_list, job_names
from synthos.errors import SynthosError
from tests.conftest import ROOT

SMOKE_JOBS = ["t1v0", "t1v1", "t2v0", "t2v1", "t3v0"]


def cascade_command(log_dir: Path, data_dir: Path, *overrides: str) -> list[str]:
    return [
        sys.executable,
        "train.py",
        "+cascade=smoke",
        "trainer=cpu",
        "logger=csv",
        f"paths.log_dir={log_dir}",
        f"paths.data_dir={data_dir}",
        "cascade.validation_id=test",
        "data.seq_len=64",
        "data.vocab_size=512",
        *overrides,
    ]


def run_cascade(log_dir: Path, data_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(
        cascade_command(log_dir, data_dir, *overrides),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_job_names_follow_the_plan():
    assert job_names([2, 2, 1]) == SMOKE_JOBS
    assert cascade_job_list([{"variants": 10}, {"variants": 5}, {"variants": 3}]).count(",") == 17
    assert CascadeJob.parse("t3v2") == CascadeJob(3, 2)
    with pytest.raises(SynthosError, match="t<tier>v<variant>"):
        CascadeJob.parse("tier3")


def test_smoke_cascade_aggregates_and_marks_a_failed_job(tmp_path, data_dir):
    sweep = tmp_path / "cascade" / "test"
    # A corrupt checkpoint makes t1v1 fail when it tries to resume; the rest must not care.
    broken = sweep / "t1v1" / "checkpoints" / "last.ckpt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")

    proc = run_cascade(tmp_path, data_dir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "report:" in proc.stdout
    # The terminal shows the board's lines and the final screen; libraries' output is logged.
    assert "✗ t1v1  tier 1" in proc.stdout and "✓ t3v0  tier 3" in proc.stdout
    assert "GPU available" not in proc.stdout + proc.stderr
    assert "GPU available" in (sweep / "cascade.log").read_text()
    assert f"html:     {sweep / 'report.html'}" in proc.stdout
    assert (sweep / "report.md").is_file()

    for name in SMOKE_JOBS:
        metrics = json.loads((sweep / name / "metrics.json").read_text())
        assert metrics["job"] == name
        assert metrics["status"] == ("failed" if name == "t1v1" else "completed"), metrics
    results = json.loads((sweep / "cascade_results.json").read_text())
    assert results["models_total"] == 5 and results["models_failed"] == 1
    failed = [j for j in results["jobs"] if j["status"] != "completed"]
    assert [j["job"] for j in failed] == ["t1v1"] and failed[0]["error"]["message"]

    report = json.loads((sweep / "report.json").read_text())
    prediction = report["prediction"]
    assert prediction["metric"] == "test/loss" and report["prediction_unavailable"] is None
    for key in ("predicted", "lower", "upper", "level"):
        assert math.isfinite(prediction[key])
    assert prediction["lower"] <= prediction["predicted"] <= prediction["upper"]
    # The law over (size, tokens) of every job's budget points, for a size and a budget.
    assert prediction["target_tokens"] == 20 * prediction["target_params"]
    assert prediction["law"]["form"] == "L = E + A / N^alpha + B / D^beta"
    assert isinstance(prediction["degenerate"], bool)
    points = results["points"]
    assert {p["job"] for p in points} == {"t1v0", "t2v0", "t2v1", "t3v0"}
    assert len({p["tokens"] for p in points}) >= 3 and len({p["params"] for p in points}) == 3
    assert (sweep / "scaling_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Collapse detection ran on the cascade's dataset with its results.
    dims = {d["name"]: d for d in report["dimensions"]}
    assert len(dims) == 8 and report["dataset"]["modality"] == "text"
    assert dims["training_stability"]["evaluated"], dims["training_stability"]
    assert not dims["distribution_fidelity"]["evaluated"]  # no reference was given
    assert isinstance(report["collapse_detected"], bool) and "verdict" in proc.stdout

    lines = [json.loads(line) for line in (sweep / "progress.jsonl").read_text().splitlines()]
    ends = [r for r in lines if r["event"] in ("model_finished", "model_failed")]
    assert len(ends) >= 4
    assert lines[-1]["progress_percent"] == pytest.approx(100.0)

    # The standalone aggregation over the same directory agrees.
    again = aggregate_sweep(sweep, detect=False)
    assert again["prediction"]["predicted"] == pytest.approx(prediction["predicted"])
    cli = subprocess.run(
        [sys.executable, "-m", "synthos.cli", "aggregate", str(sweep), "--no-detect"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    assert "4/5 models finished" in cli.stdout and "report.json" in cli.stdout


def test_a_cascade_whose_jobs_all_fail_has_no_prediction_and_says_why(tmp_path, data_dir):
    proc = run_cascade(tmp_path, data_dir, f"data.path={tmp_path / 'missing.jsonl'}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    sweep = tmp_path / "cascade" / "test"
    report = json.loads((sweep / "report.json").read_text())
    assert report["prediction"] is None
    assert "no finished job" in report["prediction_unavailable"]
    assert "no prediction (no finished job" in proc.stdout


def test_aggregate_command_on_a_missing_directory_is_one_clear_line(tmp_path):
    cli = subprocess.run(
        [sys.executable, "-m", "synthos.cli", "aggregate", str(tmp_path / "nope")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 1
    assert "1001" in cli.stderr and "nope" in cli.stderr and "Traceback" not in cli.stderr


@pytest.mark.slow
def test_interrupted_cascade_resumes_and_skips_finished_jobs(tmp_path, data_dir):
    sweep = tmp_path / "cascade" / "test"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    slow = ["cascade.tiers.2.trainer.max_steps=200", "cascade.tiers.2.trainer.val_check_interval=5"]
    proc = subprocess.Popen(
        cascade_command(tmp_path, data_dir, *slow),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    last = sweep / "t3v0" / "checkpoints" / "last.ckpt"
    while time.time() < deadline and not last.is_file():
        time.sleep(0.5)
    time.sleep(1.0)  # let the checkpoint write finish
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last.is_file(), "the last job never reached its first checkpoint"
    finished = {n: (sweep / n / "metrics.json").stat().st_mtime for n in SMOKE_JOBS[:4]}
    assert json.loads((sweep / "t3v0" / "metrics.json").read_text())["status"] == "running"

    rerun = run_cascade(tmp_path, data_dir, *slow)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    for name, mtime in finished.items():
        assert (sweep / name / "metrics.json").stat().st_mtime == mtime, f"{name} was retrained"
    # The jobs' own log lines are in the sweep's cascade.log (the terminal shows the board).
    log = (sweep / "cascade.log").read_text()
    assert log.count("already finished; skipping") == 4
    assert "Resuming from" in log and "t3v0" in log
    jobs = {j["job"]: j for j in collect_jobs(sweep)}
    assert all(j["status"] == "completed" for j in jobs.values())
    assert jobs["t3v0"]["global_step"] == 200


@pytest.mark.slow
def test_tier_trains_with_ddp_over_two_processes_inside_the_sweep(tmp_path, data_dir):
    """Tier 3 with Lightning DDP (2 CPU processes, gloo) inside the Hydra sweep: ddp_spawn
    starts workers that never re-run the command line, so no child starts a sweep."""
    proc = run_cascade(
        tmp_path,
        data_dir,
        "cascade.job=t3v0",
        "+cascade.tiers.2.trainer.strategy=ddp_spawn",
        "+cascade.tiers.2.trainer.devices=2",
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    sweep = tmp_path / "cascade" / "test"
    metrics = json.loads((sweep / "t3v0" / "metrics.json").read_text())
    assert metrics["status"] == "completed", metrics.get("error")
    assert math.isfinite(metrics["metrics"]["test/loss"])
    # Only the one job ran, and only one sweep was started.
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["t3v0"]
    assert proc.stdout.count("Cascade test:") == 1
