"""One cascade job: the training config for tier t, variant v, and a skip when it is done.

The job reads everything from its config and writes everything to its own directory, so it
runs the same under the basic, joblib or submitit launcher.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from synthos.cascade.device_slots import claim_device_slot
from synthos.cascade.plan import CascadeJob
from synthos.errors import ErrorCode, SynthosError
from synthos.fileio import write_json_atomic
from synthos.training import METRICS_FILE, run_training

log = logging.getLogger(__name__)


def finished_result(job_dir: Path) -> dict[str, Any] | None:
    path = job_dir / METRICS_FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return result if result.get("status") == "completed" else None


def configure_job(cfg: DictConfig, job: CascadeJob) -> DictConfig:
    """The plain training config of one job (model, seed, data budget, trainer, logging)."""
    cascade = cfg.cascade
    if not 1 <= job.tier <= len(cascade.tiers):
        raise SynthosError(
            ErrorCode.MODEL_CONFIG, f"job {job.name}: no tier {job.tier} in the plan"
        )
    tier = cascade.tiers[job.tier - 1]
    if job.variant >= tier.variants:
        raise SynthosError(
            ErrorCode.MODEL_CONFIG, f"job {job.name}: tier {job.tier} has {tier.variants} variants"
        )
    family_models = cascade.models.get(cascade.family)
    if family_models is None:
        raise SynthosError(
            ErrorCode.MODEL_CONFIG,
            f"unknown cascade.family {cascade.family!r}; expected one of {list(cascade.models)}",
        )
    base_seed = int(cascade.seed)
    job_cfg = copy.deepcopy(cfg)
    with open_dict(job_cfg):
        job_cfg.cascade.tier = job.tier
        job_cfg.cascade.variant = job.variant
        job_cfg.cascade.models_total = sum(t.variants for t in cascade.tiers)
        # The validation's seed stays the splits' seed (data.seed follows cascade.seed);
        # only the job's own training seed and sub-sample change with the job.
        job_cfg.cascade.seed = base_seed
        job_cfg.seed = job.seed(base_seed)
        job_cfg.model = family_models[f"tier{job.tier}"]
        job_cfg.model.optim.schedule = "wsd"
        job_cfg.model.optim.cooldown_fraction = float(cascade.cooldown_fraction)
        job_cfg.model.optim.warmup_steps = int(cascade.warmup_steps)
        job_cfg.data.train_fraction = tier.data_fraction
        job_cfg.data.subsample_seed = job_cfg.seed
        _share_vocabulary(job_cfg.data, Path(cfg.paths.output_dir).parent)
        job_cfg.trainer = OmegaConf.merge(job_cfg.trainer, tier.get("trainer") or {})
        devices = cascade.get("devices_per_job")
        if devices is not None:
            # The launcher decides: one device per parallel job, or (SLURM) one rank per task.
            job_cfg.trainer.devices = int(devices)
            job_cfg.trainer.strategy = "ddp" if int(devices) > 1 else "auto"
        job_cfg.tags = [*cfg.tags, f"tier{job.tier}", f"variant{job.variant}", cascade.family]
    return job_cfg


#: Data settings naming the vocabulary a DataModule fits once and reuses.
VOCABULARY_FILES = {"vocab_path": "tabular_vocab.json", "tokenizer_path": "tokenizer.json"}


def _share_vocabulary(data_cfg: DictConfig, sweep_dir: Path) -> None:
    """Every job of a cascade reads one vocabulary, fitted on the whole training split, so the
    variants of a tier have one parameter count and tiers differ only in architecture."""
    for key, name in VOCABULARY_FILES.items():
        if key in data_cfg:
            data_cfg[key] = str(sweep_dir / name)


def _on_device(job_cfg: DictConfig, slot: int) -> DictConfig:
    """Train on the GPU of the claimed slot; on a machine without GPUs the slot only limits
    how many jobs train at once."""
    import torch

    if torch.cuda.is_available():
        with open_dict(job_cfg):
            job_cfg.trainer.devices = [slot % torch.cuda.device_count()]
            job_cfg.trainer.strategy = "auto"
    return job_cfg


def run_cascade_job(cfg: DictConfig) -> dict[str, Any]:
    """Train one job unless an earlier launch finished it; never raises (a failure is recorded
    in the job's metrics.json so the rest of the cascade still aggregates)."""
    job_dir = Path(cfg.paths.output_dir)
    record: dict[str, Any] = {"job": str(cfg.cascade.job)}
    try:
        job = CascadeJob.parse(cfg.cascade.job)
        record.update(tier=job.tier, variant=job.variant, family=cfg.cascade.family)
        done = finished_result(job_dir)
        if done is not None:
            log.info("Cascade job %s already finished; skipping", job.name)
            return done
        job_cfg = configure_job(cfg, job)
    except Exception as exc:  # a plan error must still leave a record for aggregation
        error = exc if isinstance(exc, SynthosError) else SynthosError(ErrorCode.INTERNAL, str(exc))
        log.error("Cascade job %s failed: %s", record["job"], error)
        result = {**record, "status": "failed", "error": error.to_dict()}
        write_json_atomic(job_dir / METRICS_FILE, result)
        return result
    slots = cfg.cascade.get("device_slots")
    if slots:
        with claim_device_slot(job_dir.parent, int(slots)) as slot:
            record["device_slot"] = slot
            result = run_training(_on_device(job_cfg, slot), record=record)
    else:
        result = run_training(job_cfg, record=record)
    if result["status"] != "completed" and not result.get("fit_started"):
        # No trainer ran, so no progress record marks this model's end: write one.
        progress = job_cfg.get("callbacks", {}).get("progress")
        if progress:
            instantiate(progress).report_failure(result["error"], result["seconds"])
    return result
