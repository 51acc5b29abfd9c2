"""Shared fixtures: composed training configs with every path in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from synthos.config_schema import register_configs

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "synthos" / "conf"

register_configs()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Sample data is generated once per test session."""
    return tmp_path_factory.mktemp("data")


def compose_train(overrides: list[str], output_dir: Path, data_dir: Path) -> DictConfig:
    """Compose synthos/conf/train.yaml as `python train.py` would, with paths under `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train.yaml",
            return_hydra_config=True,
            overrides=[
                f"paths.log_dir={output_dir}",
                f"paths.data_dir={data_dir}",
                f"hydra.run.dir={output_dir}",
                *overrides,
            ],
        )
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(ROOT)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


FAST_CPU = [
    "trainer=cpu",
    "logger=csv",
    "trainer.enable_progress_bar=false",
    "++callbacks.model_summary=null",
]


@pytest.fixture
def make_cfg(tmp_path, data_dir):
    def make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        return compose_train([*FAST_CPU, *overrides], output_dir or tmp_path, data_dir)

    return make
