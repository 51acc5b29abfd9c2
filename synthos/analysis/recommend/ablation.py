"""Retraining on a fixed dataset: tier 1 of the cascade, run the way a user runs it.

Each measured dataset is trained by `python train.py +cascade=<profile>
cascade.run_tiers=[1] cascade.tiers.0.variants=<seeds>` in a subprocess (the cascade's own
sweep: its job code, seeds, data sub-samples and metrics.json files), with the data config of
the original cascade (or of the modality) pointed at the dataset. The headline metric of
every finished job is read back from its metrics.json: test target accuracy for tables, test
loss for text, forecast skill for series, on the same held-out reference rows for every
dataset when a reference is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.errors import ErrorCode, SynthosError
from synthos.stage_cache import StageCache

#: Headline metric per modality: (metrics.json key, higher is better).
HEADLINES = {
    "tabular": ("test/target_acc", True),
    "text": ("test/loss", False),
    "time_series": ("test/skill", True),
}
DATA_GROUPS = {"tabular": "tabular", "text": "text", "time_series": "series"}
#: Data settings carried over from the original cascade's data config when it is given.
CARRIED = {
    "tabular": (
        "target_column",
        "columns",
        "n_bins",
        "max_categories",
        "val_fraction",
        "test_fraction",
    ),
    "text": ("text_column", "vocab_size", "seq_len", "val_fraction", "test_fraction"),
    "time_series": ("columns", "time_column", "context_len", "horizon", "season_length"),
}


@dataclass
class AblationRunner:
    """Trains tier 1 of a cascade profile on datasets, `seeds` models each.

    data: data settings beyond the dataset path (reference_path, target_column, ...).
    """

    modality: str
    work_dir: Path
    seeds: int
    profile: str
    overrides: list[str]
    data: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 3600.0
    cache: StageCache | None = None

    @property
    def metric(self) -> tuple[str, bool]:
        return HEADLINES[self.modality]

    def command(self, name: str, dataset: str) -> list[str]:
        """The training command; paths absolute, as it runs in `work_dir`."""
        values = {"path": os.path.abspath(dataset), **self.data}
        if values.get("reference_path") is not None:
            values["reference_path"] = os.path.abspath(values["reference_path"])
        data = [f"data={DATA_GROUPS[self.modality]}"]
        data += [f"data.{key}={_hydra_value(value)}" for key, value in values.items()]
        return [
            sys.executable,
            "-m",
            "synthos.train",
            f"+cascade={self.profile}",
            "cascade.run_tiers=[1]",
            f"cascade.tiers.0.variants={self.seeds}",
            f"cascade.validation_id={name}",
            "cascade.localize=false",
            f"paths.log_dir={self.work_dir.resolve()}",
            *data,
            *self.overrides,
        ]

    def train(self, name: str, dataset: str | os.PathLike) -> list[float]:
        """The headline metric of each of the `seeds` models trained on `dataset` (from the
        cache when the same data was trained the same way before)."""
        if self.cache is None:
            return self._train(name, dataset)
        settings = {
            "modality": self.modality,
            "seeds": self.seeds,
            "profile": self.profile,
            "overrides": self.overrides,
            "data": {k: v for k, v in self.data.items() if k != "reference_path"},
        }
        inputs = {"dataset": dataset, "reference": self.data.get("reference_path")}
        key = self.cache.key("retrain", settings, inputs)
        return self.cache.cached("retrain", key, lambda: {"values": self._train(name, dataset)})[
            "values"
        ]

    def _train(self, name: str, dataset: str | os.PathLike) -> list[float]:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled")}
        try:
            proc = subprocess.run(
                self.command(name, os.fspath(dataset)),
                cwd=self.work_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise SynthosError(
                ErrorCode.TIMEOUT, f"retraining on {name} took over {self.timeout_s:.0f} s"
            ) from exc
        sweep = self.work_dir / "cascade" / name
        values = []
        for job in sorted(sweep.glob("t1v*/metrics.json")):
            record = json.loads(job.read_text())
            value = (record.get("metrics") or {}).get(self.metric[0])
            if record.get("status") == "completed" and value is not None:
                values.append(float(value))
        if not values:
            tail = (proc.stderr or proc.stdout or "")[-500:].strip()
            raise SynthosError(
                ErrorCode.MODEL_CONFIG,
                f"retraining on {name} finished no model (exit {proc.returncode}): {tail}",
            )
        return values


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    text = str(value)
    return f"'{text}'" if any(c in text for c in " ,=[]{}") else text


def data_settings(
    modality: str, reference: str | None, cascade_checkpoint: dict[str, Any] | None, known: dict
) -> dict[str, Any]:
    """Data settings of the retraining: the original cascade's where it has them, else what
    the localizer found (target, text or time column), and the reference."""
    settings: dict[str, Any] = {}
    original = {}
    if cascade_checkpoint is not None:
        original = ((cascade_checkpoint.get("hyper_parameters") or {}).get("run_config") or {}).get(
            "data"
        ) or {}
    for key in CARRIED[modality]:
        value = original.get(key, known.get(key))
        if value is not None:
            settings[key] = value
    if reference is not None:
        settings["reference_path"] = reference
    return settings
