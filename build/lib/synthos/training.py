"""One training job from a composed config: build, fit, test, write metrics.json.

`train.py` is a thin Hydra entry over `run_training`; tools and tests call it directly.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import wandb
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from synthos.callbacks import BudgetPoints, ProgressStream, RunHealthMonitor
from synthos.callbacks.common import find_callback
from synthos.errors import ErrorCode, SynthosError
from synthos.fileio import write_json_atomic

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry with a `_target_` in a callbacks or logger group (an entry set
    to null is switched off)."""
    if not group:
        return []
    return [instantiate(entry) for entry in group.values() if entry and "_target_" in entry]


def resume_checkpoint(cfg: DictConfig) -> str | None:
    if cfg.get("ckpt_path"):
        path = Path(cfg.ckpt_path)
        if not path.is_file():
            raise SynthosError(
                ErrorCode.CHECKPOINT, f"checkpoint to resume from does not exist: {path}"
            )
        return str(path)
    last = Path(cfg.paths.checkpoint_dir) / "last.ckpt"
    if cfg.get("resume") and last.is_file():
        log.info("Resuming from %s", last)
        return str(last)
    return None


def parameter_counts(net: torch.nn.Module) -> dict[str, int]:
    """All parameters, and those outside the input/output layers (`net.io`: embedding and
    tied head, or feature projections): the size a loss law over models is about, the same
    for every vocabulary and feature count."""
    total = sum(p.numel() for p in net.parameters())
    io = sum(p.numel() for p in net.io.parameters()) if hasattr(net, "io") else 0
    return {"parameters": total, "parameters_no_embedding": total - io}


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value.item() if isinstance(value, torch.Tensor) else value)
        for key, value in metrics.items()
        if not isinstance(value, torch.Tensor) or value.numel() == 1
    }


def run_training(cfg: DictConfig, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train and evaluate one model. Never raises for a data or model failure: the failure is
    logged with its code and recorded in metrics.json with `status: failed`. `record` adds
    fields (such as a cascade job's tier and variant) to metrics.json."""
    output_dir = Path(cfg.paths.output_dir)
    started = time.time()
    result: dict[str, Any] = {
        **(record or {}),
        "status": "running",
        "output_dir": str(output_dir),
    }
    # A run killed mid-way leaves this record, so aggregation can tell it was interrupted.
    write_json_atomic(output_dir / METRICS_FILE, result)
    trainer: pl.Trainer | None = None
    loggers: list[Logger] = []
    try:
        pl.seed_everything(cfg.seed, workers=True)
        datamodule: pl.LightningDataModule = instantiate(cfg.data)
        task = datamodule.task_spec()
        # The data decides the model's input/output sizes (the net's fields interpolate these).
        OmegaConf.update(cfg, "model.task", task.to_dict(), merge=True)
        model = instantiate(cfg.model)
        model.run_config = OmegaConf.to_container(cfg, resolve=True)
        loggers = instantiate_group(cfg.get("logger"))
        callbacks: list[Callback] = [
            callback
            for callback in instantiate_group(cfg.get("callbacks"))
            # Learning rates need a logger to go to.
            if loggers or not isinstance(callback, LearningRateMonitor)
        ]
        trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

        result["fit_started"] = True
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume_checkpoint(cfg))
        metrics = _scalar_metrics(trainer.callback_metrics)
        # Before testing: a test from a checkpoint restores the callbacks' saved state.
        _record_budget_points(trainer, result)
        if cfg.get("test"):
            best = _best_checkpoint(trainer)
            trainer.test(model, datamodule=datamodule, ckpt_path=best, weights_only=False)
            metrics.update(_scalar_metrics(trainer.callback_metrics))
            result["test_checkpoint"] = best
        result.update(
            status="completed",
            metrics=metrics,
            task=task.to_dict(),
            **parameter_counts(model.net),
            global_step=trainer.global_step,
            checkpoint_dir=str(cfg.paths.checkpoint_dir),
        )
    except Exception as exc:  # recorded, then reported by the caller
        error = as_synthos_error(exc)
        if error.code == ErrorCode.INTERNAL:
            log.exception("Run failed with an internal error")
        log.error("Run failed: %s", error)
        result.update(status="failed", error=error.to_dict())
    finally:
        monitor = find_callback(trainer, RunHealthMonitor) if trainer else None
        if monitor is not None:
            result["run_health"] = monitor.verdict
        stream = find_callback(trainer, ProgressStream) if trainer else None
        if stream is not None:  # a cascade job: its mean GPU utilisation (null off GPUs)
            result["gpu_utilization"] = stream.gpu_utilization
        if "budget_points" not in result:  # a run that stopped in fit keeps its points
            _record_budget_points(trainer, result)
        result["seconds"] = round(time.time() - started, 3)
        write_json_atomic(output_dir / METRICS_FILE, result)
        if any(isinstance(lg, WandbLogger) for lg in loggers):
            wandb.finish()
    return result


def _record_budget_points(trainer: pl.Trainer | None, result: dict[str, Any]) -> None:
    budgets = find_callback(trainer, BudgetPoints) if trainer else None
    if budgets is not None:
        result["budget_points"] = budgets.summary()


def as_synthos_error(exc: BaseException) -> SynthosError:
    """The taxonomy error behind an exception (Hydra and Lightning wrap the original)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, SynthosError):
            return seen
        if isinstance(seen, torch.cuda.OutOfMemoryError):
            return SynthosError(ErrorCode.OUT_OF_MEMORY, str(seen), retry_after_seconds=60)
        if isinstance(seen, InstantiationException) and not isinstance(
            seen.__cause__, SynthosError
        ):
            return SynthosError(ErrorCode.MODEL_CONFIG, f"invalid configuration: {seen}")
        seen = seen.__cause__ or seen.__context__
    return SynthosError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")


def run_summary(result: dict[str, Any]) -> str:
    """A few lines telling the user how the run went and where everything is."""
    out = Path(result["output_dir"])
    lines = [f"Run {result['status']} in {result['seconds']:.1f} s"]
    if result["status"] == "completed":
        shown = {k: v for k, v in result["metrics"].items() if not k.endswith("_step")}
        lines += [f"  {k}: {v:.4g}" for k, v in sorted(shown.items())]
        lines.append(f"  checkpoints: {result['checkpoint_dir']}")
    else:
        lines.append(f"  error: {result['error']['message']}")
    lines += [f"  metrics:     {out / METRICS_FILE}", f"  logs:        {out}"]
    return "\n".join(lines)


def _best_checkpoint(trainer: pl.Trainer) -> str | None:
    checkpoints = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    # The monitored "best" when there is one, else the latest.
    for checkpoint in sorted(checkpoints, key=lambda c: c.monitor is None):
        if checkpoint.best_model_path:
            return checkpoint.best_model_path
    return None


def optimized_metric(cfg: DictConfig, result: dict[str, Any]) -> float:
    """The value a sweep optimises: the chosen metric, NaN for a failed run."""
    if result.get("status") != "completed":
        return float("nan")
    return result["metrics"].get(cfg.optimized_metric, float("nan"))
