"""LightningModules: objectives and metrics around the pure networks of `synthos.models`."""

from __future__ import annotations

from typing import Any

from synthos.lit_modules.base import SequenceLightningModule, load_module
from synthos.lit_modules.forecaster import ForecastingModule
from synthos.lit_modules.language_model import LanguageModelModule
from synthos.lit_modules.optim import OptimConfig
from synthos.models.common import SequenceModel
from synthos.task import FORECASTING, LANGUAGE_MODEL, TaskSpec

MODULES: dict[str, type[SequenceLightningModule]] = {
    LANGUAGE_MODEL: LanguageModelModule,
    FORECASTING: ForecastingModule,
}


def build_module(
    task: TaskSpec | dict[str, Any],
    net: SequenceModel,
    optim: OptimConfig | dict[str, Any] | None = None,
    activation_checkpointing: bool = False,
) -> SequenceLightningModule:
    """The LightningModule for a task: what `synthos/conf/model/*.yaml` instantiates."""
    task = task if isinstance(task, TaskSpec) else TaskSpec(**task)
    optim = optim if isinstance(optim, OptimConfig) or optim is None else OptimConfig(**optim)
    return MODULES[task.kind](
        net=net, task=task, optim=optim, activation_checkpointing=activation_checkpointing
    )


__all__ = [
    "MODULES",
    "ForecastingModule",
    "LanguageModelModule",
    "OptimConfig",
    "SequenceLightningModule",
    "build_module",
    "load_module",
]
