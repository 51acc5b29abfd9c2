"""Small helpers the callbacks share: reading the step's loss and metrics, finding sibling
callbacks."""

from __future__ import annotations

from typing import Any, TypeVar

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from synthos.callbacks.jsonl import finite_or_none

C = TypeVar("C", bound=Callback)

__all__ = [
    "find_callback",
    "finite_or_none",
    "metric",
    "step_loss",
]


def step_loss(trainer: pl.Trainer, outputs: Any) -> torch.Tensor | None:
    """The detached training loss of the batch that just ended (on its device, no host sync).

    Lightning hands `on_train_batch_end` the loss divided by `accumulate_grad_batches`;
    this undoes that so the value is comparable to the logged `train/loss`.
    """
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        return None
    return loss.detach().reshape(()) * max(1, int(trainer.accumulate_grad_batches or 1))


def metric(trainer: pl.Trainer, name: str) -> float | None:
    """A scalar from `trainer.callback_metrics` as a float, None when absent."""
    value = trainer.callback_metrics.get(name)
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.item()
    return float(value)


def find_callback(trainer: pl.Trainer, cls: type[C]) -> C | None:
    return next((cb for cb in trainer.callbacks if isinstance(cb, cls)), None)
