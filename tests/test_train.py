"""train.py end to end: real Trainer runs on the bundled sample data."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from synthos.errors import ErrorCode
from synthos.lit_modules import load_module
from synthos.training import run_training
from tests.conftest import ROOT

SHORT_TEXT = [
    "data.vocab_size=300",
    "data.seq_len=32",
    "data.batch_size=4",
    "trainer.max_epochs=-1",
    "trainer.check_val_every_n_epoch=null",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.num_sanity_val_steps=0",
]


def run_train_py(tmp_path: Path, data_dir: Path, *overrides: str, env_extra=None):
    env = {**os.environ, "WANDB_MODE": "disabled", **(env_extra or {})}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [
            sys.executable,
            "train.py",
            f"paths.log_dir={tmp_path}",
            f"paths.data_dir={data_dir}",
            f"hydra.run.dir={tmp_path / 'run'}",
            "trainer=cpu",
            *overrides,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("experiment", ["sample_text", "sample_series"])
def test_train_py_fast_dev_run(tmp_path, data_dir, experiment):
    proc = run_train_py(tmp_path, data_dir, f"experiment={experiment}", "trainer.fast_dev_run=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["global_step"] == 1
    key = "test/loss"
    assert key in metrics["metrics"] and metrics["metrics"][key] > 0


def read_logged_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss_step")]


def test_training_writes_metrics_and_checkpoint_that_rebuilds_without_hydra(make_cfg, tmp_path):
    cfg = make_cfg(
        *SHORT_TEXT,
        "trainer.max_steps=6",
        "trainer.val_check_interval=3",
        "trainer.log_every_n_steps=1",
    )
    result = run_training(cfg)
    assert result["status"] == "completed", result
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["metrics"]["val/loss"] == pytest.approx(result["metrics"]["val/loss"])
    assert {"val/acc", "val/ppl", "test/loss", "test/ppl"} <= set(saved["metrics"])
    assert saved["task"]["kind"] == "language_model"
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert (tmp_path / "checkpoints" / "tokenizer.json").is_file()
    module = load_module(str(last))
    assert module.net.config.vocab_size == saved["task"]["vocab_size"]
    assert module.run_config["data"]["seq_len"] == 32
    tokens = torch.randint(0, module.net.config.vocab_size, (1, 16))
    assert module.net(tokens).shape == (1, 16, module.net.config.vocab_size)


def test_resume_from_last_checkpoint(make_cfg, tmp_path):
    common = [*SHORT_TEXT, "trainer.val_check_interval=2", "trainer.log_every_n_steps=1"]
    first = run_training(make_cfg(*common, "trainer.max_steps=4", output_dir=tmp_path / "a"))
    assert first["status"] == "completed" and first["global_step"] == 4
    # A second launch in a new run dir, with the same checkpoint dir, continues at step 4.
    second_dir = tmp_path / "b"
    second = run_training(
        make_cfg(
            *common,
            "trainer.max_steps=8",
            f"paths.checkpoint_dir={tmp_path / 'a' / 'checkpoints'}",
            output_dir=second_dir,
        )
    )
    assert second["status"] == "completed" and second["global_step"] == 8
    steps = read_logged_steps(second_dir)
    assert steps and min(steps) >= 4, steps


def test_nan_loss_stops_run_without_nan_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg(
        *SHORT_TEXT,
        "trainer.max_steps=40",
        "trainer.val_check_interval=2",
        "model.optim.lr=1e30",
        "model.optim.warmup_steps=0",
        "trainer.gradient_clip_val=null",
    )
    result = run_training(cfg)
    assert result["status"] == "failed"
    assert result["error"]["code"] == ErrorCode.MODEL_DIVERGED
    assert "training loss became" in result["error"]["message"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["status"] == "failed"
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt"):
        state = torch.load(ckpt, weights_only=False)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt


class CorruptWeightsAfter(Callback):
    """Makes the weights NaN after training step `step`, as a diverging update would (the
    loss of that step was still finite, so only the next validation can notice)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.net.parameters()).fill_(math.nan)


@pytest.mark.parametrize("diverged_at", [1, 3])
def test_diverged_weights_stop_run_at_validation_and_are_never_checkpointed(
    make_cfg, tmp_path, diverged_at
):
    cfg = make_cfg(
        *SHORT_TEXT,
        "trainer.max_steps=6",
        "trainer.val_check_interval=1",
        f"+callbacks.corrupt._target_={__name__}.CorruptWeightsAfter",
        f"+callbacks.corrupt.step={diverged_at}",
    )
    result = run_training(cfg)
    assert result["status"] == "failed"
    assert result["error"]["code"] == ErrorCode.MODEL_DIVERGED
    assert f"validation loss became nan at step {diverged_at}" in result["error"]["message"]
    saved = {}
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(ckpt, weights_only=False)
        state = checkpoint["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt
        saved[ckpt.name] = checkpoint["global_step"]
    # The last healthy validation (if any) is what `best` and `last` hold.
    healthy = {"last.ckpt": diverged_at - 1, f"best-{diverged_at - 1}.ckpt": diverged_at - 1}
    assert saved == (healthy if diverged_at > 1 else {})


class RequireBfloat16(Callback):
    """Fails the run if the network's output head runs in anything but bfloat16."""

    def on_fit_start(self, trainer, pl_module) -> None:
        pl_module.net.io.head.register_forward_hook(self.check)

    @staticmethod
    def check(module, inputs, output) -> None:
        if output.dtype != torch.bfloat16:
            raise AssertionError(f"the head ran in {output.dtype}")


SHORT_SERIES = [
    "experiment=sample_series",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]


@pytest.mark.parametrize(
    "data, precision, runs_in_bf16",
    [
        ("text", "bf16-mixed", True),
        ("series", "bf16-mixed", True),
        ("text", "32-true", False),
    ],
)
def test_precision_switch(make_cfg, data, precision, runs_in_bf16):
    short = {"text": [*SHORT_TEXT, "trainer.max_steps=2"], "series": SHORT_SERIES}[data]
    cfg = make_cfg(
        *short,
        f"trainer.precision={precision}",
        f"+callbacks.require_bf16._target_={__name__}.RequireBfloat16",
    )
    result = run_training(cfg)
    if runs_in_bf16:
        assert result["status"] == "completed", result
        assert math.isfinite(result["metrics"]["test/loss"])
    else:
        assert result["status"] == "failed"
        assert "the head ran in torch.float32" in result["error"]["message"]


def test_failed_run_exits_nonzero_with_clear_message(tmp_path, data_dir):
    proc = run_train_py(
        tmp_path,
        data_dir,
        "data=text",
        f"data.path={tmp_path / 'missing.jsonl'}",
        "trainer.fast_dev_run=true",
    )
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "missing.jsonl" in output and "Traceback" not in output


def test_wandb_runs_offline_without_network(tmp_path, data_dir):
    proc = run_train_py(
        tmp_path,
        data_dir,
        "experiment=sample_series",
        "logger=wandb",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        env_extra={"WANDB_MODE": "offline", "WANDB_BASE_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb")), "no offline run file was written"
