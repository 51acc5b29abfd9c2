"""A job's mean GPU utilisation: null with its reason off GPUs (never a number), the NVML
reasons, the averaging, and CUDA-to-NVML device matching."""

import json
import sys
import threading
import time
import types

import pytest

from synthos.callbacks import ProgressStream, read_jsonl
from synthos.callbacks.gpu import GpuMonitor, UtilizationMeter
from synthos.training import run_training
from tests.callbacks.micro import FAMILIES, lm, loaders, trainer


def meter_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "GpuUtilizationMeter"]


def test_cpu_job_records_null_utilisation_with_the_reason(tmp_path):
    path = tmp_path / "progress.jsonl"
    stream = ProgressStream("v", 1, 0, models_total=1, jsonl_path=str(path))
    run = trainer([stream], tmp_path, max_steps=5, val_check_interval=5)
    run.fit(lm(FAMILIES["resonance"]()), *loaders("pattern", n_train=80))
    last = read_jsonl(path)[-1]
    assert last["event"] == "model_finished"
    utilization = last["result"]["gpu_utilization"]
    assert utilization["mean_percent"] is None and utilization["samples"] == 0
    assert utilization["reason"] == "no GPU: the job trains on cpu"
    assert stream.gpu_utilization == utilization
    assert meter_threads() == []


def test_cascade_job_metrics_carry_the_utilisation(make_cfg, tmp_path):
    cfg = make_cfg(
        "data.vocab_size=300",
        "data.seq_len=32",
        "data.batch_size=4",
        "trainer.max_steps=3",
        "trainer.max_epochs=-1",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.num_sanity_val_steps=0",
        "+callbacks.progress._target_=synthos.callbacks.ProgressStream",
        f"+callbacks.progress.jsonl_path={tmp_path / 'progress.jsonl'}",
    )
    result = run_training(cfg)
    assert result["status"] == "completed", result
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["gpu_utilization"]["mean_percent"] is None
    assert saved["gpu_utilization"]["reason"] == "no GPU: the job trains on cpu"


def fake_nvml(utilization: dict[int, list[float]], pci: dict[int, tuple[int, int, int]]):
    """An NVML module over GPUs whose utilisation cycles through the given values."""
    calls = dict.fromkeys(utilization, 0)
    module = types.ModuleType("pynvml")
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlDeviceGetCount = lambda: len(utilization)
    module.nvmlDeviceGetHandleByIndex = lambda i: i

    def rates(handle):
        values = utilization[handle]
        calls[handle] += 1
        return types.SimpleNamespace(gpu=values[(calls[handle] - 1) % len(values)])

    module.nvmlDeviceGetUtilizationRates = rates
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=2**30)
    module.nvmlDeviceGetPciInfo = lambda h: types.SimpleNamespace(
        domain=pci[h][0], bus=pci[h][1], device=pci[h][2]
    )
    return module


def test_monitor_says_why_nvml_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails: not installed
    monitor = GpuMonitor()
    assert monitor.sample() == [] and not monitor.available()
    assert monitor.unavailable_reason == "no NVML: nvidia-ml-py (pynvml) is not installed"

    broken = fake_nvml({0: [50.0]}, {0: (0, 1, 0)})

    def no_driver():
        raise RuntimeError("NVML Shared Library Not Found")

    broken.nvmlInit = no_driver
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    monitor = GpuMonitor()
    assert not monitor.available()
    assert monitor.unavailable_reason == (
        "no NVML: it did not start (NVML Shared Library Not Found)"
    )
    meter = UtilizationMeter(monitor)
    meter.start([])
    summary = meter.stop()
    assert summary.mean_percent is None and summary.reason == monitor.unavailable_reason

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml({}, {}))
    monitor = GpuMonitor()
    assert not monitor.available()
    assert monitor.unavailable_reason == "no GPU: NVML sees none visible to this process"


def test_meter_averages_the_chosen_gpus_over_the_run(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = fake_nvml({0: [10.0], 1: [60.0, 100.0], 2: [90.0]}, {i: (0, i, 0) for i in range(3)})
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    meter = UtilizationMeter(GpuMonitor(), period_s=0.01)
    meter.start([1, 2])
    assert meter_threads()
    time.sleep(0.3)
    summary = meter.stop()
    assert meter_threads() == []
    devices = {d["index"]: d for d in summary.devices}
    assert set(devices) == {1, 2}  # GPU 0 is not this job's
    assert devices[1]["samples"] >= 10
    assert 75.0 <= devices[1]["mean_percent"] <= 85.0  # alternating 60 / 100
    assert devices[2]["mean_percent"] == 90.0
    assert summary.mean_percent == pytest.approx((devices[1]["mean_percent"] + 90.0) / 2, abs=0.01)
    assert summary.reason is None and summary.period_s == 0.01
    assert meter.stop().samples == summary.samples  # idempotent, nothing after stop


def test_cuda_devices_find_their_nvml_index_by_pci_address(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # NVML lists by PCI bus; CUDA's ordinal 0 is the GPU on bus 0x81 (NVML index 1).
    nvml = fake_nvml({0: [1.0], 1: [2.0]}, {0: (0, 0x41, 0), 1: (0, 0x81, 0)})
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monitor = GpuMonitor()
    assert monitor.indices_for([(0, 0x81, 0)]) == [1]
    assert monitor.indices_for([(0, 0x81, 0), (0, 0x41, 0)]) == [0, 1]
    # Unknown address: the visible GPU at the same ordinal.
    assert monitor.indices_for([None]) == [0]
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert GpuMonitor().indices_for([(0, 0x81, 0)]) == []
