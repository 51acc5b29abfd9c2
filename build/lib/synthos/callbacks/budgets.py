"""Held-out loss at several token budgets of one run: warmup-stable-decay cooldown forks.

A loss law over model size and data, L(N, D), needs the loss at the END of training at
several budgets D for each size N. A run trained with warmup-stable-decay (constant
learning rate, then a linear cooldown over the last `cooldown_fraction` of the steps) gives
them cheaply: at the step where a smaller budget's cooldown would start, this callback
copies the model and optimizer state, cools the copy down for that budget's share of
steps, evaluates it on a held-out split, and restores the state so the main run continues
as if nothing had happened (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training
Beyond Fixed Training Durations": such a cooldown matches a run trained for that budget
alone). The run's own end is the largest budget. Each point records the optimizer steps and
training tokens of its budget, the pooled metrics with their standard errors over rows on
the evaluation split, the number of rows evaluated, and the loss on a second held-out split
used for selection (early stopping on repeated data picks a budget by it, never by the split
that is reported).

Cooldown batches are drawn from the training set in a fresh seeded order, so the main
run's data order is untouched; under DDP every rank cools down on its own shard and the
gradients and evaluation sums are all-reduced.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, Subset

from synthos.errors import ErrorCode, ModelError
from synthos.lit_modules.optim import cooldown_steps, warmup_stable_decay, warmup_steps

__all__ = ["BudgetPoint", "BudgetPoints", "pooled_metrics"]


@dataclass(frozen=True)
class BudgetPoint:
    """The held-out evaluation of the run cooled down at one budget."""

    steps: int
    tokens: int
    metrics: dict[str, float]
    rows: int
    final: bool
    selection: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pooled_metrics(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """Pooled ratios of per-row sums, with the ratio estimator's standard error over rows.

    `terms` holds `<name>_sum` / `<name>_count` pairs (and, for forecasters, `model_sq` /
    `naive_sq`, pooled into `skill` = 1 - model_sq / naive_sq).
    """
    out: dict[str, float] = {}
    for key in terms:
        if not key.endswith("_sum"):
            continue
        name = key[: -len("_sum")]
        value, se = _ratio(terms[key], terms[f"{name}_count"])
        out[name], out[f"{name}_se"] = value, se
    if "model_sq" in terms and "naive_sq" in terms:
        ratio, se = _ratio(terms["model_sq"], terms["naive_sq"])
        out["skill"], out["skill_se"] = 1.0 - ratio, se
    return out


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> tuple[float, float]:
    num, den = numerator.double(), denominator.double()
    total = float(den.sum())
    if total <= 0:
        return math.nan, math.nan
    ratio = float(num.sum()) / total
    n = num.numel()
    if n < 2:
        return ratio, math.nan
    residual = num - ratio * den
    se = math.sqrt(float(residual.pow(2).sum()) * n / (n - 1)) / total
    return ratio, se


class BudgetPoints(Callback):
    """Evaluate the run at budgets `fractions` of its steps (and at its end) on `split`, and
    on `selection_split` (None: no selection metrics).

        `max_batches` bounds each evaluation (default: the trainer's `limit_test_batches` for the
        test split, `limit_val_batches` for val). The module must train with the "wsd" schedule
        and implement `evaluation_terms` and `batch_tokens`.
    """

    def __init__(
        self,
        fractions: tuple[float, ...] | list[float] = (0.125, 0.25, 0.5),
        split: str = "test",
        selection_split: str | None = "val",
        max_batches: int | None = None,
        seed: int = 0,
    ) -> None:
        if any(not 0 < f < 1 for f in fractions):
            raise ModelError(
                f"budget fractions must be in (0, 1), got {list(fractions)}",
                code=ErrorCode.MODEL_CONFIG,
            )
        if split not in ("val", "test") or selection_split not in ("val", "test", None):
            raise ModelError(
                f"budget splits must be val or test, got {split!r} and {selection_split!r}",
                code=ErrorCode.MODEL_CONFIG,
            )
        self.fractions = sorted(set(float(f) for f in fractions))
        self.split = split
        self.selection_split = selection_split
        self.max_batches = max_batches
        self.seed = seed
        self.points: list[BudgetPoint] = []
        self.skipped: list[str] = []
        self.tokens = 0
        self._forks: dict[int, int] = {}

    # ------------------------------------------------------------------ Lightning hooks

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optim = pl_module.optim
        if optim.schedule != "wsd":
            raise ModelError(
                "budget points need the warmup-stable-decay schedule (model.optim.schedule=wsd)"
                f", got {optim.schedule!r}",
                code=ErrorCode.MODEL_CONFIG,
            )
        if trainer.datamodule is None:
            raise ModelError(
                "budget points need a DataModule (they draw train and held-out batches from it)",
                code=ErrorCode.MODEL_CONFIG,
            )
        if str(trainer.precision).startswith("16"):
            raise ModelError(
                "budget points need fp32 or bf16 precision (fp16 needs a gradient scaler)",
                code=ErrorCode.MODEL_CONFIG,
            )
        self._total = int(trainer.max_steps if trainer.max_steps > 0 else 0) or int(
            trainer.estimated_stepping_batches
        )
        warmup = warmup_steps(optim, self._total)
        self._forks = {}
        for fraction in self.fractions:
            budget = round(fraction * self._total)
            start = budget - cooldown_steps(budget, optim.cooldown_fraction)
            if start < max(1, warmup) or budget >= self._total:
                self._note(f"budget {fraction:g} ({budget} steps) ends its stable phase in warmup")
            else:
                self._forks.setdefault(start, budget)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx
    ) -> None:
        self.tokens += int(pl_module.batch_tokens(batch)) * trainer.world_size
        budget = self._forks.get(trainer.global_step)
        if budget is None or any(p.steps == budget for p in self.points):
            return
        if (batch_idx + 1) % max(1, trainer.accumulate_grad_batches) != 0:
            return
        self._fork(trainer, pl_module, trainer.global_step, budget)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step < self._total or any(p.final for p in self.points):
            return
        self.points.append(self._point(trainer, pl_module, trainer.global_step, self.tokens, True))

    def state_dict(self) -> dict[str, Any]:
        return {
            "points": [p.to_dict() for p in self.points],
            "skipped": list(self.skipped),
            "tokens": self.tokens,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.points = [BudgetPoint(**p) for p in state_dict.get("points", [])]
        self.skipped = list(state_dict.get("skipped", []))
        self.tokens = int(state_dict.get("tokens", 0))

    def summary(self) -> dict[str, Any]:
        """What metrics.json records: the points by budget, and budgets that were skipped."""
        return {
            "split": self.split,
            "selection_split": self.selection_split,
            "points": [p.to_dict() for p in sorted(self.points, key=lambda p: p.steps)],
            "skipped": list(self.skipped),
        }

    # -------------------------------------------------------------------- the fork

    def _fork(self, trainer: pl.Trainer, module: pl.LightningModule, start: int, budget: int):
        """Cool a copy of the run down from `start` to `budget` steps, evaluate, restore."""
        optimizer = trainer.optimizers[0]
        saved = {
            "model": copy.deepcopy(module.state_dict()),
            "optimizer": copy.deepcopy(optimizer.state_dict()),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }
        try:
            tokens = self._cooldown(trainer, module, optimizer, start, budget)
            point = self._point(trainer, module, budget, self.tokens + tokens, False)
        finally:
            module.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            torch.set_rng_state(saved["rng"])
            if saved["cuda_rng"] is not None:
                torch.cuda.set_rng_state_all(saved["cuda_rng"])
            module.train()
        self.points.append(point)

    def _point(self, trainer, module, steps: int, tokens: int, final: bool) -> BudgetPoint:
        metrics, rows = self._evaluate(trainer, module, self.split)
        selection = None
        if self.selection_split is not None:
            selection, _ = self._evaluate(trainer, module, self.selection_split)
        return BudgetPoint(steps, tokens, metrics, rows, final, selection)

    def _cooldown(self, trainer, module, optimizer, start: int, budget: int) -> int:
        fraction = module.optim.cooldown_fraction
        base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        batches = self._batches(trainer, "train", seed=self.seed + start)
        tokens = 0
        module.train()
        for step in range(start, budget):
            batch = next(batches)
            scale = warmup_stable_decay(step, 0, budget, fraction)
            for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = lr * scale
            optimizer.zero_grad(set_to_none=True)
            with trainer.precision_plugin.forward_context():
                loss = module.step_loss(batch, "train") + module.net.auxiliary_loss()
            module.require_finite(loss, "cooldown")
            loss.backward()
            _all_reduce_gradients(module)
            if trainer.gradient_clip_val:
                torch.nn.utils.clip_grad_norm_(module.parameters(), trainer.gradient_clip_val)
            optimizer.step()
            tokens += int(module.batch_tokens(batch)) * trainer.world_size
        optimizer.zero_grad(set_to_none=True)
        return tokens

    @torch.no_grad()
    def _evaluate(self, trainer, module, split: str) -> tuple[dict[str, float], int]:
        limit = self.max_batches or getattr(trainer, f"limit_{split}_batches")
        module.eval()
        pooled: dict[str, list[torch.Tensor]] = {}
        loader = self._loader(trainer, split)
        n_batches = _batch_limit(limit, len(loader))
        for index, batch in enumerate(loader):
            if index >= n_batches:
                break
            batch = module.transfer_batch_to_device(batch, module.device, 0)
            with trainer.precision_plugin.forward_context():
                terms = module.evaluation_terms(batch)
            for key, value in terms.items():
                pooled.setdefault(key, []).append(value.detach().double())
        module.train()
        if not pooled:
            raise ModelError(
                f"budget evaluation found no {split} batches", code=ErrorCode.MODEL_CONFIG
            )
        terms = {key: _gather(torch.cat(values)) for key, values in pooled.items()}
        return pooled_metrics(terms), int(terms["loss_count"].numel())

    def _batches(self, trainer, split: str, seed: int):
        """Endless batches of `split` in a seeded order, this rank's shard under DDP."""
        epoch = 0
        while True:
            loader = self._loader(trainer, split, seed=seed + epoch)
            for batch in loader:
                yield trainer.lightning_module.transfer_batch_to_device(
                    batch, trainer.lightning_module.device, 0
                )
            epoch += 1

    def _loader(self, trainer, split: str, seed: int | None = None) -> DataLoader:
        source = getattr(trainer.datamodule, f"{split}_dataloader")()
        dataset = source.dataset
        if trainer.world_size > 1:
            dataset = Subset(dataset, range(trainer.global_rank, len(dataset), trainer.world_size))
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return DataLoader(
            dataset,
            batch_size=source.batch_size,
            shuffle=generator is not None,
            generator=generator,
            collate_fn=source.collate_fn,
        )

    def _note(self, message: str) -> None:
        if message not in self.skipped:
            self.skipped.append(message)


def _batch_limit(limit: int | float | None, available: int) -> int:
    if limit is None:
        return available
    if isinstance(limit, float) and limit <= 1.0:
        return max(1, int(limit * available))
    return min(available, int(limit))


def _all_reduce_gradients(module: torch.nn.Module) -> None:
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world = torch.distributed.get_world_size()
    for param in module.parameters():
        if param.grad is not None:
            torch.distributed.all_reduce(param.grad)
            param.grad /= world


def _gather(values: torch.Tensor) -> torch.Tensor:
    """Every rank's per-row values (rows of all shards), for pooled sums and their spread."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return values
    parts: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, values.cpu())
    return torch.cat(parts)
