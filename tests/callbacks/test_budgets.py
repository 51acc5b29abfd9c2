"""Budget points: warmup-stable-decay cooldown forks evaluated on a held-out split."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from synthos.callbacks import BudgetPoints
from synthos.callbacks.budgets import pooled_metrics
from synthos.errors import ModelError
from synthos.lit_modules import OptimConfig, build_module
from synthos.task import TaskSpec
from tests.callbacks.micro import VOCAB, pattern_tokens, resonance, trainer


class PatternData(pl.LightningDataModule):
    def __init__(self, n_train: int = 640, batch: int = 16) -> None:
        super().__init__()
        self.splits = {
            "train": pattern_tokens(n_train, seed=1),
            "val": pattern_tokens(48, seed=2),
            "test": pattern_tokens(48, seed=3),
        }
        self.batch = batch

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(0)
        return DataLoader(self.splits["train"], self.batch, shuffle=True, generator=generator)

    def val_dataloader(self):
        return DataLoader(self.splits["val"], self.batch)

    def test_dataloader(self):
        return DataLoader(self.splits["test"], self.batch)


def wsd_module(warmup: int = 4):
    torch.manual_seed(0)
    optim = OptimConfig(lr=1e-2, warmup_steps=warmup, schedule="wsd", cooldown_fraction=0.2)
    return build_module(TaskSpec(vocab_size=VOCAB), resonance(), optim)


def fit(tmp_path, callbacks, max_steps=40, warmup=4):
    module = wsd_module(warmup)
    data = PatternData()
    run = trainer(callbacks, tmp_path, max_steps=max_steps, val_check_interval=max_steps)
    run.fit(module, datamodule=data)
    return run, module, data


def test_forks_record_each_budget_and_leave_the_main_run_untouched(tmp_path):
    budgets = BudgetPoints(fractions=[0.25, 0.5])
    run, module, data = fit(tmp_path / "a", [budgets])
    _, plain, _ = fit(tmp_path / "b", [])
    # The forks restore every state: the main run ends exactly where a run without them does.
    for (name, a), b in zip(module.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    summary = budgets.summary()
    assert [p["steps"] for p in summary["points"]] == [10, 20, 40]
    assert [p["final"] for p in summary["points"]] == [False, False, True]
    tokens_per_step = 16 * 32
    assert [p["tokens"] for p in summary["points"]] == [
        10 * tokens_per_step,
        20 * tokens_per_step,
        40 * tokens_per_step,
    ]
    losses = [p["metrics"]["loss"] for p in summary["points"]]
    assert losses[0] > losses[1] > losses[2]  # a learnable pattern: more budget, lower loss
    assert all(p["rows"] == 48 and p["metrics"]["loss_se"] > 0 for p in summary["points"])
    # The selection split is another held-out split: close to, but not, the test loss.
    selection = [p["selection"]["loss"] for p in summary["points"]]
    assert selection[0] > selection[1] > selection[2] and selection != losses
    # The final point is the trained model on the test split: what trainer.test reports.
    (tested,) = run.test(module, datamodule=data, verbose=False)
    assert losses[2] == pytest.approx(tested["test/loss"], rel=1e-5)


def test_a_fork_matches_a_run_trained_for_that_budget_alone(tmp_path):
    """The point at a budget is a valid end of training there: close to a separate WSD run
    of that length (they differ only in the cooldown batches' order), and far from the
    neighbouring budgets' points."""
    budgets = BudgetPoints(fractions=[0.25, 0.5])
    fit(tmp_path / "forked", [budgets], max_steps=40, warmup=2)
    losses = {p["steps"]: p["metrics"]["loss"] for p in budgets.summary()["points"]}
    alone = BudgetPoints(fractions=[0.5])
    fit(tmp_path / "alone", [alone], max_steps=20, warmup=2)
    (final,) = [p for p in alone.summary()["points"] if p["final"]]
    gap = abs(losses[20] - final["metrics"]["loss"])
    assert gap < 0.25 * min(losses[10] - losses[20], losses[20] - losses[40])


def test_budgets_inside_warmup_are_skipped_with_a_note(tmp_path):
    budgets = BudgetPoints(fractions=[0.05, 0.5])
    fit(tmp_path, [budgets], max_steps=40)
    summary = budgets.summary()
    assert [p["steps"] for p in summary["points"]] == [20, 40]
    assert len(summary["skipped"]) == 1 and "warmup" in summary["skipped"][0]


def test_cosine_schedule_is_refused(tmp_path):
    module = build_module(
        TaskSpec(vocab_size=VOCAB), resonance(), OptimConfig(schedule="cosine", warmup_steps=2)
    )
    run = trainer([BudgetPoints()], tmp_path, max_steps=8)
    with pytest.raises(ModelError, match="warmup-stable-decay"):
        run.fit(module, datamodule=PatternData())


def test_pooled_metrics_are_ratios_with_row_standard_errors():
    terms = {
        "loss_sum": torch.tensor([2.0, 4.0, 6.0]),
        "loss_count": torch.tensor([2.0, 2.0, 2.0]),
        "target_acc_sum": torch.tensor([1.0, 0.0, 1.0]),
        "target_acc_count": torch.tensor([1.0, 1.0, 1.0]),
    }
    out = pooled_metrics(terms)
    assert out["loss"] == pytest.approx(2.0)
    # Per-row means 1, 2, 3: standard error of their mean.
    assert out["loss_se"] == pytest.approx(1.0 / math.sqrt(3))
    assert out["target_acc"] == pytest.approx(2 / 3)
    assert out["target_acc_se"] == pytest.approx(math.sqrt((2 / 3) * (1 / 3) / 2))
