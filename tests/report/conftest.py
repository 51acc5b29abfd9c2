"""Run directories for the report tests: one with every stage's output, one with none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthos.analysis.collapse.config import DIMENSIONS
from synthos.report import empty_report, write_report


def detection_fields() -> dict:
    dims = []
    for index, name in enumerate(DIMENSIONS):
        if name == "training_stability":
            dims.append(
                {
                    "name": name,
                    "score": None,
                    "threshold": 60.0,
                    "passed": None,
                    "evaluated": False,
                    "evidence": {"reason": "no cascade: nothing to judge training by"},
                }
            )
        else:
            score = 12.5 + 11 * index
            dims.append(
                {
                    "name": name,
                    "score": score,
                    "threshold": 50.0,
                    "passed": score >= 50.0,
                    "evaluated": True,
                    "evidence": {"columns": {"x": {"ks": 0.3}}},
                }
            )
    return {
        "dataset": {"path": "cand.parquet", "modality": "tabular", "rows": 1000, "columns": ["a"]},
        "dimensions": dims,
        "overall_score": 41.25,
        "collapse_detected": True,
        "risk_score": 88,
        "severity": "high",
        "collapse_type": "mode_collapse",
        "root_causes": [
            {"cause": "diversity_loss", "percentage": 70.0, "description": "fewer modes"},
            {"cause": "tail_loss", "percentage": 30.0, "description": "tails gone"},
        ],
        "timings": {"collapse_detection": 1.5},
    }


def prediction_fields() -> dict:
    return {
        "prediction": {
            "metric": "test/target_acc",
            "target_params": 30_000_000,
            "target_tokens": 600_000_000,
            "predicted": 0.8125,
            "lower": 0.75,
            "upper": 0.875,
            "level": 0.9,
            "loss": {"predicted": 0.5, "lower": 0.4, "upper": 0.625},
            "law": {
                "form": "L = E + A / N^alpha + B / D^beta",
                "params": {"E": 0.25, "A": 3.0, "alpha": 0.3, "B": 40.0, "beta": 0.4},
                "fit_quality": {"r2": 0.97},
            },
            "degenerate": False,
            "reason": None,
            "warnings": ["an extrapolation beyond the measured losses"],
            "metric_map": {"form": "logistic"},
        },
        "prediction_unavailable": None,
    }


def later_stage_fields() -> dict:
    return {
        "regions": [
            {
                "region_id": "r-dup-1",
                "row_start": 100,
                "row_end": 149,
                "issue_type": "duplicate",
                "impact_score": 0.91,
                "affected_columns": ["a", "b"],
                "cluster": 3,
            }
        ],
        "recommendations": [
            {
                "priority": 2,
                "category": "tails",
                "title": "Mix in reference rows",
                "description": "Restore the tails at a 20 % ratio.",
                "impact": {"current": 88.0, "expected": 40.0, "improvement": 48.0},
                "affected_rows": 200,
            },
            {
                "priority": 1,
                "category": "dedup",
                "title": "Drop exact duplicates",
                "description": "Remove 50 duplicated rows.",
                "impact": {"current": 88.0, "expected": 61.0, "improvement": 27.0, "seeds": 3},
                "affected_rows": 50,
            },
        ],
        "signature_matches": [
            {
                "signature_id": "sig-recursive-resample",
                "collapse_type": "mode_collapse",
                "similarity": 0.93,
            }
        ],
    }


def write_cascade_files(run_dir: Path) -> None:
    """cascade_results.json, progress.jsonl and a scaling-fit PNG as a cascade leaves them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    jobs = []
    lines = []
    for tier, variants in ((1, 2), (2, 1)):
        for variant in range(variants):
            failed = (tier, variant) == (1, 1)
            status = "failed" if failed else "completed"
            job = {
                "job": f"t{tier}v{variant}",
                "tier": tier,
                "variant": variant,
                "status": status,
                "parameters": 1000 * tier,
                "seconds": 3.5,
                "global_step": 6,
                "metric": None if failed else 0.5 + 0.1 * tier,
            }
            if failed:
                job["error"] = {"message": "checkpoint unreadable"}
            jobs.append(job)
            curve = [[step, 6.0 - step * 0.4 * tier] for step in range(1, 7)]
            lines.append(
                {"event": "progress", "tier": tier, "variant": variant, "step": 3, "result": None}
            )
            lines.append(
                {
                    "event": "model_failed" if failed else "model_finished",
                    "tier": tier,
                    "variant": variant,
                    "result": {"status": status, "loss_curve": curve, "seconds": 3.5},
                }
            )
    results = {"metric": "test/target_acc", "jobs": jobs, "baseline_largest_tier_mean": 0.7}
    (run_dir / "cascade_results.json").write_text(json.dumps(results))
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (run_dir / "progress.jsonl").write_text(text + '{"truncated line\n')
    fig = Figure(figsize=(2, 2))
    FigureCanvasAgg(fig)
    fig.add_subplot(1, 1, 1).plot([1, 2], [3, 1])
    fig.savefig(run_dir / "scaling_fit.png", format="png")


def write_row_scores(run_dir: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    scores = [i / 200 for i in range(200)]
    issues = ["duplicate" if s > 0.9 else "none" for s in scores]
    pq.write_table(
        pa.table({"row": list(range(200)), "score": scores, "issue_type": issues}),
        run_dir / "row_scores.parquet",
    )


@pytest.fixture
def full_run_dir(tmp_path) -> Path:
    run_dir = tmp_path / "full"
    report = empty_report("v-full", {"path": "cand.parquet"})
    report.update(detection_fields(), **prediction_fields(), **later_stage_fields())
    write_report(run_dir, report)
    write_cascade_files(run_dir)
    write_row_scores(run_dir)
    return run_dir


@pytest.fixture
def bare_run_dir(tmp_path) -> Path:
    run_dir = tmp_path / "bare"
    report = empty_report("v-bare", {"path": "cand.parquet"})
    report["prediction_unavailable"] = "no finished job"
    write_report(run_dir, report)
    return run_dir
