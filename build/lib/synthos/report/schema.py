"""Building, writing and reading report.json.

Every stage fills its own fields; fields of stages that have not run stay empty or null, so a
reader can always rely on every key being present. Every write is checked against the JSON
Schema (`report.schema.json`), so a report on disk always meets the contract.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synthos.errors import DataError, ErrorCode, SynthosError
from synthos.fileio import to_jsonable, write_json_atomic
from synthos.report.validation import report_problems

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


def write_report(directory: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Atomically write `directory/report.json`, merging into an existing report so stages
    that ran earlier keep their fields."""
    path = Path(directory) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = read_report(path) if path.is_file() else {}
    merged.update(report)
    merged = to_jsonable(merged)
    problems = report_problems(merged)
    if problems:
        raise SynthosError(
            ErrorCode.INTERNAL,
            f"refusing to write a report.json that breaks its schema: {'; '.join(problems[:5])}",
            details={"path": str(path), "problems": problems},
        )
    return write_json_atomic(path, merged)


def read_report(path: str | os.PathLike, *, validate: bool = False) -> dict[str, Any]:
    """Read a report.json; with `validate`, a file that is not valid JSON or breaks the schema
    is a DataError naming the first problems."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError("no report.json", code=ErrorCode.DATA_NOT_FOUND, path=str(path)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"report.json is not valid JSON: {exc}", code=ErrorCode.DATA_FORMAT, path=str(path)
        ) from exc
    if validate:
        problems = report_problems(report)
        if problems:
            raise DataError(
                f"report.json breaks its schema ({len(problems)} problem(s)): "
                + "; ".join(problems[:3]),
                code=ErrorCode.DATA_SCHEMA,
                path=str(path),
            )
    return report
