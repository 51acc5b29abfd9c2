"""Train one model, or one job of a cascade: the Hydra application behind `train.py`,
`python -m synthos.train` and `synthos-train`. Its configs ship inside the package
(`synthos/conf/`), so an installed Synthos trains without a checkout."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from synthos.cascade.job import run_cascade_job
from synthos.config_schema import register_configs
from synthos.training import optimized_metric, run_summary, run_training

register_configs()

#: An absolute path: run as a script or imported as `synthos.train`, Hydra finds the same
#: directory (a relative one would be read as the package `synthos.conf`).
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train.yaml")
def main(cfg: DictConfig) -> float:
    result = run_cascade_job(cfg) if cfg.get("cascade") else run_training(cfg)
    print(run_summary(result))
    if result["status"] != "completed" and HydraConfig.get().mode == RunMode.RUN:
        # The error was already logged with its code; exit without a stack trace.
        sys.exit(1)
    return optimized_metric(cfg, result)


if __name__ == "__main__":
    main()
