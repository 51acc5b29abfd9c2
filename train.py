"""Train one model: `python train.py [overrides]`. See conf/train.yaml and README.md."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from synthos.cascade.job import run_cascade_job
from synthos.config_schema import register_configs
from synthos.training import optimized_metric, run_summary, run_training

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train.yaml")
def main(cfg: DictConfig) -> float:
    result = run_cascade_job(cfg) if cfg.get("cascade") else run_training(cfg)
    print(run_summary(result))
    if result["status"] != "completed" and HydraConfig.get().mode == RunMode.RUN:
        # The error was already logged with its code; exit without a stack trace.
        sys.exit(1)
    return optimized_metric(cfg, result)


if __name__ == "__main__":
    main()
