"""Building, writing and reading report.json.

Every stage fills its own fields; fields of stages that have not run stay empty or null, so a
reader can always rely on every key being present.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
REPORT_FILE = "report.json"


def empty_report(validation_id: str, dataset: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "validation_id": validation_id,
        "dataset": {
            "path": dataset.get("path"),
            "modality": dataset.get("modality"),
            "rows": dataset.get("rows"),
            "columns": list(dataset.get("columns") or []),
        },
        "dimensions": [],
        "overall_score": None,
        "collapse_detected": None,
        "risk_score": None,
        "severity": None,
        "collapse_type": None,
        "root_causes": [],
        "prediction": None,
        "prediction_unavailable": None,
        "regions": [],
        "recommendations": [],
        "signature_matches": [],
        "timings": {},
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null rather than invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_report(directory: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Atomically write `directory/report.json`, merging into an existing report so stages
    that ran earlier keep their fields."""
    path = Path(directory) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = read_report(path) if path.is_file() else {}
    merged.update(report)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(merged), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def read_report(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
