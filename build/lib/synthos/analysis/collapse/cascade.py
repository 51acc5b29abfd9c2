"""The cascade's results as the training_stability dimension reads them.

A sweep directory holds `cascade_results.json` (written by `synthos.cascade.aggregate`: one
summary per job with status, metrics and error), each job's own `<job>/metrics.json`
(including the RunHealthMonitor verdict under "collapse") and `progress.jsonl`, whose
model_finished / model_failed records carry the loss curve and gradient summary. They are
merged per job here; an already loaded dict (`cascade_results.json`'s content, with any of
those per-job keys) is taken as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synthos.errors import DataError, ErrorCode

RESULTS_FILE = "cascade_results.json"
PROGRESS_FILE = "progress.jsonl"
METRICS_FILE = "metrics.json"
END_EVENTS = ("model_finished", "model_failed")


def load_cascade(cascade: str | os.PathLike | dict[str, Any] | None) -> dict[str, Any] | None:
    if cascade is None or isinstance(cascade, dict):
        return cascade
    sweep = Path(cascade)
    path = sweep / RESULTS_FILE if sweep.is_dir() else sweep
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(
            f"no {RESULTS_FILE} in the cascade directory (run `synthos aggregate` first)",
            code=ErrorCode.DATA_NOT_FOUND,
            path=str(path),
            expected=f"a sweep directory containing {RESULTS_FILE}",
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read the cascade results: {exc}", code=ErrorCode.DATA_FORMAT, path=str(path)
        ) from exc
    if not isinstance(results, dict) or not isinstance(results.get("jobs"), list):
        raise DataError(
            "the cascade results have no job list",
            code=ErrorCode.DATA_FORMAT,
            path=str(path),
            expected='{"jobs": [...]} as written by synthos aggregate',
        )
    root = path.parent
    finished = _progress_results(root / PROGRESS_FILE)
    for job in results["jobs"]:
        name = job.get("job")
        record = _read_json(root / str(name) / METRICS_FILE) if name else None
        if record and record.get("run_health") is not None:
            job.setdefault("run_health", record["run_health"])
        extra = finished.get(name) or {}
        for key in ("loss_curve", "gradients", "run_health"):
            if job.get(key) is None and extra.get(key) is not None:
                job[key] = extra[key]
    return results


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _progress_results(path: Path) -> dict[str, dict[str, Any]]:
    """Latest end-of-model result per job name from progress.jsonl (torn lines skipped)."""
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            result = record.get("result") if isinstance(record, dict) else None
            if record.get("event") in END_EVENTS and isinstance(result, dict):
                out[f"t{result.get('tier')}v{result.get('variant')}"] = result
    return out
