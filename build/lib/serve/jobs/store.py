"""The job database: one SQLite row per cascade job (stdlib sqlite3, WAL, in the storage
dir), so jobs, their outcome and their report survive a server restart."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any


class JobState(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class JobRecord:
    """A row. `spec` is what launches the cascade (CascadeSpec.to_dict()); `failure` an
    error dict (SynthosError.to_dict()); `report` / `results` the cascade's report.json and
    cascade_results.json once it completed."""

    validation_id: str
    state: JobState
    spec: dict[str, Any]
    sweep_dir: str
    created_at: str = field(default_factory=utc_now)
    started_at: str = ""
    finished_at: str = ""
    attempts: int = 0
    pid: int = 0
    exit_code: int | None = None
    failure: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    results: dict[str, Any] | None = None


_JSON_COLUMNS = ("spec", "failure", "report", "results")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    validation_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    sweep_dir TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    exit_code INTEGER,
    failure TEXT,
    report TEXT,
    results TEXT
)
"""


class JobStore:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._columns = [f.name for f in fields(JobRecord)]

    def put(self, record: JobRecord) -> None:
        values = []
        for name in self._columns:
            value = getattr(record, name)
            if name in _JSON_COLUMNS:
                value = None if value is None else json.dumps(value, allow_nan=False)
            elif name == "state":
                value = value.value
            values.append(value)
        marks = ", ".join("?" for _ in self._columns)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO jobs ({', '.join(self._columns)}) VALUES ({marks})",
                values,
            )

    def get(self, validation_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(self._columns)} FROM jobs WHERE validation_id = ?",
                (validation_id,),
            ).fetchone()
        return None if row is None else self._record(row)

    def in_states(self, *states: JobState) -> list[JobRecord]:
        marks = ", ".join("?" for _ in states)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(self._columns)} FROM jobs WHERE state IN ({marks}) "
                "ORDER BY created_at",
                [s.value for s in states],
            ).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: tuple) -> JobRecord:
        values = dict(zip(self._columns, row, strict=True))
        for name in _JSON_COLUMNS:
            if values[name] is not None:
                values[name] = json.loads(values[name])
        values["state"] = JobState(values["state"])
        return JobRecord(**values)

    def close(self) -> None:
        with self._lock:
            self._db.close()
