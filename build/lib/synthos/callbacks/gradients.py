"""Gradient norms at every optimizer step, with vanishing and exploding flags.

Read in `on_before_optimizer_step`: after mixed-precision unscaling and before gradient
clipping, so the numbers are the true gradients the loss produced, not the clipped ones.
Under DDP the gradients are already all-reduced there, so every rank sees the same flags.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback


def gradient_norms(module: torch.nn.Module) -> tuple[list[str], torch.Tensor]:
    """Names and L2 norms (float32, one tensor, no host sync) of every gradient present."""
    names, norms = [], []
    for name, param in module.named_parameters():
        if param.grad is not None:
            names.append(name)
            grad = param.grad.detach()
            grad = grad.to(torch.complex64) if grad.is_complex() else grad.float()
            norms.append(torch.linalg.vector_norm(grad).float())
    if not norms:
        return [], torch.zeros(0)
    return names, torch.stack(norms)


class GradientStats(Callback):
    """Total, min and max per-parameter gradient norms every `every_n_steps` optimizer
    steps, logged under `grad/...`.

    Flags: `vanishing` when the total norm is below `vanishing_threshold` (nothing reaches
    the weights: a dead or saturated network, a zeroed loss); `exploding` when it is above
    `exploding_threshold` or not finite. The latest values and a summary of the history
    (counts of flagged steps, mean and max total norm) are in `self.latest`.
    """

    def __init__(
        self,
        vanishing_threshold: float = 1e-7,
        exploding_threshold: float = 1e3,
        every_n_steps: int = 1,
    ) -> None:
        self.vanishing_threshold = vanishing_threshold
        self.exploding_threshold = exploding_threshold
        self.every_n_steps = max(1, every_n_steps)
        self.latest: dict[str, Any] = {}
        self._history = {
            "steps": 0,
            "vanishing_steps": 0,
            "exploding_steps": 0,
            "nonfinite_steps": 0,
            "sum_total_norm": 0.0,
            "max_total_norm": 0.0,
            "first_exploding_step": None,
            "first_vanishing_step": None,
        }

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        step = int(trainer.global_step)
        if step % self.every_n_steps:
            return
        names, norms = gradient_norms(pl_module)
        if not names:
            return
        total_t = torch.linalg.vector_norm(norms)
        # One host transfer for the three numbers.
        total, low, high = torch.stack([total_t, norms.min(), norms.max()]).tolist()
        finite = math.isfinite(total)
        exploding = (not finite) or total > self.exploding_threshold
        vanishing = finite and total < self.vanishing_threshold
        self._record(step, total, finite, vanishing, exploding)
        self.latest = {
            "step": step,
            "total_norm": total,
            "min_param_norm": low,
            "max_param_norm": high,
            "max_param": names[int(torch.argmax(torch.nan_to_num(norms, nan=math.inf)))],
            "vanishing": vanishing,
            "exploding": exploding,
            **self.summary(),
        }
        for key, value in (
            ("total_norm", total),
            ("min_norm", low),
            ("max_norm", high),
            ("vanishing", float(vanishing)),
            ("exploding", float(exploding)),
        ):
            pl_module.log(f"grad/{key}", value, on_step=True, on_epoch=False)

    def _record(self, step: int, total: float, finite: bool, vanishing: bool, exploding: bool):
        h = self._history
        h["steps"] += 1
        h["vanishing_steps"] += int(vanishing)
        h["exploding_steps"] += int(exploding)
        h["nonfinite_steps"] += int(not finite)
        if finite:
            h["sum_total_norm"] += total
            h["max_total_norm"] = max(h["max_total_norm"], total)
        if exploding and h["first_exploding_step"] is None:
            h["first_exploding_step"] = step
        if vanishing and h["first_vanishing_step"] is None:
            h["first_vanishing_step"] = step

    def summary(self) -> dict[str, Any]:
        """History over the whole run (JSON-ready)."""
        h = self._history
        finite_steps = h["steps"] - h["nonfinite_steps"]
        return {
            "steps_checked": h["steps"],
            "vanishing_steps": h["vanishing_steps"],
            "exploding_steps": h["exploding_steps"],
            "nonfinite_steps": h["nonfinite_steps"],
            "mean_total_norm": h["sum_total_norm"] / finite_steps if finite_steps else None,
            "max_total_norm": h["max_total_norm"] if finite_steps else None,
            "first_vanishing_step": h["first_vanishing_step"],
            "first_exploding_step": h["first_exploding_step"],
        }

    def state_dict(self) -> dict[str, Any]:
        return {"history": dict(self._history), "latest": dict(self.latest)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._history.update(state_dict.get("history", {}))
        self.latest = dict(state_dict.get("latest", {}))
