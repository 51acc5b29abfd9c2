"""Micro models, data and trainers for the callback tests (importable, so DDP workers
spawned from a test can unpickle what it hands them)."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from synthos.callbacks import RunHealthMonitor
from synthos.lit_modules import OptimConfig, build_module
from synthos.lit_modules.language_model import LanguageModelModule
from synthos.models.common import SequenceModel
from synthos.models.resonance import ResonanceNN
from synthos.models.ten import TemporalEigenstateNetwork
from synthos.task import FORECASTING, TaskSpec

VOCAB = 64
SEQ = 33  # tokens per sample (32 inputs + 1 target shift)

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*sync_dist=True.*")


def resonance(**kw: Any) -> ResonanceNN:
    return ResonanceNN(
        vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, n_freqs=16, max_seq_len=64, **kw
    )


def ten(**kw: Any) -> TemporalEigenstateNetwork:
    return TemporalEigenstateNetwork(
        vocab_size=VOCAB, d_model=32, n_layers=2, n_eigenstates=16, max_seq_len=64, **kw
    )


FAMILIES = {"resonance": resonance, "ten": ten}


def lm(net: nn.Module, lr: float = 1e-2, cls: type | None = None) -> pl.LightningModule:
    optim = OptimConfig(lr=lr, warmup_steps=5)
    if cls is None:
        return build_module(TaskSpec(vocab_size=VOCAB), net, optim)
    return cls(net=net, task=TaskSpec(vocab_size=VOCAB), optim=optim)


def pattern_tokens(n: int, seed: int = 0) -> torch.Tensor:
    """Each sample counts up from a random start (mod V): fully learnable."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    return (start + torch.arange(SEQ)) % VOCAB


def random_tokens(n: int, seed: int = 0) -> torch.Tensor:
    """I.i.d. uniform tokens: nothing to learn beyond ln V."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (n, SEQ), generator=g)


def loaders(kind: str = "pattern", n_train: int = 1600, n_val: int = 64, batch: int = 16):
    make = pattern_tokens if kind == "pattern" else random_tokens
    return (
        DataLoader(make(n_train, seed=1), batch_size=batch),
        DataLoader(make(n_val, seed=2), batch_size=batch),
    )


def trainer(callbacks: list, tmp_path, max_steps: int = 60, **kw: Any) -> pl.Trainer:
    options = dict(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=20,
        num_sanity_val_steps=1,
        default_root_dir=str(tmp_path),
    )
    options.update(kw)
    return pl.Trainer(callbacks=callbacks, **options)


class ConstantBlock(nn.Module):
    """Ignores its input: every position gets the same learned vector."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.randn(d_model))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return 0 * h + self.value


class ConstantNN(ResonanceNN):
    """A collapsed network: its last hidden state and its output are the same everywhere."""

    def build_block(self, layer: int) -> nn.Module:
        return ConstantBlock(self.config.d_model)


class OverconfidentNN(ResonanceNN):
    """Logits scaled up 100x: near one-hot predictions that are mostly wrong."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * 100.0


class ScaledLossLM(LanguageModelModule):
    """Returns its loss times `scale` (gradients scale with it); 0 zeroes every gradient."""

    scale = 1.0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return super().training_step(batch, batch_idx) * self.scale


class DivergingLM(LanguageModelModule):
    """From step 40 its reported loss climbs back above where it started, as a run that
    blows up would (the offset leaves the gradients alone)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        return loss + 10.0 if self.global_step >= 40 else loss


class NaNAfterLM(LanguageModelModule):
    """The loss turns NaN at step 5 (the module then stops the run with MODEL_DIVERGED)."""

    def step_loss(self, batch: Any, stage: str) -> torch.Tensor:
        loss = super().step_loss(batch, stage)
        if stage == "train" and self.global_step >= 5:
            return loss * math.nan
        return loss


class SlowLM(LanguageModelModule):
    """Sleeps in every training step (`long_step` s once at `long_at`) to make a job last."""

    sleep_s = 0.03
    long_at = -1
    long_s = 0.0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        time.sleep(self.long_s if self.global_step == self.long_at else self.sleep_s)
        return super().training_step(batch, batch_idx)


def sine_windows(n: int, length: int, noise: float, seed: int = 0) -> torch.Tensor:
    """(n, length, 1) windows of a period-8 sine (plus Gaussian noise), random phases."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    t = torch.arange(length)
    x = torch.sin(2 * math.pi * t / 8 + phase)
    return (x + noise * torch.randn(n, length, generator=g)).unsqueeze(-1)


def forecaster(net_cls=TemporalEigenstateNetwork, lr: float = 1e-2) -> pl.LightningModule:
    task = TaskSpec(kind=FORECASTING, n_features=1, horizon=1)
    net: SequenceModel = net_cls(
        vocab_size=None, n_features=1, d_model=32, n_layers=2, n_eigenstates=16, max_seq_len=64
    )
    return build_module(task, net, OptimConfig(lr=lr, warmup_steps=5))


class RankZeroAlarm(RunHealthMonitor):
    """Only rank 0 sees a collapse signal (from step `at`); every rank writes its final step
    and verdict to `out_dir/rank<r>.json` so the test can see what each one did."""

    def __init__(self, out_dir: str, at: int = 4, **kw: Any) -> None:
        super().__init__(**kw)
        self.out_dir = out_dir
        self.at = at
        self._rank = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._rank = trainer.global_rank

    def _check_train_loss(self, loss: float, step: int) -> None:
        super()._check_train_loss(loss, step)
        if self._rank == 0 and step >= self.at:
            self._sticky.setdefault("injected", {"step": step})

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        out = Path(self.out_dir) / f"rank{trainer.global_rank}.json"
        out.write_text(json.dumps({"step": trainer.global_step, "verdict": self.verdict}))
