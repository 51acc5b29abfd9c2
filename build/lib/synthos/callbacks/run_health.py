"""Flags a run that diverges or collapses, and optionally stops it.

A cascade spends most of its budget on many small models; one that has blown up or
settled at a trivial solution should say so (and, if asked, stop) instead of feeding a
meaningless point into the scaling fit. The rules, with their default thresholds:

- `non_finite`: the training loss, the validation loss or a gradient is NaN or infinite
  (the module raises on a non-finite training loss; the verdict records it on the way out).
- `divergence`: the smoothed training loss (EMA over checks every `check_every_n_steps`)
  stays, for `divergence_patience` consecutive checks, above `divergence_factor` x its
  running minimum AND has given back more than `divergence_giveback` of the improvement
  made since the first check. The second condition keeps a tiny converged loss that
  wobbles from 0.005 to 0.02 from counting as divergence.
- `trivial_loss` (after `warmup_fraction` of the planned steps): a language model whose
  validation loss is within `trivial_tolerance` (relative) of the trivial level, the
  entropy of the training tokens' unigram distribution (Miller-Madow corrected, at most
  ln V): that loss is reachable by a model that ignores its context. A forecaster whose
  validation skill against the seasonal-naive forecast is <= `min_forecast_skill` (0),
  or whose validation loss is within `trivial_tolerance` of the loss of forecasting the
  history's mean (on the same validation batches): it is no better than a free
  baseline (repeating the last season, or the level).
- `rank_collapse`: the effective rank of the last hidden state on a probe batch is below
  `rank_fraction` of the attainable rank min(d_model, tokens - 1): the representation has
  folded onto a few directions.
- `entropy_collapse` (language models): the mean predictive entropy on the probe is below
  `entropy_floor` nats while the validation loss is above `entropy_loss_fraction` of the
  trivial level: confidently wrong, the signature of mode collapse.

`non_finite` and `divergence` are sticky; the other three describe the latest validation
and clear if the run recovers. Under DDP each check reduces the flag over ranks (any rank
flagging counts), so all ranks agree and, with `stop_on_collapse`, stop together.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from synthos.callbacks.common import find_callback, metric, step_loss
from synthos.callbacks.gradients import GradientStats
from synthos.callbacks.spectral import (
    ProbingCallback,
    attainable_rank,
    batch_tensor,
    effective_rank,
    network,
)
from synthos.errors import ErrorCode, SynthosError
from synthos.fileio import write_json_atomic
from synthos.forecast_windows import forecast_targets, instance_scale
from synthos.task import FORECASTING

VERDICT_FILE = "run_health.json"
STICKY = ("non_finite", "divergence")


def unigram_entropy(counts: torch.Tensor) -> float:
    """Entropy in nats of the token distribution behind `counts`, with the Miller-Madow
    bias correction (+ (m - 1) / 2N, m = tokens seen) so small samples are not read as
    more predictable than they are."""
    counts = counts.double()
    total = counts.sum().item()
    if total <= 0:
        return math.nan
    p = counts[counts > 0] / total
    plug_in = float(-(p * torch.log(p)).sum())
    return plug_in + (p.numel() - 1) / (2 * total)


def forecast_mean_sq(pl_module: pl.LightningModule, batch: Any) -> tuple[torch.Tensor, int] | None:
    """Forecasters: (sum of squared errors, count) on one batch of always forecasting the
    history's mean, in the window units the module's loss uses; None for other tasks."""
    task = getattr(pl_module, "task", None)
    if getattr(task, "kind", None) != FORECASTING:
        return None

    window = batch_tensor(pl_module, batch)
    if window is None or window.dim() != 3 or window.shape[1] <= task.horizon:
        return None
    window = window.detach().float()
    context = window.shape[1] - task.horizon
    loc, scale = instance_scale(window[:, :context])
    targets = forecast_targets((window - loc) / scale, context, task.horizon)
    return targets.pow(2).sum(), targets.numel()  # stays on the device: no sync per batch


class RunHealthMonitor(ProbingCallback):
    """Checks a run against the rules in this module's docstring; see `self.verdict`.

    The verdict (`collapsed`, `reasons`, `step`, `first_collapse_step`, `stopped`,
    `details`, `history`) is also written by rank 0 to `verdict_path`, by default
    `<trainer.default_root_dir>/run_health.json`, after every validation, at the end
    of training and when the run fails, so the job's result can include it.
    """

    def __init__(
        self,
        stop_on_collapse: bool = False,
        check_every_n_steps: int = 10,
        ema_alpha: float = 0.3,
        divergence_factor: float = 2.0,
        divergence_giveback: float = 0.5,
        divergence_patience: int = 3,
        warmup_fraction: float = 0.3,
        min_warmup_steps: int = 20,
        trivial_tolerance: float = 0.02,
        min_forecast_skill: float = 0.0,
        rank_fraction: float = 0.05,
        entropy_floor: float = 0.05,
        entropy_loss_fraction: float = 0.5,
        probe_rows: int = 8,
        probe_len: int = 256,
        unigram_max_tokens: int = 50_000_000,
        verdict_path: str | None = None,
    ) -> None:
        super().__init__(probe_rows, probe_len)
        self.stop_on_collapse = stop_on_collapse
        self.check_every_n_steps = max(1, check_every_n_steps)
        self.ema_alpha = ema_alpha
        self.divergence_factor = divergence_factor
        self.divergence_giveback = divergence_giveback
        self.divergence_patience = divergence_patience
        self.warmup_fraction = warmup_fraction
        self.min_warmup_steps = min_warmup_steps
        self.trivial_tolerance = trivial_tolerance
        self.min_forecast_skill = min_forecast_skill
        self.rank_fraction = rank_fraction
        self.entropy_floor = entropy_floor
        self.entropy_loss_fraction = entropy_loss_fraction
        self.unigram_max_tokens = unigram_max_tokens
        self.verdict_path = verdict_path
        self._unigram: torch.Tensor | None = None
        self._unigram_tokens = 0
        self._level_sum, self._level_count = 0.0, 0
        self._last_checked_step = -1
        self._ema: float | None = None
        self._first_ema: float | None = None
        self._min_ema: float | None = None
        self._above_count = 0
        self._sticky: dict[str, dict[str, Any]] = {}
        self._state: dict[str, dict[str, Any]] = {}
        self._anywhere = False
        self._validated = False
        self.verdict: dict[str, Any] = self._fresh_verdict()

    # ----------------------------------------------------------------- verdict
    @staticmethod
    def _fresh_verdict() -> dict[str, Any]:
        return {
            "collapsed": False,
            "reasons": [],
            "step": 0,
            "first_collapse_step": None,
            "stopped": False,
            "details": {},
            "history": [],
        }

    @property
    def reasons(self) -> list[str]:
        """This rank's current reasons (sticky first)."""
        return [*self._sticky, *(r for r in self._state if r not in self._sticky)]

    def _update_verdict(self, step: int, collapsed_anywhere: bool) -> None:
        reasons = self.reasons
        if collapsed_anywhere and not reasons:
            reasons = ["other_rank"]
        v = self.verdict
        if reasons != v["reasons"]:
            v["history"].append({"step": step, "reasons": list(reasons)})
        v.update(
            collapsed=bool(reasons),
            reasons=reasons,
            step=step,
            details={**self._sticky, **self._state},
        )
        if reasons and v["first_collapse_step"] is None:
            v["first_collapse_step"] = step

    def _decide(self, trainer: pl.Trainer, step: int) -> None:
        """Agree across ranks, record, and stop if asked. Every rank calls this at the same
        points (same global steps, every validation), so the collective cannot deadlock."""
        local = bool(self.reasons)
        anywhere = bool(trainer.strategy.reduce_boolean_decision(local, all=False))
        self._anywhere = anywhere
        self._update_verdict(step, anywhere)
        if anywhere and self.stop_on_collapse:
            trainer.should_stop = True
            self.verdict["stopped"] = True

    def _write(self, trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        path = Path(self.verdict_path or Path(trainer.default_root_dir) / VERDICT_FILE)
        with contextlib.suppress(OSError):  # diagnostics must never break the run
            write_json_atomic(path, self.verdict)

    # ---------------------------------------------------------- training checks
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._count_tokens(pl_module, batch)
        step = int(trainer.global_step)
        if step == self._last_checked_step or step % self.check_every_n_steps:
            return
        self._last_checked_step = step
        loss = step_loss(trainer, outputs)
        if loss is not None:
            self._check_train_loss(float(loss), step)
        grads = find_callback(trainer, GradientStats)
        if grads is not None and grads.summary()["nonfinite_steps"]:
            self._sticky.setdefault(
                "non_finite", {"source": "gradients", "step": grads.latest.get("step", step)}
            )
        self._decide(trainer, step)

    def _check_train_loss(self, loss: float, step: int) -> None:
        if not math.isfinite(loss):
            self._sticky.setdefault("non_finite", {"source": "train_loss", "step": step})
            return
        a = self.ema_alpha
        self._ema = loss if self._ema is None else a * loss + (1 - a) * self._ema
        if self._first_ema is None:
            self._first_ema = self._ema
        self._min_ema = self._ema if self._min_ema is None else min(self._min_ema, self._ema)
        floor = self._min_ema
        rise = self._ema - floor
        diverging = rise > (self.divergence_factor - 1) * abs(floor) and rise > (
            self.divergence_giveback * (self._first_ema - floor)
        )
        self._above_count = self._above_count + 1 if diverging else 0
        if self._above_count >= self.divergence_patience and "divergence" not in self._sticky:
            self._sticky["divergence"] = {
                "step": step,
                "smoothed_loss": self._ema,
                "running_min": floor,
                "initial": self._first_ema,
            }

    def _count_tokens(self, pl_module: pl.LightningModule, batch: Any) -> None:
        """Unigram counts of the training targets, for the trivial loss level."""
        task = getattr(pl_module, "task", None)
        vocab = getattr(task, "vocab_size", None)
        if getattr(task, "kind", None) == FORECASTING or not vocab:
            return
        if self._unigram_tokens >= self.unigram_max_tokens:
            return
        tokens = batch_tensor(pl_module, batch)
        if tokens is None or tokens.dim() != 2:
            return
        targets = tokens[:, 1:].reshape(-1).long().clamp(0, vocab - 1)
        counts = torch.bincount(targets, minlength=vocab)
        self._unigram_tokens += targets.numel()
        if self._unigram is None:
            self._unigram = counts
        else:
            self._unigram = self._unigram.to(counts.device) + counts

    # -------------------------------------------------------- validation checks
    def on_validation_batch_start(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        super().on_validation_batch_start(trainer, pl_module, batch, batch_idx, dataloader_idx)
        if dataloader_idx == 0 and not trainer.sanity_checking:
            # Over the same batches as val/loss, so the two are compared like for like.
            mean_sq = forecast_mean_sq(pl_module, batch)
            if mean_sq is not None:
                self._level_sum += mean_sq[0]
                self._level_count += mean_sq[1]

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._level_sum, self._level_count = 0.0, 0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Runs after the module's epoch-end hooks, so `val/loss` is final here.
        if trainer.sanity_checking:
            return
        self._validated = True
        step = int(trainer.global_step)
        self._state = self.validation_reasons(trainer, pl_module)
        self._decide(trainer, step)
        self._write(trainer)

    def warmed_up(self, trainer: pl.Trainer) -> bool:
        total = trainer.estimated_stepping_batches
        needed = self.min_warmup_steps
        if isinstance(total, (int, float)) and math.isfinite(total):
            needed = max(needed, self.warmup_fraction * total)
        return trainer.global_step >= needed

    def trivial_level(self, pl_module: pl.LightningModule) -> float | None:
        """The loss a context-free language model reaches (nats); None for forecasters."""
        vocab = getattr(getattr(pl_module, "task", None), "vocab_size", None)
        if not vocab:
            return None
        level = math.log(vocab)
        if self._unigram is not None:
            unigram = unigram_entropy(self._unigram)
            if math.isfinite(unigram):
                level = min(level, unigram)
        return level

    def validation_reasons(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> dict[str, dict[str, Any]]:
        """This rank's state reasons after a validation: {reason: details}."""
        reasons: dict[str, dict[str, Any]] = {}
        step = int(trainer.global_step)
        val_loss = metric(trainer, "val/loss")
        if val_loss is not None and not math.isfinite(val_loss):
            self._sticky.setdefault("non_finite", {"source": "val_loss", "step": step})
            return reasons
        is_forecast = getattr(getattr(pl_module, "task", None), "kind", None) == FORECASTING
        level = self.trivial_level(pl_module)
        if self.warmed_up(trainer):
            if is_forecast:
                skill = metric(trainer, "val/skill")
                mean_level = (
                    float(self._level_sum) / self._level_count if self._level_count else None
                )
                if skill is not None and skill <= self.min_forecast_skill:
                    reasons["trivial_loss"] = {
                        "val_skill": skill,
                        "threshold": self.min_forecast_skill,
                    }
                elif (
                    mean_level is not None
                    and val_loss is not None
                    and val_loss >= (1 - self.trivial_tolerance) * mean_level
                ):
                    reasons["trivial_loss"] = {
                        "val_loss": val_loss,
                        "mean_forecast_level": mean_level,
                    }
            elif (
                level is not None
                and val_loss is not None
                and val_loss >= (1 - self.trivial_tolerance) * level
            ):
                reasons["trivial_loss"] = {"val_loss": val_loss, "trivial_level": level}
        probe = self.probe_stats(pl_module)
        ratio = probe.get("effective_rank_ratio")
        if ratio is not None and ratio < self.rank_fraction:
            reasons["rank_collapse"] = probe
        entropy = probe.get("predictive_entropy")
        if (
            entropy is not None
            and not is_forecast
            and level is not None
            and val_loss is not None
            and entropy < self.entropy_floor
            and val_loss > self.entropy_loss_fraction * level
        ):
            reasons["entropy_collapse"] = {**probe, "val_loss": val_loss, "trivial_level": level}
        return reasons

    @torch.no_grad()
    def probe_stats(self, pl_module: pl.LightningModule) -> dict[str, Any]:
        """Effective rank of the last hidden state and (language models) mean predictive
        entropy, on the probe batch."""
        net = network(pl_module)
        if self.probe is None or not hasattr(net, "hidden_states"):
            return {}
        was_training = net.training
        net.eval()
        try:
            last = net.hidden_states(self.probe)[-1]
            output = net(self.probe)  # the real forward, whatever a subclass does to it
        finally:
            net.train(was_training)
        matrix = last.reshape(-1, last.shape[-1])
        rank = effective_rank(matrix)
        out: dict[str, Any] = {
            "effective_rank": rank,
            "attainable_rank": attainable_rank(*matrix.shape),
            "effective_rank_ratio": rank / attainable_rank(*matrix.shape),
        }
        vocab = getattr(getattr(pl_module, "task", None), "vocab_size", None)
        if vocab and output.shape[-1] == vocab:
            logp = torch.log_softmax(output.float(), dim=-1)
            out["predictive_entropy"] = float(-(logp.exp() * logp).sum(-1).mean())
        return out

    # ------------------------------------------------------------ end of a run
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = int(trainer.global_step)
        if not self._validated and self._ema is not None and self.warmed_up(trainer):
            # No validation ran: judge the trivial level on the smoothed training loss.
            level = self.trivial_level(pl_module)
            if level is not None and self._ema >= (1 - self.trivial_tolerance) * level:
                self._state = {"trivial_loss": {"train_loss": self._ema, "trivial_level": level}}
        self._update_verdict(step, self._anywhere)
        self._write(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # No collectives here: the other ranks may already be gone.
        error = exception
        while error is not None and not isinstance(error, SynthosError):
            error = error.__cause__ or error.__context__
        if isinstance(error, SynthosError) and error.code == ErrorCode.MODEL_DIVERGED:
            self._sticky.setdefault(
                "non_finite",
                {"source": "train_loss", "step": int(trainer.global_step), "error": error.message},
            )
        self._update_verdict(int(trainer.global_step), False)
        self._write(trainer)

    # -------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            "ema": self._ema,
            "first_ema": self._first_ema,
            "min_ema": self._min_ema,
            "above_count": self._above_count,
            "sticky": self._sticky,
            "verdict": self.verdict,
            "unigram": None if self._unigram is None else self._unigram.cpu(),
            "unigram_tokens": self._unigram_tokens,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._ema = state_dict.get("ema")
        self._first_ema = state_dict.get("first_ema")
        self._min_ema = state_dict.get("min_ema")
        self._above_count = state_dict.get("above_count", 0)
        self._sticky = dict(state_dict.get("sticky", {}))
        self.verdict = state_dict.get("verdict") or self._fresh_verdict()
        self._unigram = state_dict.get("unigram")
        self._unigram_tokens = state_dict.get("unigram_tokens", 0)
