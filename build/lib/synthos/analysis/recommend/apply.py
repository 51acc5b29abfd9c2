"""A fix as data: the steps that turn the candidate into the fixed dataset, and applying them.

A `FixSpec` names the candidate (and the reference, when rows come from it) and a list of
steps, each about rows of the original candidate (file positions):

* drop: remove the rows;
* relabel: set the target column of the rows to the given labels;
* append_reference: add `count` rows drawn (seeded, without replacement where possible)
  from the reference, cast to the candidate's schema (columns it lacks stay null);
* append_candidate: add `count` rows drawn (seeded, with replacement) from the candidate
  itself (the control of mixing in reference rows: as many rows, nothing new in them).

Relabels apply first, then drops, then appends, so row numbers always mean the original
rows. The spec is saved as JSON beside the fixed Parquet file, and
`synthos apply-fix --spec SPEC --out FIXED.parquet` rebuilds the same file from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthos.errors import DataError, ErrorCode
from synthos.fileio import atomic_write, write_json_atomic

ACTIONS = ("drop", "relabel", "append_reference", "append_candidate")


@dataclass
class FixStep:
    action: str
    rows: list[int] = field(default_factory=list)
    labels: list[Any] | None = None
    column: str | None = None
    count: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fix action {self.action!r}; choose from {ACTIONS}")


@dataclass
class FixSpec:
    candidate: str
    steps: list[FixStep]
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "reference": self.reference,
            "steps": [asdict(s) for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixSpec:
        return cls(
            candidate=str(data["candidate"]),
            reference=data.get("reference"),
            steps=[FixStep(**step) for step in data["steps"]],
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> FixSpec:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise DataError(
                "fix spec not found", code=ErrorCode.DATA_NOT_FOUND, path=str(path)
            ) from exc
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"not a fix spec: {exc}",
                code=ErrorCode.DATA_FORMAT,
                path=str(path),
                expected='{"candidate": path, "steps": [{"action": ..., ...}]}',
            ) from exc

    def save(self, path: str | os.PathLike) -> Path:
        return write_json_atomic(path, self.to_dict())

    @property
    def rows_touched(self) -> int:
        return sum(len(s.rows) + s.count for s in self.steps)


def read_dataset(path: Any) -> pa.Table:
    """A whole dataset as an Arrow table (any format the loader reads; tables pass through)."""
    if isinstance(path, pa.Table):
        return path
    from synthos.datamodules.loading import read_table

    return read_table(os.fspath(path))


def apply_fix(spec: FixSpec, candidate: pa.Table | None = None) -> pa.Table:
    """The fixed dataset, in the candidate's schema (`candidate`: the already read table)."""
    table = candidate if candidate is not None else read_dataset(spec.candidate)
    n = table.num_rows
    drop = np.zeros(n, dtype=bool)
    appended: list[pa.Table] = []
    for step in spec.steps:
        rows = np.asarray(step.rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise DataError(
                f"fix step {step.action} names row {int(rows.max())} of a {n}-row candidate",
                code=ErrorCode.DATA_VALUE,
                path=spec.candidate,
                expected="rows of the candidate the fix was made for",
            )
        if step.action == "relabel":
            table = _relabel(table, step, rows)
        elif step.action == "drop":
            drop[rows] = True
        elif step.action == "append_reference":
            if spec.reference is None:
                raise DataError("append_reference needs a reference", code=ErrorCode.DATA_VALUE)
            appended.append(_draw(read_dataset(spec.reference), step, table.schema, False))
        else:
            appended.append(_draw(table, step, table.schema, True))
    out = table.filter(pa.array(~drop))
    return pa.concat_tables([out, *appended]) if appended else out


def _relabel(table: pa.Table, step: FixStep, rows: np.ndarray) -> pa.Table:
    index = table.column_names.index(step.column)
    values = table.column(step.column).to_pylist()
    for row, label in zip(rows, step.labels or [], strict=True):
        values[row] = label
    column = pa.array(values).cast(table.schema.field(step.column).type, safe=False)
    return table.set_column(index, table.schema.field(step.column), column)


def drawn_rows(available: int, step: FixStep, replace: bool) -> np.ndarray:
    """The source rows an append step takes (seeded)."""
    rng = np.random.default_rng(step.seed)
    replace = replace or step.count > available
    return np.sort(rng.choice(available, size=step.count, replace=replace))


def _draw(source: pa.Table, step: FixStep, schema: pa.Schema, replace: bool) -> pa.Table:
    rows = drawn_rows(source.num_rows, step, replace)
    picked = source.take(pa.array(rows, pa.int64()))
    columns = []
    for f in schema:
        if f.name in picked.column_names:
            columns.append(pc.cast(picked.column(f.name), f.type, safe=False))
        else:
            columns.append(pa.nulls(picked.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_fixed(spec: FixSpec, out: str | os.PathLike, candidate: pa.Table | None = None) -> Path:
    """Apply `spec` and write the fixed dataset as Parquet (atomically)."""
    fixed = apply_fix(spec, candidate)
    return atomic_write(out, lambda tmp: pq.write_table(fixed, tmp))


def apply_command(spec_path: str | os.PathLike, out: str | os.PathLike) -> str:
    return f"synthos apply-fix --spec {spec_path} --out {out}"
