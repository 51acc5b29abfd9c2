"""Lightning callbacks for cascade jobs: live progress, spectral and gradient diagnostics,
and a collapse monitor that can stop a run (DESIGN section 5)."""

from synthos.callbacks.bus import ProgressBus, Subscription, default_bus
from synthos.callbacks.collapse import CollapseMonitor
from synthos.callbacks.gradients import GradientStats
from synthos.callbacks.jsonl import JsonlTail, append_jsonl, read_jsonl
from synthos.callbacks.progress import CascadeProgress, ProgressStream
from synthos.callbacks.spectral import SpectralMetrics, effective_rank, spectral_entropy

__all__ = [
    "CascadeProgress",
    "CollapseMonitor",
    "GradientStats",
    "JsonlTail",
    "ProgressBus",
    "ProgressStream",
    "SpectralMetrics",
    "Subscription",
    "append_jsonl",
    "default_bus",
    "effective_rank",
    "read_jsonl",
    "spectral_entropy",
]
