"""Scale-out configs: parallel jobs one device each (joblib), SLURM (submitit), tier subsets,
and the model family a cascade picks for the data."""

from __future__ import annotations

import json
import multiprocessing as mp
import time

import pytest

from synthos.cascade.device_slots import claim_device_slot
from synthos.cascade.job import configure_job
from synthos.cascade.plan import CascadeJob, cascade_job_list
from synthos.errors import SynthosError
from tests.cascade.test_cascade_sweep import run_cascade
from tests.conftest import compose_train


def _compose(tmp_path, data_dir, *overrides):
    return compose_train(list(overrides), tmp_path, data_dir)


def test_joblib_launcher_runs_tiers_1_and_2_one_device_each(tmp_path, data_dir):
    cfg = _compose(
        tmp_path, data_dir, "+cascade=full", "+launcher=joblib", "cascade.parallel_jobs=4"
    )
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == 4 and cfg.cascade.device_slots == 4
    jobs = str(cfg.hydra.sweeper.params["cascade.job"]).split(",")
    assert len(jobs) == 15 and {CascadeJob.parse(j).tier for j in jobs} == {1, 2}
    for name in ("t1v3", "t2v4"):
        job = configure_job(cfg, CascadeJob.parse(name))
        assert job.trainer.devices == 1 and job.trainer.strategy == "auto"


@pytest.mark.parametrize("devices", [1, 4, 8])
def test_slurm_tasks_per_node_equal_the_jobs_devices(tmp_path, data_dir, devices):
    cfg = _compose(
        tmp_path,
        data_dir,
        "+cascade=full",
        "+launcher=slurm",
        "cascade.run_tiers=[3]",
        f"cascade.devices_per_job={devices}",
    )
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert str(cfg.hydra.sweeper.params["cascade.job"]) == "t3v0,t3v1,t3v2"
    job = configure_job(cfg, CascadeJob(3, 1))
    assert cfg.hydra.launcher.tasks_per_node == job.trainer.devices == devices
    assert cfg.hydra.launcher.gpus_per_node == devices
    assert job.trainer.strategy == ("ddp" if devices > 1 else "auto")


def test_without_a_launcher_tier3_keeps_its_own_ddp_settings(tmp_path, data_dir):
    cfg = _compose(tmp_path, data_dir, "+cascade=full")
    job = configure_job(cfg, CascadeJob(3, 0))
    assert job.trainer.strategy == "ddp_spawn" and job.trainer.devices == -1


def test_run_tiers_rejects_a_tier_the_plan_lacks():
    tiers = [{"variants": 2}, {"variants": 1}]
    assert cascade_job_list(tiers, [2]) == "t2v0"
    with pytest.raises(SynthosError, match=r"tiers \[3\]"):
        cascade_job_list(tiers, [1, 3])


@pytest.mark.parametrize(
    ("data", "family", "net"),
    [
        ("series_sample", "ten", "TemporalEigenstateNetwork"),
        ("text_sample", "resonance", "ResonanceNN"),
        ("tabular_pair", "resonance", "ResonanceNN"),
    ],
)
def test_cascade_family_defaults_to_ten_for_series(tmp_path, data_dir, data, family, net):
    cfg = _compose(tmp_path, data_dir, "+cascade=quick", f"data={data}")
    assert cfg.cascade.family == family
    assert configure_job(cfg, CascadeJob(1, 0)).model.net._target_.endswith(net)


def test_family_switch_changes_models_and_validation_id(tmp_path, data_dir):
    default = _compose(tmp_path, data_dir, "+cascade=quick")
    ten = _compose(tmp_path, data_dir, "+cascade=quick", "cascade.family=ten")
    assert configure_job(ten, CascadeJob(2, 0)).model.net._target_.endswith(
        "TemporalEigenstateNetwork"
    )
    assert ten.cascade.validation_id != default.cascade.validation_id


def _hold_slot(sweep_dir, n_slots, hold_s, out):
    with claim_device_slot(sweep_dir, n_slots, poll_s=0.05) as slot:
        start = time.time()
        time.sleep(hold_s)
        out.put((slot, start, time.time()))


def _run_holders(tmp_path, n_procs, n_slots, hold_s=0.6):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_hold_slot, args=(tmp_path, n_slots, hold_s, out))
        for _ in range(n_procs)
    ]
    for p in procs:
        p.start()
    spans = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return spans


def _overlap(a, b):
    return a[1] < b[2] and b[1] < a[2]


def test_jobs_never_share_a_device_slot(tmp_path):
    spans = _run_holders(tmp_path, n_procs=4, n_slots=2)
    assert {s[0] for s in spans} <= {0, 1}
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            if a[0] == b[0]:
                assert not _overlap(a, b), (a, b)
    # Two slots: some jobs ran at the same time on different slots.
    assert any(_overlap(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :])


def test_a_killed_job_releases_its_slot(tmp_path):
    ctx = mp.get_context("spawn")
    holder = ctx.Process(target=_hold_slot, args=(tmp_path, 1, 60.0, ctx.Queue()))
    holder.start()
    deadline = time.time() + 30
    lock = tmp_path / ".device_slots" / "0"
    while time.time() < deadline and not (lock.is_file() and lock.read_text()):
        time.sleep(0.05)
    holder.kill()
    holder.join()
    with claim_device_slot(tmp_path, 1, poll_s=0.05) as slot:
        assert slot == 0


@pytest.mark.slow
def test_joblib_launcher_runs_smoke_jobs_in_parallel(tmp_path, data_dir):
    proc = run_cascade(tmp_path, data_dir, "+launcher=joblib", "cascade.parallel_jobs=2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    sweep = tmp_path / "cascade" / "test"
    records = {
        name: json.loads((sweep / name / "metrics.json").read_text())
        for name in ("t1v0", "t1v1", "t2v0", "t2v1")
    }
    assert all(r["status"] == "completed" for r in records.values()), records
    assert {r["device_slot"] for r in records.values()} <= {0, 1}
    assert not (sweep / "t3v0").exists()  # tier 3 is left for a DDP launch
    results = json.loads((sweep / "cascade_results.json").read_text())
    assert results["models_completed"] == 4 and results["models_total"] == 5
