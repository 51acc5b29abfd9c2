"""Per-GPU utilisation and memory from NVML, for progress records and a run's average.

Optional by design: without `pynvml` (package `nvidia-ml-py`, extra `gpu`), without a
driver or without GPUs this reports an empty list (and a null average with the reason) and
never raises, so CPU runs and tests need nothing extra.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

#: A CUDA device's PCI address (domain, bus, device): how CUDA ordinals find NVML handles.
PciAddress = tuple[int, int, int]


def _visible_indices() -> set[int] | None:
    """Physical indices named by CUDA_VISIBLE_DEVICES, None when unset or not integers."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    try:
        return {int(part) for part in value.split(",") if part.strip()}
    except ValueError:  # UUIDs or MIG names: report every device
        return None


class GpuMonitor:
    """Lazily initialised NVML handles; `sample()` gives one dict per visible GPU:
    {index, utilization_percent, memory_used_mb}."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._handles: list[tuple[int, Any]] = []
        self._tried = False
        #: Why no GPU can be sampled (None when NVML started and sees GPUs).
        self.unavailable_reason: str | None = None

    def _start(self) -> None:
        self._tried = True
        try:
            import pynvml
        except ImportError:
            self.unavailable_reason = "no NVML: nvidia-ml-py (pynvml) is not installed"
            return
        try:
            pynvml.nvmlInit()
        except Exception as exc:
            self.unavailable_reason = f"no NVML: it did not start ({exc})"
            return
        self._nvml = pynvml
        try:
            visible = _visible_indices()
            for index in range(pynvml.nvmlDeviceGetCount()):
                if visible is None or index in visible:
                    self._handles.append((index, pynvml.nvmlDeviceGetHandleByIndex(index)))
        except Exception:
            self._handles = []
        if not self._handles:
            self.unavailable_reason = "no GPU: NVML sees none visible to this process"

    def available(self) -> bool:
        with self._lock:
            if not self._tried:
                self._start()
            return bool(self._handles)

    def sample(self, indices: set[int] | None = None) -> list[dict[str, Any]]:
        """One dict per visible GPU, or per NVML index in `indices` when given."""
        with self._lock:
            if not self._tried:
                self._start()
            if self._nvml is None:
                return []
            out = []
            for index, handle in self._handles:
                if indices is not None and index not in indices:
                    continue
                try:
                    util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                    memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
                except Exception:
                    continue
                out.append(
                    {
                        "index": index,
                        "utilization_percent": float(util.gpu),
                        "memory_used_mb": round(memory.used / 2**20, 1),
                    }
                )
            return out

    def indices_for(self, addresses: list[PciAddress | None]) -> list[int]:
        """NVML indices of CUDA devices given by PCI address (CUDA's and NVML's orders can
        differ); a device without an address falls back to the visible GPU at its ordinal."""
        if not self.available():
            return []
        with self._lock:
            by_address = {}
            for index, handle in self._handles:
                with contextlib.suppress(Exception):
                    pci = self._nvml.nvmlDeviceGetPciInfo(handle)
                    by_address[(int(pci.domain), int(pci.bus), int(pci.device))] = index
            found = []
            for ordinal, address in enumerate(addresses):
                if address in by_address:
                    found.append(by_address[address])
                elif ordinal < len(self._handles):
                    found.append(self._handles[ordinal][0])
            return sorted(set(found))

    def close(self) -> None:
        with self._lock:
            if self._nvml is not None:
                with contextlib.suppress(Exception):
                    self._nvml.nvmlShutdown()
            self._nvml, self._handles, self._tried = None, [], False
            self.unavailable_reason = None


def cuda_pci_addresses(ordinals: list[int]) -> list[PciAddress | None]:
    """PCI addresses of CUDA devices by ordinal (None where torch does not report one)."""
    import torch

    addresses: list[PciAddress | None] = []
    for ordinal in ordinals:
        try:
            props = torch.cuda.get_device_properties(ordinal)
            addresses.append((props.pci_domain_id, props.pci_bus_id, props.pci_device_id))
        except Exception:
            addresses.append(None)
    return addresses


@dataclass
class UtilizationSummary:
    """A run's mean NVML utilisation (percent of time a kernel ran), per GPU and overall
    (the mean of the GPUs' means); `mean_percent` is None with `reason` when not measured.
    NVML counts every process on a GPU, so the figure is the job's only on a GPU of its own."""

    mean_percent: float | None
    samples: int = 0
    period_s: float | None = None
    devices: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class UtilizationMeter:
    """Samples the utilisation of chosen GPUs every `period_s` seconds on a background
    thread, from `start` to `stop`; `stop` returns the averages."""

    def __init__(self, monitor: GpuMonitor, period_s: float = 1.0) -> None:
        self.monitor = monitor
        self.period_s = period_s
        self._sums: dict[int, float] = {}
        self._counts: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._indices: set[int] = set()
        self._reason: str | None = "not started"

    def start(self, indices: list[int] | None, reason: str | None = None) -> None:
        """Sample NVML indices `indices`; with `reason` (or none to sample) record only why
        nothing is measured."""
        self.stop()
        self._sums, self._counts = {}, {}
        if reason is None and not indices:
            reason = self.monitor.unavailable_reason or "no GPU of this job is visible to NVML"
        self._reason = reason
        if reason is not None:
            return
        self._indices = set(indices)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="GpuUtilizationMeter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.add(self.monitor.sample(self._indices))
            if self._stop.wait(self.period_s):
                return

    def add(self, samples: list[dict[str, Any]]) -> None:
        for entry in samples:
            index = entry["index"]
            self._sums[index] = self._sums.get(index, 0.0) + entry["utilization_percent"]
            self._counts[index] = self._counts.get(index, 0) + 1

    def stop(self) -> UtilizationSummary:
        """Stop sampling (idempotent) and summarise what was sampled."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        return self.summary()

    def summary(self) -> UtilizationSummary:
        devices = [
            {
                "index": index,
                "mean_percent": round(self._sums[index] / self._counts[index], 2),
                "samples": self._counts[index],
            }
            for index in sorted(self._counts)
        ]
        if not devices:
            reason = self._reason or "no utilisation sample was taken"
            return UtilizationSummary(None, reason=reason)
        mean = sum(d["mean_percent"] for d in devices) / len(devices)
        return UtilizationSummary(
            round(mean, 2),
            samples=sum(d["samples"] for d in devices),
            period_s=self.period_s,
            devices=devices,
        )
