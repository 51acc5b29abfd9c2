"""report.json against its JSON Schema (`report.schema.json`, shipped with the package).

The schema is the machine-readable form of the contract other tools read: every key is
present, types and ranges hold, an unevaluated dimension has no score. Writers validate
before a report reaches disk; `synthos report` validates what it reads.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_FILE = "report.schema.json"


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json."""
    text = resources.files("synthos.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = report_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def report_problems(report: Any) -> list[str]:
    """Every way `report` breaks the schema, one line each (`$.path: message`); empty when
    it is valid."""
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def _json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
