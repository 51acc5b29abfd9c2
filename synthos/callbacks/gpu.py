"""Per-GPU utilisation and memory from NVML, for progress records.

Optional by design: without `pynvml` (package `nvidia-ml-py`, extra `gpu`), without a
driver or without GPUs this reports an empty list and never raises, so CPU runs and
tests need nothing extra.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any


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

    def _start(self) -> None:
        self._tried = True
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:
            return
        self._nvml = pynvml
        try:
            visible = _visible_indices()
            for index in range(pynvml.nvmlDeviceGetCount()):
                if visible is None or index in visible:
                    self._handles.append((index, pynvml.nvmlDeviceGetHandleByIndex(index)))
        except Exception:
            self._handles = []

    def sample(self) -> list[dict[str, Any]]:
        with self._lock:
            if not self._tried:
                self._start()
            if self._nvml is None:
                return []
            out = []
            for index, handle in self._handles:
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

    def close(self) -> None:
        with self._lock:
            if self._nvml is not None:
                with contextlib.suppress(Exception):
                    self._nvml.nvmlShutdown()
            self._nvml, self._handles, self._tried = None, [], False
