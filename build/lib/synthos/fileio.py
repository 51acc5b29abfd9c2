"""Files that readers never see half-written, and values that JSON can hold.

One helper per job for the whole package: every file Synthos writes for others to read
(metrics, reports, plans, tokenizers, samples) goes through `atomic_write`, which writes a
temporary file beside the target and renames it over the target, so a reader (or a
concurrent writer such as another DDP rank) sees the old file or the new one, never a
mixture; `to_jsonable` turns NumPy scalars, arrays, one-element tensors, dates and non-finite
floats into what JSON can hold (NaN and infinities become null).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write", "atomic_write_text", "to_jsonable", "write_json_atomic"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary path in the target's directory, then rename it over
    `path`. On any failure the temporary file is removed and the target is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private (0600); a written file keeps the target's mode,
        # or gets the usual 0644, so others can read reports and samples.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any, *, indent: int | None = 2) -> Path:
    """Write `payload` as strict JSON (no NaN tokens: see `to_jsonable`)."""
    text = json.dumps(to_jsonable(payload), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def to_jsonable(value: Any) -> Any:
    """`value` with NumPy types, dates, decimals and bytes converted and non-finite floats
    replaced by None; mapping keys become strings; anything else unknown becomes its str."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, bytes):
        return value.hex()
    scalar = _scalar(value)
    return str(value) if scalar is None else to_jsonable(scalar)


def _scalar(value: Any) -> Any:
    """The Python value of a one-element tensor (torch, or anything with `item` and
    `numel`), else None."""
    numel, item = getattr(value, "numel", None), getattr(value, "item", None)
    if not (callable(numel) and callable(item)):
        return None
    try:
        return item() if numel() == 1 else None
    except (RuntimeError, ValueError):
        return None
