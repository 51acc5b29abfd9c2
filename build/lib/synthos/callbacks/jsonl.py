"""JSON Lines shared by many writer processes: whole-line appends and incremental reading.

A cascade's jobs may run as separate processes (joblib, SLURM, DDP ranks) that all append
to one `progress.jsonl`, which anyone can follow with `tail -f`. Each record is written
with a single O_APPEND write of the complete line under an exclusive `flock`, so lines
never interleave on a local file system (NFS only honours this with working locks).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from synthos.fileio import to_jsonable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such values are written as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)

    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def encode_line(record: dict[str, Any]) -> bytes:
    """One compact line of strict JSON (non-finite floats become null)."""
    return (json.dumps(to_jsonable(record), separators=(",", ":")) + "\n").encode()


def append_jsonl(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append `record` as one line, atomically with respect to other appenders."""
    line = encode_line(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)  # also releases the lock


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete, valid record in the file (a torn last line is skipped)."""
    return JsonlTail(path).read_new()


class JsonlTail:
    """Reads only what was appended since the last call; keeps a partial last line for
    the next call. Starts over if the file shrank (replaced or truncated)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self._offset:
                    self._offset, self._partial = 0, b""
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
