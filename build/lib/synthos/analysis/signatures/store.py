"""The signature library on disk: one HDF5 file of fingerprints, provenance and outcomes.

Layout (h5py): ``intrinsic`` (N, len(INTRINSIC)) and ``relative`` (N, len(RELATIVE))
float64 fingerprints (NaN where a feature does not apply; a row of NaN in ``relative``
when the signature had no reference, flagged by ``has_relative``), ``ids``, ``modality``
and ``records`` (one JSON document per signature: provenance and outcome) as UTF-8
strings; file attributes: the format name and version, the fingerprint version, the
feature names and a generation counter that every write increments.

Crash safety and concurrency: copy-on-write. A writer takes an exclusive lock on
``<file>.lock`` (fcntl; the kernel releases it when the process dies), reads the current
file, writes the whole new library to a temporary file beside it, fsyncs it and renames
it over the library (`synthos.fileio.atomic_write`), then fsyncs the directory. The
library file is therefore always a complete file: a writer killed at any point leaves the
previous version (nothing committed is lost, the half-written temporary file is removed by
the next writer), and readers never lock: they open whichever complete version the name
points to, while writers go on. HDF5's SWMR mode was not used: it cannot create objects
while readers are attached, and a writer that dies leaves the file marked as open for
writing until `h5clear` repairs it. The cost is rewriting the file on every write (a
library of 10,000 signatures is a few MB), so callers add signatures in batches.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthos.errors import DataError, ErrorCode
from synthos.fileio import atomic_write, to_jsonable

from .fingerprint import FINGERPRINT_VERSION, INTRINSIC, RELATIVE, Fingerprint

FORMAT = "synthos-signature-library"
FORMAT_VERSION = 1
_STRINGS = ("ids", "modality", "records")


@dataclass
class Outcome:
    """What became of a dataset: the verdict (`collapse_detected`, None when unknown), its
    collapse type, risk score and dimension scores, the cascade's prediction and, once
    known, what was measured. `label` names a seeded pattern (family and strength)."""

    collapse_detected: bool | None = None
    collapse_type: str | None = None
    risk_score: float | None = None
    severity: str | None = None
    dimension_scores: dict[str, float | None] = field(default_factory=dict)
    prediction: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None
    label: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self.__dict__)


@dataclass
class Signature:
    """One library entry: its id, fingerprint, provenance and outcome."""

    signature_id: str
    fingerprint: Fingerprint
    outcome: Outcome
    source: str
    created: float = field(default_factory=time.time)

    @classmethod
    def new(cls, fingerprint: Fingerprint, outcome: Outcome, source: str) -> Signature:
        digest = fingerprint.dataset.get("content_hash") or "nohash"
        return cls(f"{digest[:12]}-{uuid.uuid4().hex[:8]}", fingerprint, outcome, source)

    def record(self) -> dict[str, Any]:
        """The JSON document stored beside the vectors."""
        return to_jsonable(
            {
                "provenance": {
                    "source": self.source,
                    "created": self.created,
                    "dataset": self.fingerprint.dataset,
                    "reference": self.fingerprint.reference,
                    "fingerprint_seconds": self.fingerprint.seconds,
                },
                "outcome": self.outcome.to_dict(),
            }
        )


@dataclass
class LibrarySnapshot:
    """One complete version of the library, in memory."""

    ids: list[str]
    modality: np.ndarray
    intrinsic: np.ndarray
    relative: np.ndarray
    has_relative: np.ndarray
    records: list[dict[str, Any]]
    generation: int

    def __len__(self) -> int:
        return len(self.ids)

    def outcome(self, row: int) -> dict[str, Any]:
        return self.records[row]["outcome"]

    def subset(self, rows: np.ndarray) -> LibrarySnapshot:
        rows = np.asarray(rows, dtype=np.int64)
        return LibrarySnapshot(
            [self.ids[i] for i in rows],
            self.modality[rows],
            self.intrinsic[rows],
            self.relative[rows],
            self.has_relative[rows],
            [self.records[i] for i in rows],
            self.generation,
        )

    @classmethod
    def empty(cls) -> LibrarySnapshot:
        return cls(
            [],
            np.zeros(0, dtype=object),
            np.zeros((0, len(INTRINSIC))),
            np.zeros((0, len(RELATIVE))),
            np.zeros(0, dtype=bool),
            [],
            0,
        )


class SignatureLibrary:
    """The library at `path` (created by the first write)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.is_file()

    def generation(self) -> int:
        """The generation of the current version (0 when there is no library yet)."""
        if not self.exists():
            return 0
        with self._open() as handle:
            return int(handle.attrs["generation"])

    def read(self) -> LibrarySnapshot:
        """The current version (an empty library when the file does not exist yet)."""
        if not self.exists():
            return LibrarySnapshot.empty()
        with self._open() as handle:
            return _snapshot(handle, self.path)

    def add(self, signatures: Sequence[Signature]) -> LibrarySnapshot:
        """Append `signatures` as one atomic write; returns the new version."""
        entries = list(signatures)
        for entry in entries:
            if entry.fingerprint.version != FINGERPRINT_VERSION:
                raise DataError(
                    f"fingerprint version {entry.fingerprint.version} cannot join a library "
                    f"of version {FINGERPRINT_VERSION}",
                    code=ErrorCode.DATA_VALUE,
                    path=str(self.path),
                )
        with self.writing() as current:
            relative = [
                e.fingerprint.relative
                if e.fingerprint.relative is not None
                else np.full(len(RELATIVE), np.nan)
                for e in entries
            ]
            new = LibrarySnapshot(
                current.ids + [e.signature_id for e in entries],
                np.concatenate([current.modality, [e.fingerprint.modality for e in entries]]),
                np.vstack([current.intrinsic, *[e.fingerprint.intrinsic for e in entries]]),
                np.vstack([current.relative, *relative]),
                np.concatenate(
                    [current.has_relative, [e.fingerprint.relative is not None for e in entries]]
                ).astype(bool),
                current.records + [e.record() for e in entries],
                current.generation + 1,
            )
            self._publish(new)
        return new

    def update_outcome(self, signature_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of one signature's outcome (e.g. `measured` once a real run has
        finished); returns the new outcome."""
        with self.writing() as current:
            if signature_id not in current.ids:
                raise DataError(
                    f"no signature {signature_id!r} in the library",
                    code=ErrorCode.DATA_NOT_FOUND,
                    path=str(self.path),
                )
            row = current.ids.index(signature_id)
            current.records[row]["outcome"].update(to_jsonable(changes))
            current.generation += 1
            self._publish(current)
        return current.records[row]["outcome"]

    @contextlib.contextmanager
    def writing(self) -> Iterator[LibrarySnapshot]:
        """Hold the writers' lock and yield the current version."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                self._remove_stale_temporaries()
                yield self.read()
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _remove_stale_temporaries(self) -> None:
        """Temporary files of writers that died (only called under the lock)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)

    def _publish(self, snapshot: LibrarySnapshot) -> None:
        atomic_write(self.path, lambda tmp: _write(tmp, snapshot))
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _open(self):
        import h5py

        try:
            handle = h5py.File(self.path, "r", locking=False)
        except OSError as exc:
            raise DataError(
                f"cannot read the signature library: {exc}",
                code=ErrorCode.DATA_CORRUPT,
                path=str(self.path),
                expected="an HDF5 file written by synthos signatures",
            ) from exc
        if handle.attrs.get("format") != FORMAT:
            handle.close()
            raise DataError(
                "not a signature library",
                code=ErrorCode.DATA_FORMAT,
                path=str(self.path),
                expected=f"an HDF5 file with format attribute {FORMAT!r}",
            )
        return handle


def _write(tmp: Path, snapshot: LibrarySnapshot) -> None:
    import h5py

    strings = h5py.string_dtype("utf-8")
    with h5py.File(tmp, "w", locking=False) as handle:
        handle.attrs["format"] = FORMAT
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["fingerprint_version"] = FINGERPRINT_VERSION
        handle.attrs["generation"] = snapshot.generation
        handle.attrs["intrinsic_features"] = json.dumps([f.name for f in INTRINSIC])
        handle.attrs["relative_features"] = json.dumps([f.name for f in RELATIVE])
        handle.create_dataset("intrinsic", data=snapshot.intrinsic.astype(np.float64))
        handle.create_dataset("relative", data=snapshot.relative.astype(np.float64))
        handle.create_dataset("has_relative", data=snapshot.has_relative.astype(np.uint8))
        handle.create_dataset("ids", data=np.array(snapshot.ids, dtype=object), dtype=strings)
        handle.create_dataset(
            "modality", data=np.array(list(snapshot.modality), dtype=object), dtype=strings
        )
        records = [json.dumps(r, allow_nan=False) for r in snapshot.records]
        handle.create_dataset("records", data=np.array(records, dtype=object), dtype=strings)
    with open(tmp, "rb+") as written:
        os.fsync(written.fileno())
    os.chmod(tmp, 0o644)  # a temporary file is private; the library is for every reader


def _snapshot(handle: Any, path: Path) -> LibrarySnapshot:
    version = int(handle.attrs["fingerprint_version"])
    if version != FINGERPRINT_VERSION:
        raise DataError(
            f"the library holds fingerprints of version {version}; this Synthos computes "
            f"version {FINGERPRINT_VERSION}",
            code=ErrorCode.DATA_VALUE,
            path=str(path),
            expected="a library seeded by this version (synthos signatures seed)",
        )
    text = {name: [s.decode("utf-8") for s in handle[name][()]] for name in _STRINGS}
    return LibrarySnapshot(
        ids=text["ids"],
        modality=np.array(text["modality"], dtype=object),
        intrinsic=np.asarray(handle["intrinsic"][()], dtype=np.float64).reshape(-1, len(INTRINSIC)),
        relative=np.asarray(handle["relative"][()], dtype=np.float64).reshape(-1, len(RELATIVE)),
        has_relative=np.asarray(handle["has_relative"][()], dtype=bool),
        records=[json.loads(r) for r in text["records"]],
        generation=int(handle.attrs["generation"]),
    )
