"""A cascade and a larger model it never saw, trained by the same protocol: the shared
harness of `cascade_prediction_check.py` (held-out larger models) and
`cascade_decisions.py` (which dataset gives the better model).

The held-out model is a one-job cascade of its own: the profile's protocol unchanged (the
data splits and vocabulary, warmup-stable-decay with budget points, the 80 % data share,
the largest tier's steps and evaluation limits, the learning-rate rule lr = 3e-3 *
sqrt(64 / d_model)), with a network 4x the parameters (without embeddings) of the largest
tier. Its measured value is read exactly as the cascade's points are (`law_points`: early
stopping on the selection split), at its full budget; the cascade predicts that size and
budget. Every run is `train.py` in a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from synthos.cascade.aggregate import aggregate_sweep, collect_jobs  # noqa: E402
from synthos.cascade.prediction import headline_for, law_points  # noqa: E402

#: The held-out network per family: about 4x the quick profile's largest tier.
HELDOUT_NET = {
    "resonance": {"d_model": 216, "n_layers": 6},
    "ten": {"d_model": 192, "n_layers": 6, "n_eigenstates": 128, "scales": [1, 2]},
}


def learning_rate(d_model: int) -> float:
    """The quick profile's rule, so the held-out model is tuned as the tiers are."""
    return round(3e-3 * math.sqrt(64 / d_model), 5)


def run(cmd: list[str], log: Path) -> float:
    """Run `cmd` from the repository root; its output to `log`; seconds taken."""
    started = time.time()
    env = {**os.environ, "WANDB_MODE": "disabled"}
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return time.time() - started


def train_cascade(data: list[str], work: Path, name: str, profile: str, extra=()) -> Path:
    """The profile's cascade on `data`; returns its sweep directory."""
    run(
        [
            sys.executable,
            "train.py",
            f"+cascade={profile}",
            *data,
            "trainer=cpu",
            "logger=csv",
            f"paths.log_dir={work}",
            f"paths.data_dir={work.parent / 'data'}",
            f"cascade.validation_id={name}",
            *extra,
        ],
        work / f"{name}.log",
    )
    return work / "cascade" / name


def train_heldout(data: list[str], work: Path, name: str, profile: str, family: str) -> Path:
    """The held-out model: a one-job cascade with the largest tier's settings."""
    plan = yaml.safe_load((ROOT / "synthos" / "conf" / "cascade" / f"{profile}.yaml").read_text())
    top = plan["cascade"]["tiers"][-1]
    tier = {"variants": 1, "data_fraction": top["data_fraction"], "trainer": top["trainer"]}
    net = HELDOUT_NET[family]
    prefix = f"cascade.models.{family}.tier1"
    overrides = [
        f"cascade.family={family}",
        f"cascade.tiers=[{_hydra_value(tier)}]",
        *(f"{prefix}.net.{k}={_hydra_value(v)}" for k, v in net.items()),
        f"{prefix}.optim.lr={learning_rate(net['d_model'])}",
    ]
    return train_cascade(data, work, name, profile, overrides)


def measured(sweep: Path) -> dict[str, Any]:
    """The held-out job's size, budget and early-stopped loss and headline metric."""
    jobs = collect_jobs(sweep)
    (job,) = [j for j in jobs if j["job"] == "t1v0"]
    if job.get("status") != "completed":
        raise RuntimeError(f"held-out model in {sweep} did not complete: {job.get('error')}")
    headline = headline_for(jobs)
    (final,) = [p for p in law_points([job], headline) if p.final]
    return {
        "params": final.params,
        "tokens": final.tokens,
        "loss": final.loss,
        "metric": final.metric if not headline.is_loss else final.loss,
        "metric_name": headline.metric,
        "seconds": job.get("seconds"),
    }


def predicted(sweep: Path, target: dict[str, Any]) -> dict[str, Any]:
    """The cascade's prediction at the held-out model's size and budget, and its baseline."""
    results = aggregate_sweep(
        sweep,
        target_params=target["params"],
        target_tokens=target["tokens"],
        detect=False,
        localize_model_rows=None,
    )
    return {
        "prediction": results["prediction"],
        "unavailable": results["prediction_unavailable"],
        "baseline": results["baseline_largest_tier_mean"],
        "models_completed": results["models_completed"],
        "cascade_seconds": sum(float(j.get("seconds") or 0) for j in results["jobs"]),
    }


def compare(name: str, cascade: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """One row: predicted vs actual, covered or not, against the largest-tier baseline."""
    pred = cascade["prediction"]
    row = {
        "dataset": name,
        "metric": actual["metric_name"],
        "heldout_params": actual["params"],
        "heldout_tokens": actual["tokens"],
        "actual": actual["metric"],
        "actual_loss": actual["loss"],
        "baseline": cascade["baseline"],
        "unavailable": cascade["unavailable"],
    }
    if pred is None:
        return {
            **row,
            "predicted": None,
            "covered": None,
            "error_prediction": None,
            "error_baseline": _error(cascade["baseline"], actual["metric"]),
        }
    return {
        **row,
        "predicted": pred["predicted"],
        "lower": pred["lower"],
        "upper": pred["upper"],
        "level": pred["level"],
        "loss": pred["loss"],
        "degenerate": pred["degenerate"],
        "reason": pred["reason"],
        "warnings": pred["warnings"],
        "covered": pred["lower"] <= actual["metric"] <= pred["upper"],
        "loss_covered": pred["loss"]["lower"] <= actual["loss"] <= pred["loss"]["upper"],
        "error_prediction": abs(pred["predicted"] - actual["metric"]),
        "error_loss": abs(pred["loss"]["predicted"] - actual["loss"]),
        "error_baseline": _error(cascade["baseline"], actual["metric"]),
    }


def write_json(path: Path, payload: Any) -> None:
    from synthos.fileio import write_json_atomic

    write_json_atomic(path, payload)


def _error(value: float | None, actual: float) -> float | None:
    return None if value is None else abs(value - actual)


def _hydra_value(value: Any) -> str:
    """A Python value as a Hydra override value (dicts and lists in its grammar)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)
