"""Aggregate a finished (or partly failed) cascade from its sweep directory on disk.

Works from files only, never from the launching process's memory, so the same code runs at
Hydra's `on_multirun_end` and as `synthos aggregate SWEEP_DIR` after any launcher.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from synthos.cascade.plan import JOB_NAME, CascadeJob, cascade_job_list
from synthos.cascade.prediction import (
    CascadePrediction,
    baseline_largest_tier,
    headline_for,
    law_points,
    predict_cascade,
)
from synthos.cascade.prediction_plot import plot_prediction
from synthos.cascade.wandb_summary import log_cascade_summary
from synthos.errors import DataError, ErrorCode, SynthosError
from synthos.fileio import write_json_atomic
from synthos.report import empty_report, write_report
from synthos.report.documents import write_documents
from synthos.training import METRICS_FILE

log = logging.getLogger(__name__)

RESULTS_FILE = "cascade_results.json"
PLOT_FILE = "scaling_fit.png"
PLAN_FILE = "cascade_plan.json"
#: Training tokens per parameter of the target run when the plan names none (Chinchilla).
TOKENS_PER_PARAM = 20
#: Rows the localizer scores with the cascade's models when a sweep is aggregated (every row
#: gets the data evidence); `cascade.localize_model_rows` sets it per profile.
LOCALIZE_MODEL_ROWS = 200


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


def aggregate_sweep(
    sweep_dir: str | Path,
    target_params: int | None = None,
    level: float = 0.9,
    validation_id: str | None = None,
    dataset: dict[str, Any] | None = None,
    detect: bool = True,
    target_tokens: int | None = None,
    localize_model_rows: int | None = LOCALIZE_MODEL_ROWS,
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
    validation_id = validation_id or plan.get("validation_id") or sweep_dir.name
    dataset = dataset or plan.get("dataset") or {}
    jobs = collect_jobs(sweep_dir, plan.get("jobs"))
    if not jobs:
        raise DataError(
            "no cascade jobs (t<tier>v<variant> directories) in the sweep directory",
            code=ErrorCode.DATA_EMPTY,
            path=str(sweep_dir),
        )
    headline = headline_for(jobs)
    points = law_points(jobs, headline)
    target_params, target_tokens = _target(plan, points, target_params, target_tokens)
    outcome = predict_cascade(
        points, headline, target_params=target_params, target_tokens=target_tokens, level=level
    )
    plot_prediction(outcome, points, sweep_dir / PLOT_FILE)
    predicted = isinstance(outcome, CascadePrediction)
    results = {
        "validation_id": validation_id,
        "sweep_dir": str(sweep_dir),
        "metric": headline.metric,
        "higher_is_better": headline.higher_is_better,
        "target_params": target_params,
        "target_tokens": target_tokens,
        "models_total": len(jobs),
        "models_completed": sum(j["status"] == "completed" for j in jobs),
        "models_failed": sum(j["status"] != "completed" for j in jobs),
        "jobs": [_job_summary(j, headline.metric) for j in jobs],
        "points": [asdict(p) for p in points],
        "prediction": outcome.to_dict() if predicted else None,
        "prediction_unavailable": None if predicted else outcome.reason,
        "baseline_largest_tier_mean": baseline_largest_tier(points, headline),
        "plot": str(sweep_dir / PLOT_FILE),
    }
    write_json_atomic(sweep_dir / RESULTS_FILE, results)
    report = empty_report(validation_id, dataset)
    report["prediction"] = outcome.to_report() if predicted else None
    report["prediction_unavailable"] = results["prediction_unavailable"]
    report["timings"] = {
        "cascade": round(sum(float(j.get("seconds") or 0) for j in jobs), 3),
        "aggregate": round(time.time() - started, 3),
    }
    report_path = write_report(sweep_dir, report)
    if detect and dataset.get("path"):
        results["collapse"] = run_collapse_stage(
            sweep_dir, dataset["path"], plan.get("reference_path")
        )
    if localize_model_rows is not None and dataset.get("path"):
        results["localization"] = run_localize_stage(
            sweep_dir, dataset["path"], plan.get("reference_path"), localize_model_rows
        )
    results["documents"] = render_documents(sweep_dir)
    log.info("Cascade aggregated: %s, %s", sweep_dir / RESULTS_FILE, report_path)
    return results


def _target(
    plan: dict[str, Any], points: list, params: int | None, tokens: int | None
) -> tuple[int, int]:
    """The run to predict: given, else the plan's; without a size, 4x the largest size seen;
    without tokens, the plan's tokens per parameter (default 20) times the size."""
    params = int(params or plan.get("target_params") or 0)
    if not params:
        params = 4 * max((p.params for p in points), default=1)
    tokens = int(tokens or plan.get("target_tokens") or 0)
    if not tokens:
        tokens = int(params * float(plan.get("tokens_per_param") or TOKENS_PER_PARAM))
    return params, tokens


def run_collapse_stage(sweep_dir: Path, candidate: str, reference: str | None) -> dict[str, Any]:
    """Collapse detection on the cascade's data into report.json. A failure is reported
    (logged and returned) rather than raised: the cascade's prediction stands on its own."""
    from synthos.analysis.collapse import detect_collapse

    try:
        result = detect_collapse(candidate, reference=reference, cascade=sweep_dir)
    except SynthosError as exc:
        log.warning("Collapse detection failed: %s", exc)
        return {"status": "failed", "error": exc.to_dict()}
    fields = result.to_report()
    fields.update(_record_signature(candidate, reference, fields))
    write_report(sweep_dir, fields)
    return {"status": "completed", "summary": result.summary()}


def _record_signature(candidate: str, reference: str | None, fields: dict) -> dict:
    """Add the validation to the signature library named by $SYNTHOS_SIGNATURE_LIBRARY
    (nothing when unset): report.json's signature_matches. A failure is logged: the
    validation stands without it."""
    from synthos.analysis.signatures.outcomes import configured_library, record_validation

    library = configured_library()
    if library is None:
        return {}
    try:
        added = record_validation(library, candidate, reference, fields)
    except SynthosError as exc:
        log.warning("Could not add the signature to %s: %s", library.path, exc)
        return {}
    return {"signature_matches": added["signature_matches"]}


def render_documents(sweep_dir: Path) -> dict[str, str] | None:
    """report.md and report.html from the finished report; a failure is logged, not raised
    (report.json stands on its own)."""
    try:
        documents = write_documents(sweep_dir)
    except SynthosError as exc:
        log.warning("Could not render report.md / report.html: %s", exc)
        return None
    return {"markdown": str(documents.markdown), "html": str(documents.html)}


def run_localize_stage(
    sweep_dir: Path, candidate: str, reference: str | None, model_rows: int = LOCALIZE_MODEL_ROWS
) -> dict[str, Any]:
    """Row scores and regions of the cascade's data (with its checkpoints, on a sample of
    `model_rows` rows) into report.json and row_scores.parquet; a failure is
    reported, not raised, like detection's."""
    from synthos.analysis.localize import LocalizeConfig, localize

    try:
        config = LocalizeConfig(model_rows=model_rows)
        result = localize(candidate, reference, sweep_dir, config=config)
    except SynthosError as exc:
        log.warning("Localization failed: %s", exc)
        return {"status": "failed", "error": exc.to_dict()}
    result.write_report(sweep_dir)
    return {"status": "completed", "summary": result.summary()}


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def summary_text(results: dict[str, Any]) -> str:
    """What a person reads at the end of a cascade: models finished, the prediction, files."""
    collapse = results.get("collapse")
    if collapse is None:
        detection = ""
    elif collapse["status"] == "completed":
        detection = collapse["summary"] + "\n"
    else:
        detection = f"collapse detection failed: {collapse['error']['message']}\n"
    located = results.get("localization")
    if located is not None and located["status"] == "completed":
        detection += located["summary"] + "\n"
    elif located is not None:
        detection += f"localization failed: {located['error']['message']}\n"
    return (
        detection + f"Cascade {results['validation_id']}: {results['models_completed']}/"
        f"{results['models_total']} models finished; {prediction_text(results)}\n"
        + "".join(f"  {name + ':':<9}{path}\n" for name, path in report_files(results).items())
    ).rstrip("\n")


def report_files(results: dict[str, Any]) -> dict[str, str]:
    """The files a person opens after a cascade, by name (the HTML report first)."""
    sweep_dir = Path(results["sweep_dir"])
    documents = results.get("documents") or {}
    files = {name: documents[name] for name in ("html", "markdown") if name in documents}
    files.update(
        report=str(sweep_dir / "report.json"),
        results=str(sweep_dir / RESULTS_FILE),
        plot=str(sweep_dir / PLOT_FILE),
    )
    return files


def prediction_text(results: dict[str, Any]) -> str:
    """The prediction in a sentence: the metric and loss with intervals, or why there is none."""
    prediction = results.get("prediction")
    if prediction is None:
        return f"no prediction ({results.get('prediction_unavailable')})"
    loss = prediction["loss"]
    text = (
        f"predicted {prediction['metric']} at {prediction['target_params']:,} parameters and "
        f"{prediction['target_tokens']:,} tokens: {prediction['predicted']:.4g} "
        f"[{prediction['lower']:.4g}, {prediction['upper']:.4g}] "
        f"({prediction['level']:.0%} prediction interval)"
    )
    if prediction["metric"] != "test/loss":
        text += f"; loss {loss['predicted']:.4g} [{loss['lower']:.4g}, {loss['upper']:.4g}]"
    if prediction["degenerate"]:
        text += f"; DEGENERATE fit: {prediction['reason']}"
    if prediction["warnings"]:
        text += f"; {len(prediction['warnings'])} warning(s) in report.json"
    return text


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
            "target_tokens": None if cascade.target_tokens is None else int(cascade.target_tokens),
            "tokens_per_param": float(cascade.tokens_per_param),
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
        print(summary_text(self.aggregate(config)))

    def aggregate(self, config: DictConfig) -> dict[str, Any]:
        """Aggregate the sweep from disk and log its summary to W&B (when configured)."""
        sweep_dir = Path(config.hydra.sweep.dir)
        results = aggregate_sweep(
            sweep_dir,
            level=float(config.cascade.level),
            localize_model_rows=(
                int(config.cascade.localize_model_rows) if config.cascade.localize else None
            ),
        )
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
        return results
