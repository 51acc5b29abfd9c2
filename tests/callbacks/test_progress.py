import asyncio
import itertools
import json
import pickle
import subprocess
import sys
import threading
import types
from datetime import datetime
from pathlib import Path

import pytest

from synthos.callbacks import (
    CascadeProgress,
    GradientStats,
    ProgressBus,
    ProgressStream,
    RunHealthMonitor,
    SpectralMetrics,
    read_jsonl,
)
from synthos.callbacks import jsonl as jsonl_module
from synthos.callbacks.gpu import GpuMonitor
from synthos.callbacks.loss_curve import LossCurve, convergence_step
from synthos.errors import ErrorCode, ModelError
from tests.callbacks.micro import FAMILIES, NaNAfterLM, SlowLM, lm, loaders, trainer

RESULT_FIELDS = {
    "tier",
    "variant",
    "parameters",
    "train_loss",
    "val_loss",
    "seconds",
    "convergence_step",
    "loss_curve",
    "gradients",
    "spectral",
    "run_health",
}


def when(record: dict) -> float:
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def slow_job(tmp_path, stream: ProgressStream, steps: int = 60, extra=(), **slow) -> None:
    module = lm(FAMILIES["resonance"](), cls=SlowLM)
    for key, value in slow.items():
        setattr(module, key, value)
    run = trainer([stream, *extra], tmp_path, max_steps=steps)
    run.fit(module, *loaders("pattern", n_train=steps * 16))


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ProgressStream")]


def test_progress_records_jsonl_interval_and_final_result(tmp_path):
    path = tmp_path / "sweep" / "progress.jsonl"
    bus = ProgressBus()
    subscription = bus.subscribe()
    stream = ProgressStream(
        "val-1",
        tier=1,
        variant=3,
        models_total=1,
        sweep_dir=str(path.parent),
        interval_s=0.5,
        bus=bus,
    )
    extra = [SpectralMetrics(), GradientStats(), RunHealthMonitor()]
    slow_job(tmp_path, stream, extra=extra, sleep_s=0.04)  # ~3 s of training
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one valid JSON object
    assert len(records) >= 5

    # At least every interval_s while training (slack for a loaded machine).
    times = [when(r) for r in records]
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.5 + 0.4
    assert [r["event"] for r in records[:-1]] == ["progress"] * (len(records) - 1)
    percents = [r["progress_percent"] for r in records]
    assert percents == sorted(percents) and 0 <= percents[0] < 100

    last = records[-1]
    assert last["event"] == "model_finished" and last["progress_percent"] == 100.0
    assert last["models_completed"] == 1 and last["models_total"] == 1
    assert (last["validation_id"], last["tier"], last["variant"]) == ("val-1", 1, 3)
    assert last["gpu_utilization"] == []  # no NVML here
    assert datetime.fromisoformat(last["estimated_completion"]).tzinfo is not None
    result = last["result"]
    assert set(result) >= RESULT_FIELDS
    assert result["status"] == "completed" and result["parameters"] > 0
    assert result["val_loss"] < 1.0 and result["train_loss"] < 1.0
    assert 0 < result["convergence_step"] < 60
    curve = result["loss_curve"]
    assert 10 <= len(curve) <= 100 and curve[0][1] > curve[-1][1]
    assert result["gradients"]["steps_checked"] == 60
    assert "effective_rank/last" in result["spectral"]
    assert result["run_health"]["collapsed"] is False
    assert all(r["current_loss"] is None or r["current_loss"] > 0 for r in records)

    # The subscription received the very same records.
    published = []
    while True:
        try:
            published.append(subscription.get(timeout=0))
        except TimeoutError:
            break
    assert all(isinstance(r, CascadeProgress) for r in published)
    assert [r.to_dict() for r in published] == records
    assert stream_threads() == []


def test_async_subscription_follows_a_job_in_another_thread(tmp_path):
    bus = ProgressBus()
    stream = ProgressStream("v", 1, 0, models_total=1, interval_s=0.3, bus=bus)

    async def follow() -> list[dict]:
        subscription = bus.subscribe()
        job = asyncio.create_task(asyncio.to_thread(slow_job, tmp_path, stream, 30, sleep_s=0.03))
        received = []
        async for record in subscription:
            received.append(record.to_dict())
            if record.event == "model_finished":
                break
        await job
        return received

    received = asyncio.run(follow())
    assert len(received) >= 3
    assert received[-1]["progress_percent"] == 100.0 and received[-1]["result"]["global_step"] == 30


def test_models_are_counted_across_jobs_from_the_jsonl(tmp_path):
    path = tmp_path / "progress.jsonl"

    def job(variant: int) -> list[dict]:
        stream = ProgressStream("v", 1, variant, models_total=2, jsonl_path=str(path))
        slow_job(tmp_path, stream, 20, sleep_s=0.0)
        return [r for r in read_jsonl(path) if r["variant"] == variant]

    first = job(0)
    assert first[-1]["models_completed"] == 1 and first[-1]["progress_percent"] == 50.0
    # The remaining model is estimated from the finished one's duration.
    assert first[-1]["estimated_completion"] is not None
    second = job(1)
    assert second[0]["models_completed"] == 1 and second[0]["progress_percent"] == 50.0
    assert second[0]["estimated_completion"] is not None
    assert second[-1]["models_completed"] == 2 and second[-1]["progress_percent"] == 100.0
    # Re-running a finished job does not count it twice.
    again = job(1)
    assert again[-1]["models_completed"] == 2


def test_failed_model_is_recorded_and_counted(tmp_path):
    path = tmp_path / "progress.jsonl"
    stream = ProgressStream("v", 2, 0, models_total=3, jsonl_path=str(path), interval_s=0.2)
    monitor = RunHealthMonitor()
    run = trainer([stream, monitor], tmp_path, max_steps=20)
    with pytest.raises(ModelError):
        run.fit(lm(FAMILIES["resonance"](), cls=NaNAfterLM), *loaders("pattern", n_train=320))
    last = read_jsonl(path)[-1]
    assert last["event"] == "model_failed" and last["models_completed"] == 1
    assert last["result"]["status"] == "failed"
    assert last["result"]["error"]["code"] == int(ErrorCode.MODEL_DIVERGED)
    # The collapse verdict is current even though the monitor comes after the stream.
    assert last["result"]["run_health"]["reasons"] == ["non_finite"]
    assert stream_threads() == []


# Loads jsonl.py alone (standard library only) so the processes start fast.
APPENDER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("jsonl", sys.argv[3])
jsonl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jsonl)
path, tag = sys.argv[1], sys.argv[2]
for i in range(300):
    jsonl.append_jsonl(path, {"tag": tag, "i": i, "pad": tag * 9000})
"""


def test_concurrent_appends_from_processes_never_interleave(tmp_path):
    path = tmp_path / "progress.jsonl"
    module = Path(jsonl_module.__file__)
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(path), tag, str(module)])
        for tag in "ab"
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 601
    records = [json.loads(line) for line in lines[:-1]]  # 18 KB lines, each intact
    for tag in "ab":
        assert [r["i"] for r in records if r["tag"] == tag] == list(range(300))


def test_gpu_utilisation_from_nvml_when_present(monkeypatch):
    assert GpuMonitor().sample() == []  # no pynvml installed here: empty, no error

    fake = types.ModuleType("pynvml")
    fake.nvmlInit = lambda: None
    fake.nvmlShutdown = lambda: None
    fake.nvmlDeviceGetCount = lambda: 2
    fake.nvmlDeviceGetHandleByIndex = lambda i: i
    fake.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=40 + h)
    fake.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=(h + 1) * 2**30)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert GpuMonitor().sample() == [
        {"index": 1, "utilization_percent": 41.0, "memory_used_mb": 2048.0}
    ]

    def broken():
        raise RuntimeError("NVML Shared Library Not Found")

    fake.nvmlInit = broken
    assert GpuMonitor().sample() == []


def test_stream_pickles_for_spawned_workers():
    stream = ProgressStream("v", 1, 0, models_total=2, interval_s=1.0, bus=ProgressBus())
    copy = pickle.loads(pickle.dumps(stream))
    assert (copy.validation_id, copy.models_total, copy.interval_s) == ("v", 2, 1.0)
    assert copy.bus is None and copy._thread is None


def test_loss_curve_is_bounded_and_convergence_step():
    curve = LossCurve(capacity=64)
    for step in range(10_000):
        curve.add(step, 5.0 * 0.999**step + 1.0)
    points = curve.points()
    assert len(points) <= 64 and points[0][0] < 200 and points[-1][0] > 9_800
    # 95 % of the improvement is made when 5 * 0.999^s < 0.05 * 5 (s ~ 3000), plus lag.
    assert 2_500 < convergence_step(points) < 4_000
    assert convergence_step([(0, 1.0), (1, 1.0)]) == 0
    assert convergence_step([]) is None


@pytest.mark.slow
def test_records_at_least_every_10_s_during_a_long_job(tmp_path):
    """A > 30 s job with one 15 s step: the timer keeps reporting through it."""
    path = tmp_path / "progress.jsonl"
    stream = ProgressStream("v", 1, 0, models_total=1, jsonl_path=str(path))  # 10 s default
    slow_job(tmp_path, stream, 40, sleep_s=0.5, long_at=20, long_s=15.0)
    records = read_jsonl(path)
    times = [when(r) for r in records]
    assert times[-1] - times[0] > 30
    assert max(b - a for a, b in itertools.pairwise(times)) <= 10.5
    # One record arrived while step 20 was still running.
    assert any(r["step"] == 20 and r["event"] == "progress" for r in records)
    assert records[-1]["event"] == "model_finished" and records[-1]["progress_percent"] == 100


def test_failure_outside_the_trainer_is_reported(tmp_path):
    path = tmp_path / "progress.jsonl"
    stream = ProgressStream("v", 1, 4, models_total=2, jsonl_path=str(path))
    stream.report_failure(ModelError("bad preset", code=ErrorCode.MODEL_CONFIG), seconds=1.5)
    (record,) = read_jsonl(path)
    assert record["event"] == "model_failed" and record["models_completed"] == 1
    assert record["progress_percent"] == 50.0
    assert record["result"]["error"]["code"] == int(ErrorCode.MODEL_CONFIG)
