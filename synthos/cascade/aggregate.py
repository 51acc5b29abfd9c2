"""Aggregate a finished (or partly failed) cascade from its sweep directory on disk.

Works from files only, never from the launching process's memory, so the same code runs at
Hydra's `on_multirun_end` and as `synthos aggregate SWEEP_DIR` after any launcher.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from synthos.cascade.plan import JOB_NAME, CascadeJob, cascade_job_list
from synthos.cascade.prediction import (
    JobResult,
    baseline_largest_tier_mean,
    plot_scaling_fit,
    predict_scaling,
)
from synthos.cascade.wandb_summary import log_cascade_summary
from synthos.errors import DataError, ErrorCode, SynthosError
from synthos.report import empty_report, write_report
from synthos.training import METRICS_FILE, write_json_atomic

log = logging.getLogger(__name__)

RESULTS_FILE = "cascade_results.json"
PLOT_FILE = "scaling_fit.png"
PLAN_FILE = "cascade_plan.json"

# Headline metric per task: (metrics key, higher is better, natural range).
HEADLINE = {
    "language_model": ("test/loss", False, (0.0, None)),
    "tabular": ("test/target_acc", True, (0.0, 1.0)),
    "forecasting": ("test/skill", True, (None, 1.0)),
}


def collect_jobs(sweep_dir: Path, expected: list[str] | None = None) -> list[dict[str, Any]]:
    """Every job's metrics.json; a job that left none (crashed, killed, never ran) is missing."""
    names = set(expected or [])
    names |= {p.name for p in sweep_dir.iterdir() if p.is_dir() and JOB_NAME.match(p.name)}
    jobs = []
    for name in sorted(
        names, key=lambda n: (CascadeJob.parse(n).tier, CascadeJob.parse(n).variant)
    ):
        job = CascadeJob.parse(name)
        path = sweep_dir / name / METRICS_FILE
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            record = {
                "status": "missing",
                "error": {"message": f"no readable {METRICS_FILE}: {exc}"},
            }
        if record.get("status") == "running":
            record["status"] = "interrupted"
        record.update(job=name, tier=job.tier, variant=job.variant)
        jobs.append(record)
    return jobs


def headline_metric(jobs: list[dict[str, Any]]) -> tuple[str, bool, tuple]:
    done = [j for j in jobs if j.get("status") == "completed"]
    if any("test/target_acc" in j.get("metrics", {}) for j in done):
        return HEADLINE["tabular"]
    kinds = {j.get("task", {}).get("kind") for j in done}
    kind = kinds.pop() if len(kinds) == 1 else "language_model"
    return HEADLINE.get(kind, HEADLINE["language_model"])


def aggregate_sweep(
    sweep_dir: str | Path,
    target_params: int | None = None,
    level: float = 0.9,
    validation_id: str | None = None,
    dataset: dict[str, Any] | None = None,
    detect: bool = True,
) -> dict[str, Any]:
    """Build cascade_results.json, scaling_fit.png and the cascade part of report.json; then,
    when the plan names the dataset (and `detect`), run collapse detection on it with the
    cascade's results into the same report."""
    started = time.time()
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise DataError(
            "sweep directory not found", code=ErrorCode.DATA_NOT_FOUND, path=str(sweep_dir)
        )
    plan = _read_plan(sweep_dir)
    target_params = int(target_params or plan.get("target_params") or 0)
    validation_id = validation_id or plan.get("validation_id") or sweep_dir.name
    dataset = dataset or plan.get("dataset") or {}
    jobs = collect_jobs(sweep_dir, plan.get("jobs"))
    if not jobs:
        raise DataError(
            "no cascade jobs (t<tier>v<variant> directories) in the sweep directory",
            code=ErrorCode.DATA_EMPTY,
            path=str(sweep_dir),
        )
    metric, higher_is_better, metric_range = headline_metric(jobs)
    records = [
        JobResult(
            tier=j["tier"],
            variant=j["variant"],
            parameters=int(j.get("parameters") or 0),
            metric=float(j.get("metrics", {}).get(metric, float("nan"))),
            status=j.get("status", "missing"),
        )
        for j in jobs
    ]
    if not target_params:
        sizes = [r.parameters for r in records if r.parameters]
        target_params = 4 * max(sizes) if sizes else 1
    prediction = predict_scaling(
        records,
        target_params,
        metric=metric,
        higher_is_better=higher_is_better,
        level=level,
        metric_range=metric_range,
    )
    plot_scaling_fit(prediction, records, sweep_dir / PLOT_FILE)
    try:
        baseline = baseline_largest_tier_mean(records)
    except ValueError:
        baseline = None
    results = {
        "validation_id": validation_id,
        "sweep_dir": str(sweep_dir),
        "metric": metric,
        "higher_is_better": higher_is_better,
        "target_params": target_params,
        "models_total": len(jobs),
        "models_completed": sum(j["status"] == "completed" for j in jobs),
        "models_failed": sum(j["status"] != "completed" for j in jobs),
        "jobs": [_job_summary(j, metric) for j in jobs],
        "prediction": prediction.to_dict(),
        "baseline_largest_tier_mean": baseline,
        "plot": str(sweep_dir / PLOT_FILE),
    }
    write_json_atomic(sweep_dir / RESULTS_FILE, results)
    report = empty_report(validation_id, dataset)
    report["prediction"] = prediction.to_report()
    report["timings"] = {
        "cascade": round(sum(float(j.get("seconds") or 0) for j in jobs), 3),
        "aggregate": round(time.time() - started, 3),
    }
    report_path = write_report(sweep_dir, report)
    if detect and dataset.get("path"):
        results["collapse"] = run_collapse_stage(
            sweep_dir, dataset["path"], plan.get("reference_path")
        )
    log.info("Cascade aggregated: %s, %s", sweep_dir / RESULTS_FILE, report_path)
    return results


def run_collapse_stage(sweep_dir: Path, candidate: str, reference: str | None) -> dict[str, Any]:
    """Collapse detection on the cascade's data into report.json. A failure is reported
    (logged and returned) rather than raised: the cascade's prediction stands on its own."""
    from synthos.analysis.collapse import detect_collapse

    try:
        result = detect_collapse(candidate, reference=reference, cascade=sweep_dir)
    except SynthosError as exc:
        log.warning("Collapse detection failed: %s", exc)
        return {"status": "failed", "error": exc.to_dict()}
    write_report(sweep_dir, result.to_report())
    return {"status": "completed", "summary": result.summary()}


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def summary_text(results: dict[str, Any]) -> str:
    """What a person reads at the end of a cascade: models finished, the prediction, files."""
    prediction = results["prediction"]
    if results["models_completed"] == 0:
        outcome = f"no prediction ({prediction.get('reason')})"
    else:
        caveat = (
            f" (degenerate fit: {prediction.get('reason')})" if prediction.get("degenerate") else ""
        )
        outcome = (
            f"predicted {results['metric']} at {results['target_params']:,} parameters: "
            f"{prediction['predicted']:.4g} [{prediction['lower']:.4g}, "
            f"{prediction['upper']:.4g}]{caveat}"
        )
    sweep_dir = Path(results["sweep_dir"])
    collapse = results.get("collapse")
    if collapse is None:
        detection = ""
    elif collapse["status"] == "completed":
        detection = collapse["summary"] + "\n"
    else:
        detection = f"collapse detection failed: {collapse['error']['message']}\n"
    return (
        detection + f"Cascade {results['validation_id']}: {results['models_completed']}/"
        f"{results['models_total']} models finished; {outcome}\n"
        f"  report:  {sweep_dir / 'report.json'}\n  results: {sweep_dir / RESULTS_FILE}\n"
        f"  plot:    {sweep_dir / PLOT_FILE}"
    )


def _job_summary(job: dict[str, Any], metric: str) -> dict[str, Any]:
    summary = {
        key: job.get(key)
        for key in ("job", "tier", "variant", "status", "parameters", "seconds", "global_step")
    }
    summary["metric"] = job.get("metrics", {}).get(metric)
    summary["metrics"] = job.get("metrics", {})
    if job.get("error"):
        summary["error"] = job["error"]
    return summary


def _read_plan(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / PLAN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


class AggregateOnMultirunEnd(Callback):
    """Hydra callback: record the plan when the sweep starts, aggregate when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        cascade = config.cascade
        plan = {
            "validation_id": cascade.validation_id,
            "profile": cascade.profile,
            "family": cascade.family,
            "target_params": int(cascade.target_params),
            "level": float(cascade.level),
            "jobs": cascade_job_list(cascade.tiers).split(","),
            "reference_path": _optional_str(config.data.get("reference_path")),
            "dataset": {
                "path": str(config.data.path),
                "modality": None,
                "rows": None,
                "columns": [],
            },
        }
        write_json_atomic(sweep_dir / PLAN_FILE, plan)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        results = aggregate_sweep(sweep_dir, level=float(config.cascade.level))
        wandb_cfg = (config.get("logger") or {}).get("wandb")
        if wandb_cfg is not None:
            try:
                log_cascade_summary(
                    results,
                    project=wandb_cfg.get("project", "synthos"),
                    offline=bool(wandb_cfg.get("offline", True)),
                    save_dir=sweep_dir,
                    tags=list(config.get("tags") or []),
                )
            except Exception as exc:  # the dashboard is a view; the report on disk stands
                log.warning("Could not log the cascade summary to W&B: %s", exc)
        print(summary_text(results))
