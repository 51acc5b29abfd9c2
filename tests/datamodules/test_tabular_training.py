"""A short real training run on tabular rows: the target accuracy (the headline metric)
rises far above the majority class; text batches log exactly what they did before."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from synthos.datamodules import TabularDataModule
from synthos.lit_modules import OptimConfig, build_module
from synthos.models import ResonanceNN
from synthos.task import TaskSpec

TEXT_METRICS = {"val/loss", "val/acc", "val/ppl"}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_net(vocab_size: int) -> ResonanceNN:
    return ResonanceNN(
        vocab_size=vocab_size, d_model=32, n_layers=2, n_heads=4, n_freqs=16, max_seq_len=64
    )


def trainer(max_steps: int = 0) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def test_target_accuracy_rises_well_above_majority(tmp_path):
    """The target is a deterministic function of one categorical column among noise."""
    rng = np.random.default_rng(0)
    n = 600
    shop = rng.choice([f"s{i}" for i in range(6)], n)
    mapping = {"s0": "low", "s1": "low", "s2": "mid", "s3": "mid", "s4": "high", "s5": "high"}
    pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "shop": shop,
            "other": rng.integers(0, 100, n),
            "tier": [mapping[s] for s in shop],
        }
    ).to_parquet(tmp_path / "shops.parquet", index=False)
    pl.seed_everything(0, workers=True)
    dm = TabularDataModule(
        str(tmp_path / "shops.parquet"),
        target_column="tier",
        batch_size=32,
        val_fraction=0.2,
        test_fraction=0.1,
        vocab_path=str(tmp_path / "ckpt" / "tabular_vocab.json"),
        seed=0,
    )
    spec = dm.task_spec()
    module = build_module(spec, tiny_net(spec.vocab_size), OptimConfig(lr=3e-3, warmup_steps=10))

    fit = trainer(max_steps=120)
    fit.fit(module, datamodule=dm)
    after = fit.validate(module, datamodule=dm, verbose=False)[0]
    test = fit.test(module, datamodule=dm, verbose=False)[0]

    majority = dm.majority_baseline("val")
    assert majority < 0.45
    assert after["val/target_acc"] > 0.9 > majority + 0.4, (after, majority)
    assert test["test/target_acc"] > 0.85
    assert set(after) == TEXT_METRICS | {"val/target_acc"}
    assert (tmp_path / "ckpt" / "tabular_vocab.json").is_file()


def test_text_batches_log_what_they_did_before():
    """Plain tensors and dicts without target_mask: no target_acc, same metrics."""
    torch.manual_seed(0)
    tokens = torch.randint(0, 50, (8, 13))
    module = build_module(TaskSpec(vocab_size=50), tiny_net(50))
    plain = trainer().validate(module, DataLoader(tokens, batch_size=4), verbose=False)[0]
    as_dict = [{"tokens": t} for t in tokens]
    wrapped = trainer().validate(module, DataLoader(as_dict, batch_size=4), verbose=False)[0]
    assert set(plain) == set(wrapped) == TEXT_METRICS
    for key in TEXT_METRICS:
        assert abs(plain[key] - wrapped[key]) < 1e-6
