"""AdamW with linear warmup, then cosine decay or warmup-stable-decay, from a typed dataclass.

Warmup-stable-decay (WSD: constant learning rate, then a linear cooldown to zero over the
last `cooldown_fraction` of the steps) is what the cascade trains with: the run's state
at any step of its stable phase, cooled down for a `cooldown_fraction` share of a budget,
is a valid end of training at that budget (Hägele et al. 2024), so one job measures
its held-out loss at several token budgets (`synthos.callbacks.BudgetPoints`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from synthos.errors import ErrorCode, ModelError


@dataclass
class OptimConfig:
    lr: float = 3e-4
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    #: "cosine" (to `min_lr_ratio`) or "wsd" (warmup, constant, linear cooldown to zero).
    schedule: str = "cosine"
    #: WSD: share of the steps spent cooling down.
    cooldown_fraction: float = 0.2


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only: norms, biases, gains and filter coefficients vectors are exempt."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for param in model.parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        (decay if param.dim() >= 2 and not param.is_complex() else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine down to `min_lr_ratio`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_stable_decay(
    step: int, warmup_steps: int, total_steps: int, cooldown_fraction: float
) -> float:
    """Learning-rate multiplier: linear warmup to 1, constant, then linear to 0 over the last
    `cooldown_fraction` of `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    cooldown = cooldown_steps(total_steps, cooldown_fraction)
    return min(1.0, max(0.0, (total_steps - step) / cooldown))


def cooldown_steps(total_steps: int, cooldown_fraction: float) -> int:
    """Steps of the cooldown that ends a `total_steps` WSD run (at least one)."""
    return max(1, round(cooldown_fraction * total_steps))


def schedule_multiplier(config: OptimConfig, warmup: int, total_steps: int):
    """The configured schedule as a step -> multiplier function (for LambdaLR)."""
    if config.schedule == "wsd":
        return lambda step: warmup_stable_decay(step, warmup, total_steps, config.cooldown_fraction)
    if config.schedule == "cosine":
        return lambda step: warmup_cosine(step, warmup, total_steps, config.min_lr_ratio)
    raise ModelError(
        f"unknown learning-rate schedule {config.schedule!r}; expected cosine or wsd",
        code=ErrorCode.MODEL_CONFIG,
    )


def warmup_steps(config: OptimConfig, total_steps: int) -> int:
    """Warmup never takes more than a tenth of a short run."""
    return min(config.warmup_steps, max(0, total_steps // 10)) if total_steps > 0 else 0


def build_optimizer(model: nn.Module, config: OptimConfig, total_steps: int):
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.weight_decay),
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        eps=config.eps,
    )
    warmup = warmup_steps(config, total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedule_multiplier(config, warmup, total_steps)
    )
    return optimizer, scheduler
