"""Checks every sequence model and mixer must pass: causality, no future-reading on random
tokens, and real learning of a task that needs memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

CAUSAL_RTOL = 1e-5
MODEL_CONF_DIR = Path(__file__).resolve().parents[1] / "synthos" / "conf" / "model"


def preset_fields(name: str) -> dict[str, Any]:
    """The network fields of `synthos/conf/model/<name>.yaml` (its architecture), so the tests train
    exactly the shipped presets."""
    return OmegaConf.to_container(OmegaConf.load(MODEL_CONF_DIR / f"{name}.yaml").net)


def assert_causal(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    positions: list[int],
    perturb: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """For each t in `positions`, change inputs at t+1..L-1 and require outputs at <= t unchanged.

    `x` is (B, L, ...) with time on dim 1, and so is fn's output. Differences may not exceed
    CAUSAL_RTOL times the outputs' scale (FFT round-off is the only allowed source). Also
    requires that the perturbation does change some later output, so a model that ignores
    its input cannot pass.
    """
    with torch.no_grad():
        base = fn(x)
        scale = base.abs().max().item()
        assert scale > 0, "the output is identically zero"
        for t in positions:
            x2 = x.clone()
            if perturb is None:
                x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :]) * 3
            else:
                x2[:, t + 1 :] = perturb(x2[:, t + 1 :])
            out = fn(x2)
            leak = (out[:, : t + 1] - base[:, : t + 1]).abs().max().item()
            assert leak <= CAUSAL_RTOL * scale, (
                f"output at positions <= {t} changed by {leak:.3g} (scale {scale:.3g}) when "
                f"inputs after {t} changed: the model reads the future"
            )
            if t + 1 < x.shape[1]:
                effect = (out[:, t + 1 :] - base[:, t + 1 :]).abs().max().item()
                assert effect > CAUSAL_RTOL * scale, f"changing inputs after {t} had no effect"


def random_token_loss(net: nn.Module, vocab: int, seq_len: int, steps: int = 200) -> float:
    """Train on fresh i.i.d. uniform tokens every step; return the mean loss of the last 20.

    Nothing is learnable, so an honest model stays at ln(vocab); a model that reads the
    future copies the next token and drives the loss far below.
    """
    torch.manual_seed(0)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        tokens = torch.randint(0, vocab, (8, seq_len + 1))
        logits = net(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses[-20:]) / 20


def copy_task_batch(batch: int, delay: int, vocab: int, generator: torch.Generator):
    """Sequences of 2 * delay random tokens whose second half repeats the first.

    Predicting position t >= delay needs the token seen `delay` steps earlier: memory over
    `delay` steps. Returns (inputs, targets, mask of positions that are scored).
    """
    first = torch.randint(0, vocab, (batch, delay), generator=generator)
    seq = torch.cat([first, first], dim=1)
    inputs, targets = seq[:, :-1], seq[:, 1:]
    mask = torch.zeros_like(targets, dtype=torch.bool)
    mask[:, delay - 1 :] = True
    return inputs, targets, mask


def train_copy_task(
    net: nn.Module, vocab: int, delay: int, steps: int, lr: float = 3e-3, batch: int = 16
) -> float:
    """Train on the copy task and return held-out accuracy on the scored positions."""
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    net.train()
    for _ in range(steps):
        inputs, targets, mask = copy_task_batch(batch, delay, vocab, gen)
        logits = net(inputs)
        loss = nn.functional.cross_entropy(logits[mask], targets[mask])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        inputs, targets, mask = copy_task_batch(64, delay, vocab, torch.Generator().manual_seed(1))
        pred = net(inputs).argmax(-1)
        return (pred[mask] == targets[mask]).float().mean().item()
