"""The cascade's aggregate as a W&B run in the validation's group: a table of every job and
the scaling-fit plot beside the training runs of the jobs themselves."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOB_COLUMNS = ("job", "tier", "variant", "status", "parameters", "metric", "seconds")


def log_cascade_summary(
    results: dict[str, Any],
    *,
    project: str = "synthos",
    offline: bool = True,
    save_dir: str | Path | None = None,
    tags: list[str] | None = None,
) -> str | None:
    """Log one `aggregate` run; returns its directory (None when W&B is disabled).
    `WANDB_MODE` in the environment wins over `offline`, as it does for the jobs' runs."""
    import wandb

    sweep_dir = Path(results["sweep_dir"])
    run = wandb.init(
        project=project,
        group=results["validation_id"],
        job_type="aggregate",
        name=f"{results['validation_id']}-aggregate",
        tags=list(tags or []),
        dir=str(save_dir or sweep_dir),
        mode=os.environ.get("WANDB_MODE") or ("offline" if offline else "online"),
        reinit="create_new",
    )
    try:
        rows = [[job.get(c) for c in JOB_COLUMNS] for job in results["jobs"]]
        payload: dict[str, Any] = {
            "cascade/jobs": wandb.Table(columns=list(JOB_COLUMNS), data=rows)
        }
        plot = Path(results.get("plot") or "")
        if plot.is_file():
            payload["cascade/scaling_fit"] = wandb.Image(str(plot))
        run.log(payload)
        prediction = results["prediction"] or {}
        run.summary.update(
            {
                "metric": results["metric"],
                "target_params": results["target_params"],
                "target_tokens": results.get("target_tokens"),
                "prediction_unavailable": results.get("prediction_unavailable"),
                "models_completed": results["models_completed"],
                "models_failed": results["models_failed"],
                "predicted": prediction.get("predicted"),
                "lower": prediction.get("lower"),
                "upper": prediction.get("upper"),
                "degenerate": prediction.get("degenerate"),
                "baseline_largest_tier_mean": results.get("baseline_largest_tier_mean"),
            }
        )
        return None if run.disabled else str(Path(run.dir).parent)
    finally:
        run.finish()
