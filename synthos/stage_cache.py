"""Stage results keyed by what went into them, so a re-validation reuses every stage whose
inputs did not change.

A stage's key is the SHA-256 of its name, the Synthos sources, its settings (JSON) and the
content digests of the files it reads: bytes, not paths or times, so a copied or touched file
keeps its key and an edited one gets a new one. Entries live under `root/<stage>/<key>/`
(`value.json` and any files stored beside it) and are written to a temporary directory that
is renamed into place, so an entry exists whole or not at all. An input that is not a local
file (an s3:// URI, an in-memory table) has no digest: a stage that reads one is not cached,
and the cache's `log` says so.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.fileio import to_jsonable, write_json_atomic

VALUE_FILE = "value.json"
#: Files left out of a directory's digest: logs change on every run without changing content.
UNHASHED_SUFFIXES = (".log",)
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (remembered per path, size and modification time)."""
    path = os.path.abspath(path)
    stat = os.stat(path)
    memo = (path, stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        _DIGESTS[memo] = digest.hexdigest()
    return _DIGESTS[memo]


@functools.cache
def code_digest() -> str:
    """Digest of the installed Synthos sources: a result computed by other code is not reused."""
    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json", ".yaml"))
    parts = [f"{p.relative_to(package).as_posix()}:{file_digest(p)}" for p in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def content_digest(data: Any) -> str | None:
    """Digest of what `data` holds: a file's bytes; a directory's or a glob's files (names
    relative to it, and their bytes); "none" for None; None when it is not local files."""
    if data is None:
        return "none"
    if not isinstance(data, (str, os.PathLike)) or "://" in os.fspath(data):
        return None
    text = os.fspath(data)
    if os.path.isfile(text):
        return file_digest(text)
    if os.path.isdir(text):
        files = [p for p in Path(text).rglob("*") if p.is_file()]
        base = Path(text)
    else:
        files = [Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p)]
        base = Path(os.path.commonpath(files)) if files else Path(".")
    files = sorted(p for p in files if not p.name.endswith(UNHASHED_SUFFIXES))
    if not files:
        return None
    parts = [f"{p.relative_to(base).as_posix()}:{file_digest(p)}" for p in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One stored stage result: its value and the directory of its files."""

    stage: str
    key: str
    directory: Path
    value: dict[str, Any]

    def file(self, name: str) -> Path:
        return self.directory / name


@dataclass
class StageCache:
    """Content-addressed stage results under `root`; `log` records, in order, each stage
    looked up and whether it was reused, computed or not cacheable (and why)."""

    root: Path
    log: list[dict[str, str]] = field(default_factory=list)

    def key(self, stage: str, settings: Mapping[str, Any], inputs: Mapping[str, Any]) -> str | None:
        """The stage's key, or None (logged) when an input has no content digest."""
        digests = {name: content_digest(value) for name, value in inputs.items()}
        missing = sorted(name for name, digest in digests.items() if digest is None)
        if missing:
            self._note(stage, "", "not cached", f"not a local file: {', '.join(missing)}")
            return None
        payload = {"stage": stage, "code": code_digest(), "settings": settings, "inputs": digests}
        text = json.dumps(to_jsonable(payload), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, stage: str, key: str | None) -> CacheEntry | None:
        if key is None:
            return None
        directory = self.root / stage / key
        try:
            value = json.loads((directory / VALUE_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        self._note(stage, key, "reused")
        return CacheEntry(stage, key, directory, value)

    def put(
        self,
        stage: str,
        key: str | None,
        value: dict[str, Any],
        files: Mapping[str, Callable[[Path], None]] | None = None,
    ) -> CacheEntry | None:
        """Store `value` and the files written by `files[name](path)`; None when uncached."""
        if key is None:
            return None
        final = self.root / stage / key
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key[:12]}."))
        try:
            for name, write in (files or {}).items():
                write(staging / name)
            write_json_atomic(staging / VALUE_FILE, value)
            if final.exists():  # a stale entry (its files went missing) is replaced
                shutil.rmtree(final)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._note(stage, key, "computed")
        return CacheEntry(stage, key, final, value)

    def cached(
        self,
        stage: str,
        key: str | None,
        compute: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """The stored value of (stage, key), else `compute()`'s, stored."""
        entry = self.get(stage, key)
        if entry is not None:
            return entry.value
        value = to_jsonable(compute())
        self.put(stage, key, value)
        return value

    def _note(self, stage: str, key: str, status: str, reason: str | None = None) -> None:
        record = {"stage": stage, "key": key[:16], "status": status}
        if reason:
            record["reason"] = reason
        self.log.append(record)


__all__ = ["CacheEntry", "StageCache", "content_digest", "file_digest"]
