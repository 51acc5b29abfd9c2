"""Lightning callbacks for cascade jobs: live progress, spectral and gradient diagnostics,
and a run-health monitor that flags (and can stop) a diverging or collapsing run.

Imports are lazy: a reader of progress records (`JsonlTail`, `read_jsonl`, `ProgressBus`),
such as the gRPC server, does not load torch and Lightning.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from synthos.callbacks.budgets import BudgetPoints
    from synthos.callbacks.bus import ProgressBus, Subscription, default_bus
    from synthos.callbacks.gradients import GradientStats
    from synthos.callbacks.jsonl import JsonlTail, append_jsonl, read_jsonl
    from synthos.callbacks.progress import CascadeProgress, ProgressStream
    from synthos.callbacks.run_health import RunHealthMonitor
    from synthos.callbacks.spectral import SpectralMetrics, effective_rank, spectral_entropy

_LAZY = {
    "BudgetPoints": "synthos.callbacks.budgets",
    "CascadeProgress": "synthos.callbacks.progress",
    "RunHealthMonitor": "synthos.callbacks.run_health",
    "GradientStats": "synthos.callbacks.gradients",
    "JsonlTail": "synthos.callbacks.jsonl",
    "ProgressBus": "synthos.callbacks.bus",
    "ProgressStream": "synthos.callbacks.progress",
    "SpectralMetrics": "synthos.callbacks.spectral",
    "Subscription": "synthos.callbacks.bus",
    "append_jsonl": "synthos.callbacks.jsonl",
    "default_bus": "synthos.callbacks.bus",
    "effective_rank": "synthos.callbacks.spectral",
    "read_jsonl": "synthos.callbacks.jsonl",
    "spectral_entropy": "synthos.callbacks.spectral",
}

__all__ = [
    "BudgetPoints",
    "CascadeProgress",
    "GradientStats",
    "JsonlTail",
    "ProgressBus",
    "ProgressStream",
    "RunHealthMonitor",
    "SpectralMetrics",
    "Subscription",
    "append_jsonl",
    "default_bus",
    "effective_rank",
    "read_jsonl",
    "spectral_entropy",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
