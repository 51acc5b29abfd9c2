"""training_stability: does the cascade train badly on this data?

Read from the cascade's results (see `collapse.cascade`). Each job that finished, or failed
with a model error (2xxx: diverged, bad state), gets a penalty, the largest of:

* 1.0  failed with a model error, or flagged by the RunHealthMonitor (divergence,
  non-finite values, trivial loss, rank or entropy collapse);
* 0.75 non-finite or exploding gradient steps; a loss curve that ends at 1.5 x its minimum;
* 0.5  vanishing gradients on more than half the checked steps; a loss curve whose end is
  no better than 98 % of its start (nothing learned);
* 0.25 loss spikes: a point above twice the running minimum after the first tenth.

Score ``100 (1 - mean penalty)``. Jobs that never ran, were interrupted or failed for
reasons outside the model (resources, internal errors) are listed but not judged; without
a judged job the dimension is not evaluated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import Comparison
from ..sensitivity import effect, effects
from .base import not_evaluated, scored

NAME = "training_stability"


def loss_curve_issues(curve: list[list[float]] | None) -> dict[str, float]:
    if not curve or len(curve) < 4:
        return {}
    loss = np.asarray([point[1] for point in curve], dtype=np.float64)
    loss = loss[np.isfinite(loss)]
    if loss.size < 4:
        return {"non_finite_loss": 0.75}
    window = max(1, loss.size // 10)
    start, end = float(loss[:window].mean()), float(loss[-window:].mean())
    issues: dict[str, float] = {}
    floor = float(loss.min())
    if floor > 0 and end >= 1.5 * floor:
        issues["loss_diverged"] = 0.75
    if end >= 0.98 * start:
        issues["no_learning"] = 0.5
    running = np.minimum.accumulate(loss)
    later = slice(max(1, loss.size // 10), None)
    if np.any((loss[later] > 2 * running[later]) & (running[later] > 0)):
        issues["loss_spikes"] = 0.25
    return issues


def gradient_issues(job: dict[str, Any]) -> dict[str, float]:
    grads = job.get("gradients") or {}
    metrics = job.get("metrics") or {}
    issues: dict[str, float] = {}
    exploding = grads.get("nonfinite_steps") or grads.get("exploding_steps")
    if exploding or metrics.get("grad/exploding"):
        issues["exploding_gradients"] = 0.75
    checked = grads.get("steps_checked") or 0
    if (checked and (grads.get("vanishing_steps") or 0) > 0.5 * checked) or (
        not checked and metrics.get("grad/vanishing")
    ):
        issues["vanishing_gradients"] = 0.5
    return issues


def job_issues(job: dict[str, Any]) -> dict[str, float] | None:
    """Penalties of one job, or None when the job says nothing about the data."""
    status = job.get("status")
    error = job.get("error") or {}
    issues: dict[str, float] = {}
    if status != "completed":
        code = int(error.get("code") or 0)
        if 2000 <= code < 3000:
            issues[f"failed_{error.get('name', code)}".lower()] = 1.0
        else:
            return None
    collapse = job.get("run_health") or {}
    if collapse.get("collapsed"):
        for reason in collapse.get("reasons") or ["collapsed"]:
            issues[f"collapse_{reason}"] = 1.0
    issues.update(gradient_issues(job))
    issues.update(loss_curve_issues(job.get("loss_curve")))
    return issues


def evaluate(cmp: Comparison):
    cascade = cmp.cascade
    if cascade is None:
        return not_evaluated(cmp, NAME, "no cascade results (pass --cascade SWEEP_DIR)")
    judged: dict[str, dict[str, float]] = {}
    unjudged: dict[str, str] = {}
    for job in cascade.get("jobs") or []:
        name = str(job.get("job") or f"t{job.get('tier')}v{job.get('variant')}")
        issues = job_issues(job)
        if issues is None:
            unjudged[name] = str(job.get("status"))
        else:
            judged[name] = issues
    if not judged:
        return not_evaluated(
            cmp, NAME, "no cascade job finished or failed with a model error", jobs=unjudged
        )
    penalties = {name: max(issues.values(), default=0.0) for name, issues in judged.items()}
    counts: dict[str, int] = {}
    for issues in judged.values():
        for issue in issues:
            counts[issue] = counts.get(issue, 0) + 1
    evidence = {
        "jobs_judged": len(judged),
        "jobs_unhealthy": sum(p > 0 for p in penalties.values()),
        "issue_counts": counts,
        "job_issues": {n: i for n, i in judged.items() if i},
        "jobs_not_judged": unjudged,
    }
    score = 100.0 * (1.0 - float(np.mean(list(penalties.values()))))
    allowed = 1.0 - cmp.config.threshold(NAME, cmp.modality) / 100.0
    evidence["sensitivity"] = effects(
        effect("mean_penalty", allowed, "mean penalty per job", "no mean job penalty above {:.2f}")
    )
    return scored(cmp, NAME, score, evidence)
