"""Data loading off the GPU's critical path: workers for GPU trainer configs only, pinned
batches when the trainer runs on CUDA, and the same batches with workers as without."""

from __future__ import annotations

import types

import lightning.pytorch as pl
import pytest
import torch

from tests.conftest import compose_train
from tests.datamodules.test_text_datamodule import make, write_jsonl


@pytest.fixture
def jsonl(tmp_path, stdlib_docs):
    return write_jsonl(tmp_path / "docs.jsonl", [{"text": d[:600]} for d in stdlib_docs[:120]])


def workers(tmp_path, data_dir, *overrides: str) -> int:
    return compose_train(list(overrides), tmp_path, data_dir).data.num_workers


@pytest.mark.parametrize("data", ["tabular_sample", "series_sample"])
def test_gpu_trainer_config_sets_workers_for_every_data_kind(tmp_path, data_dir, data):
    assert workers(tmp_path, data_dir, f"data={data}", "trainer=gpu") == 2
    assert workers(tmp_path, data_dir, f"data={data}") == 0


def test_gpu_configs_load_with_workers_cpu_configs_without(tmp_path, data_dir):
    assert workers(tmp_path, data_dir, "trainer=gpu") == 2
    assert workers(tmp_path, data_dir, "+cascade=full") == 2
    # The user still decides.
    assert workers(tmp_path, data_dir, "trainer=gpu", "data.num_workers=0") == 0
    for trainer in ("default", "cpu", "ddp_spawn"):
        assert workers(tmp_path, data_dir, f"trainer={trainer}") == 0


def test_batches_are_pinned_only_for_a_cuda_trainer(jsonl, tmp_path):
    dm = make(jsonl, tmp_path)
    assert not dm.train_dataloader().pin_memory  # no trainer attached
    dm.trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    assert not dm.train_dataloader().pin_memory and not dm.val_dataloader().pin_memory
    dm.trainer = types.SimpleNamespace(
        strategy=types.SimpleNamespace(root_device=torch.device("cuda", 0))
    )
    assert dm.train_dataloader().pin_memory and dm.test_dataloader().pin_memory


def test_worker_processes_give_the_same_batches(jsonl, tmp_path):
    inline = make(jsonl, tmp_path, num_workers=0)
    workers = make(jsonl, tmp_path, num_workers=2)
    loader = workers.train_dataloader()
    assert loader.num_workers == 2 and loader.persistent_workers
    for a, b in zip(inline.train_dataloader(), loader, strict=True):
        assert torch.equal(a, b)
