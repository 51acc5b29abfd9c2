"""Live progress of a cascade: `CascadeProgress` records from every job, at least every
`interval_s` seconds and when each model finishes or fails.

Records go to a JSONL file in the sweep directory (any launcher's cascade can be followed
with `tail -f`, and jobs in other processes learn from it how many models are done) and to
an in-process `ProgressBus` that a server can subscribe to. A background thread emits the
periodic records, so they keep coming while one training step runs for minutes.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import weakref
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from synthos.callbacks.bus import ProgressBus, default_bus
from synthos.callbacks.common import find_callback, finite_or_none, metric, step_loss
from synthos.callbacks.gpu import (
    GpuMonitor,
    UtilizationMeter,
    UtilizationSummary,
    cuda_pci_addresses,
)
from synthos.callbacks.gradients import GradientStats
from synthos.callbacks.jsonl import JsonlTail, append_jsonl
from synthos.callbacks.loss_curve import LossCurve, convergence_step, downsample
from synthos.callbacks.run_health import RunHealthMonitor
from synthos.callbacks.spectral import SpectralMetrics
from synthos.fileio import to_jsonable

PROGRESS_FILE = "progress.jsonl"
PROGRESS = "progress"
MODEL_FINISHED = "model_finished"
MODEL_FAILED = "model_failed"
END_EVENTS = (MODEL_FINISHED, MODEL_FAILED)


def iso_time(seconds: float) -> str:
    """ISO-8601 UTC timestamp of a `time.time()` value."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class CascadeProgress:
    """One progress record. `result` is set on model_finished / model_failed records.

    `models_completed` counts distinct models of this validation with a finished or failed
    record (this one included on its own end record); `progress_percent` adds the running
    model's fraction of its planned optimizer steps. `estimated_completion` (ISO-8601, UTC)
    is now + this model's remaining time at its current rate + the models still to start
    times the mean duration of finished models (sequential jobs assumed); None until it can
    be estimated. `current_loss` is the mean of the last 10 training losses.
    `gpu_utilization`: [{index, utilization_percent, memory_used_mb}], empty without NVML.
    `result` keys: validation_id, tier, variant, status, parameters, train_loss, val_loss,
    seconds, global_step, convergence_step, loss_curve ([[step, loss], ...]), metrics,
    gradients (GradientStats.latest), spectral (SpectralMetrics.latest), collapse
    ({collapsed, reasons, step, stopped} from RunHealthMonitor), gpu_utilization (the
    training's mean NVML utilisation, `UtilizationSummary`: null with a reason without
    NVML or a GPU), and error when failed; a callback that is absent gives null.
    """

    validation_id: str
    tier: int | str
    variant: int | str
    models_completed: int
    models_total: int
    progress_percent: float
    current_loss: float | None
    gpu_utilization: list[dict[str, Any]]
    estimated_completion: str | None
    timestamp: str
    event: str = PROGRESS
    step: int = 0
    total_steps: int | None = None
    result: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


def error_dict(error: BaseException) -> dict[str, Any]:
    """A Synthos error's own dict (code, name, message, ...), else its type and message."""
    to_dict = getattr(error, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return {"type": type(error).__name__, "message": str(error)}


def _stop_thread(stop: threading.Event, thread: threading.Thread | None) -> None:
    stop.set()
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        thread.join(timeout=5)


class ProgressStream(Callback):
    """Emits CascadeProgress records for one job of a cascade (rank 0 only).

    Args (plain types, so Hydra can build it):
        validation_id, tier, variant: identify the job; models are counted per
            (validation_id, tier, variant), so a re-run job is never counted twice.
        models_total: models in the whole cascade.
        sweep_dir: the sweep directory; the JSONL defaults to `<sweep_dir>/progress.jsonl`.
        jsonl_path: explicit JSONL path (wins over sweep_dir). Neither: no file sink, and
            only models finished in this process are counted.
        interval_s: the longest gap between two records while a model trains.
        curve_points: points in the result's downsampled loss curve.
        convergence_tol: see `convergence_step`.
        publish: also publish to the process's `default_bus()` (or `bus` when given).
        gpu_sample_s: period of the NVML utilisation samples averaged over the training.
    """

    def __init__(
        self,
        validation_id: str = "",
        tier: int | str = 0,
        variant: int | str = 0,
        models_total: int = 1,
        sweep_dir: str | None = None,
        jsonl_path: str | None = None,
        interval_s: float = 10.0,
        curve_points: int = 100,
        convergence_tol: float = 0.05,
        publish: bool = True,
        bus: ProgressBus | None = None,
        gpu_sample_s: float = 1.0,
    ) -> None:
        self.validation_id = str(validation_id)
        self.tier = tier
        self.variant = variant
        self.models_total = max(1, int(models_total))
        if jsonl_path is None and sweep_dir is not None:
            jsonl_path = str(Path(sweep_dir) / PROGRESS_FILE)
        self.jsonl_path = jsonl_path
        self.interval_s = float(interval_s)
        self.curve_points = curve_points
        self.convergence_tol = convergence_tol
        self.publish = publish
        self.bus = bus
        self.gpu_sample_s = float(gpu_sample_s)

        self.curve = LossCurve()
        self.records_emitted = 0
        self._previous_seconds = 0.0  # training time of earlier attempts (resume)
        self._init_runtime()

    # ------------------------------------------------------------- plumbing
    def _init_runtime(self) -> None:
        """Locks, thread and caches: never pickled (ddp_spawn copies callbacks)."""
        self._emit_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = True  # no periodic records
        self._ended = True  # no model in flight whose end still needs a record
        self._gpu = GpuMonitor()
        self._utilization = UtilizationMeter(self._gpu, self.gpu_sample_s)
        self._utilization_result = UtilizationSummary(
            None,
            reason="not measured in this process: no training ran here (ddp_spawn: see progress)",
        ).to_dict()
        self._tail = JsonlTail(self.jsonl_path) if self.jsonl_path else None
        self._finished: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._recent: deque[float] = deque(maxlen=10)
        self._last_flush = 0.0
        self._last_emit = 0.0
        self._started = 0.0
        self._start_step: int | None = None
        self._step = 0
        self._total_steps: int | None = None
        self._finalizer = weakref.finalize(self, _stop_thread, self._stop, None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in list(state):
            if key.startswith("_") and key not in ("_previous_seconds",):
                del state[key]
        state["bus"] = None  # a bus holds locks; a spawned worker uses its own default bus
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._previous_seconds = state.get("_previous_seconds", 0.0)
        self._init_runtime()

    @property
    def gpu_utilization(self) -> dict[str, Any]:
        """The last training's mean GPU utilisation (`UtilizationSummary` as a dict)."""
        return self._utilization_result

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.validation_id, str(self.tier), str(self.variant))

    # ---------------------------------------------------------------- hooks
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and trainer.is_global_zero:
            self._ended = False
            self._started = time.time()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self._stop_thread()
        self._stop = threading.Event()
        self._closed = False
        self._started = time.time()
        self._start_step = None
        self._step = int(trainer.global_step)
        total = trainer.estimated_stepping_batches
        self._total_steps = (
            int(total) if isinstance(total, (int, float)) and math.isfinite(total) else None
        )
        self._start_utilization(trainer)
        self._emit(PROGRESS)
        self._thread = threading.Thread(
            target=_timer_loop,
            args=(weakref.ref(self), self._stop, self.interval_s),
            name=f"ProgressStream-{self.tier}-{self.variant}",
            daemon=True,
        )
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _stop_thread, self._stop, self._thread)
        self._thread.start()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not trainer.is_global_zero:
            return
        step = int(trainer.global_step)
        if self._start_step is None:
            self._start_step = max(0, step - 1)
        self._step = step
        loss = step_loss(trainer, outputs)
        if loss is not None:
            self._pending.append((step, loss))
        now = time.monotonic()
        # Losses leave the device in batches: one host sync per flush, not per step.
        if len(self._pending) >= 64 or now - self._last_flush >= min(5.0, self.interval_s / 2):
            self._flush_losses()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or self._ended:
            return
        self._finish(trainer, pl_module, MODEL_FINISHED, None)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not trainer.is_global_zero or self._ended:
            return
        monitor = find_callback(trainer, RunHealthMonitor)
        if monitor is not None:  # idempotent; makes the verdict current whatever the order
            monitor.on_exception(trainer, pl_module, exception)
        self._finish(trainer, pl_module, MODEL_FAILED, exception)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._stop_thread()
        self._utilization.stop()

    def state_dict(self) -> dict[str, Any]:
        return {
            "curve": self.curve.state_dict(),
            "seconds": self._previous_seconds + self._elapsed(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.curve.load_state_dict(state_dict.get("curve", {}))
        self._previous_seconds = float(state_dict.get("seconds", 0.0))

    def report_failure(self, error: BaseException | dict[str, Any], seconds: float = 0.0) -> None:
        """Record this job as failed when it fails outside the Trainer (loading data,
        building the model), so the cascade's count of finished models still adds up."""
        self._stop_thread()
        with self._emit_lock:
            self._closed = self._ended = True
        if isinstance(error, BaseException):
            error = error_dict(error)
        result = {
            "validation_id": self.validation_id,
            "tier": self.tier,
            "variant": self.variant,
            "status": "failed",
            "seconds": round(seconds, 3),
            "error": error,
        }
        self._emit(MODEL_FAILED, result, force=True)

    # ------------------------------------------------------------- internals
    def _start_utilization(self, trainer: pl.Trainer) -> None:
        """Average the utilisation of the GPUs this trainer uses, from now to the end."""
        device = trainer.strategy.root_device
        if device.type != "cuda":
            self._utilization.start(None, reason=f"no GPU: the job trains on {device.type}")
            return
        ordinals = list(trainer.device_ids) or [device.index or 0]
        self._utilization.start(self._gpu.indices_for(cuda_pci_addresses(ordinals)))

    def _stop_thread(self) -> None:
        _stop_thread(self._stop, self._thread)
        self._thread = None

    def _elapsed(self) -> float:
        return time.time() - self._started if self._started else 0.0

    def _flush_losses(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            values = torch.stack([loss.float() for _, loss in pending]).tolist()
        except RuntimeError:  # e.g. a failed device after an exception
            return
        for (step, _), value in zip(pending, values, strict=True):
            self.curve.add(step, value)
            if math.isfinite(value):
                self._recent.append(value)

    def current_loss(self) -> float | None:
        """Mean of the last (up to) 10 training losses."""
        recent = list(self._recent)
        return sum(recent) / len(recent) if recent else None

    def _finish(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        event: str,
        exception: BaseException | None,
    ) -> None:
        self._stop_thread()
        with self._emit_lock:
            self._closed = True
            self._ended = True
        self._step = int(trainer.global_step)
        self._flush_losses()
        self._utilization_result = self._utilization.stop().to_dict()
        try:
            result = self.model_result(trainer, pl_module, exception)
        except Exception as exc:  # a broken result must not hide the end of the model
            result = {"status": "failed" if exception else "completed", "result_error": repr(exc)}
        self._emit(event, result, force=True)
        self._gpu.close()

    def model_result(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        exception: BaseException | None = None,
    ) -> dict[str, Any]:
        """The finished model's summary (JSON-ready)."""
        net = getattr(pl_module, "net", pl_module)
        points = self.curve.points()
        recent = [loss for _, loss in points[-max(1, len(points) // 20) :]]
        grads = find_callback(trainer, GradientStats)
        spectral = find_callback(trainer, SpectralMetrics)
        monitor = find_callback(trainer, RunHealthMonitor)
        metrics = {}
        for name in trainer.callback_metrics:
            value = metric(trainer, name)
            if value is not None and not name.endswith("_step"):
                metrics[name] = finite_or_none(value)
        result: dict[str, Any] = {
            "validation_id": self.validation_id,
            "tier": self.tier,
            "variant": self.variant,
            "status": "failed" if exception is not None else "completed",
            "parameters": sum(p.numel() for p in net.parameters()),
            "train_loss": sum(recent) / len(recent) if recent else None,
            "val_loss": metric(trainer, "val/loss"),
            "seconds": round(self._previous_seconds + self._elapsed(), 3),
            "global_step": int(trainer.global_step),
            "convergence_step": convergence_step(points, self.convergence_tol),
            "loss_curve": downsample(points, self.curve_points),
            "metrics": metrics,
            "gradients": dict(grads.latest) if grads is not None and grads.latest else None,
            "spectral": dict(spectral.latest) if spectral is not None and spectral.latest else None,
            "run_health": None,
            "gpu_utilization": self.gpu_utilization,
        }
        if monitor is not None:
            verdict = monitor.verdict
            result["run_health"] = {
                "collapsed": verdict["collapsed"],
                "reasons": list(verdict["reasons"]),
                "step": verdict["step"],
                "stopped": verdict["stopped"],
            }
        if exception is not None:
            result["error"] = error_dict(exception)
        return result

    def _refresh_finished(self) -> None:
        if self._tail is None:
            return
        for record in self._tail.read_new():
            if (
                record.get("event") in END_EVENTS
                and record.get("validation_id") == self.validation_id
            ):
                key = (self.validation_id, str(record.get("tier")), str(record.get("variant")))
                self._finished[key] = record

    def _estimate(self, event: str, now: float) -> tuple[int, float, str | None]:
        """(models completed, percent, ETA) as of now."""
        others = {k: r for k, r in self._finished.items() if k != self.key}
        durations = [
            r["result"]["seconds"]
            for r in others.values()
            if r.get("event") == MODEL_FINISHED
            and isinstance(r.get("result"), dict)
            and isinstance(r["result"].get("seconds"), (int, float))
        ]
        average = sum(durations) / len(durations) if durations else None
        if event in END_EVENTS:
            if event == MODEL_FINISHED:  # this model's own duration counts too
                durations.append(self._previous_seconds + self._elapsed())
                average = sum(durations) / len(durations)
            completed = len(others) + 1
            remaining_models = max(0, self.models_total - completed)
            percent = 100.0 * completed / self.models_total
            eta = now + remaining_models * average if average is not None else None
            if remaining_models == 0:
                eta = now
        else:
            completed = len(others)
            fraction, this_remaining = self._model_fraction()
            if this_remaining is None:
                this_remaining = average
            remaining_models = max(0, self.models_total - completed - 1)
            percent = 100.0 * (completed + fraction) / self.models_total
            if average is None and this_remaining is not None and fraction > 0:
                average = this_remaining / (1 - fraction) if fraction < 1 else self._elapsed()
            eta = None
            if this_remaining is not None and (remaining_models == 0 or average is not None):
                eta = now + this_remaining + remaining_models * (average or 0.0)
        percent = min(100.0, max(0.0, percent))
        return completed, round(percent, 3), iso_time(eta) if eta is not None else None

    def _model_fraction(self) -> tuple[float, float | None]:
        """This model's fraction of its planned steps and the seconds it still needs."""
        total = self._total_steps
        if not total:
            return 0.0, None
        fraction = min(1.0, self._step / total)
        done_here = self._step - (self._start_step if self._start_step is not None else self._step)
        elapsed = self._elapsed()
        if done_here <= 0 or elapsed <= 0:
            return fraction, None
        return fraction, (total - self._step) * elapsed / done_here

    def _emit(self, event: str, result: dict[str, Any] | None = None, force: bool = False) -> None:
        """Build a record and send it to the sinks. Called by the timer thread and by the
        training thread; the lock keeps records whole and in order."""
        with self._emit_lock:
            if self._closed and not force:
                return
            now = time.time()
            self._refresh_finished()
            completed, percent, eta = self._estimate(event, now)
            record = CascadeProgress(
                validation_id=self.validation_id,
                tier=self.tier,
                variant=self.variant,
                models_completed=completed,
                models_total=self.models_total,
                progress_percent=percent,
                current_loss=finite_or_none(self.current_loss()),
                gpu_utilization=self._gpu.sample(),
                estimated_completion=eta,
                timestamp=iso_time(now),
                event=event,
                step=self._step,
                total_steps=self._total_steps,
                result=to_jsonable(result) if result is not None else None,
            )
            data = record.to_dict()
            if event in END_EVENTS:
                self._finished[self.key] = data
            if self.jsonl_path:
                with contextlib.suppress(OSError):  # a full disk must not kill training
                    append_jsonl(self.jsonl_path, data)
            if self.publish:
                (self.bus or default_bus()).publish(record)
            self.records_emitted += 1
            self._last_emit = time.monotonic()

    def _due_in(self) -> float:
        return self.interval_s - (time.monotonic() - self._last_emit)


def _timer_loop(ref: weakref.ref, stop: threading.Event, interval_s: float) -> None:
    """Emit a record whenever `interval_s` passed since the last one, until stopped.
    Holds only a weak reference, so a forgotten callback can still be collected."""
    wait = interval_s
    while not stop.wait(max(0.0, wait)):
        stream = ref()
        if stream is None:
            return
        wait = stream._due_in()
        if wait <= 0:
            with contextlib.suppress(Exception):  # the timer must outlive a bad sample
                stream._emit(PROGRESS)
            wait = max(stream._due_in(), 0.05)  # never spin, even if nothing was emitted
        del stream
