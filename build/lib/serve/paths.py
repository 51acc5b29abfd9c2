"""Which datasets a client may name: local paths inside the configured data roots and
``s3://`` URIs in the configured buckets, nothing else.

A local path is rejected when it has a `..` component, when it (after following every
symlink) resolves outside all roots, or when a directory or glob it names holds a symlink
that leads out of the roots. Relative paths are taken relative to the first root.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import grpc

from synthos.errors import ErrorCode, SynthosError

#: Entries of a directory or glob checked for symlinks that leave the roots.
MAX_CHECKED_ENTRIES = 100_000
_GLOB_CHARS = set("*?[")


class PathDenied(SynthosError):
    """A dataset outside what the server may read: 1009 DATA_ACCESS, PERMISSION_DENIED."""

    grpc_status = grpc.StatusCode.PERMISSION_DENIED

    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            ErrorCode.DATA_ACCESS, f"dataset path {path!r} is not allowed: {why}", {"path": path}
        )


class DatasetPolicy:
    def __init__(self, data_roots: Sequence[str | os.PathLike], s3_buckets: Iterable[str]) -> None:
        self.roots = [Path(root).resolve() for root in data_roots]
        self.buckets = frozenset(s3_buckets)

    def resolve(self, path: str) -> str:
        """The path or URI the library should read; raises PathDenied."""
        if not path or not path.strip():
            raise SynthosError(ErrorCode.DATA_VALUE, "dataset path is empty", {"field": "path"})
        if "\x00" in path:
            raise PathDenied(path, "it contains a NUL byte")
        scheme = urlparse(path).scheme.lower()
        if scheme == "s3":
            return self._resolve_s3(path)
        if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
            raise PathDenied(path, f"the {scheme}:// scheme is not served (local paths, s3://)")
        return self._resolve_local(path)

    def _resolve_s3(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.netloc not in self.buckets:
            raise PathDenied(uri, f"bucket {parsed.netloc!r} is not one of the allowed buckets")
        if ".." in PurePosixPath(parsed.path).parts:
            raise PathDenied(uri, "'..' components are not allowed")
        return uri

    def _resolve_local(self, path: str) -> str:
        if ".." in Path(path).parts:
            raise PathDenied(path, "'..' components are not allowed")
        if not self.roots:
            raise PathDenied(path, "the server has no data roots configured")
        candidate = Path(path) if Path(path).is_absolute() else self.roots[0] / path
        if _GLOB_CHARS & set(str(candidate)):
            base = _glob_base(candidate)
            self._check_inside(path, base)
            self._check_entries(path, (Path(p) for p in glob.iglob(str(candidate), recursive=True)))
            return str(candidate)
        resolved = candidate.resolve()
        self._check_inside(path, resolved)
        if resolved.is_dir():
            self._check_entries(path, resolved.rglob("*"))
        return str(resolved)

    def _inside(self, resolved: Path) -> bool:
        return any(resolved == root or resolved.is_relative_to(root) for root in self.roots)

    def _check_inside(self, path: str, target: Path) -> None:
        if not self._inside(target.resolve()):
            raise PathDenied(path, "it resolves outside the server's data roots")

    def _check_entries(self, path: str, entries: Iterable[Path]) -> None:
        for count, entry in enumerate(entries):
            if count >= MAX_CHECKED_ENTRIES:
                raise PathDenied(path, f"it names more than {MAX_CHECKED_ENTRIES} files")
            if not self._inside(entry.resolve()):
                how = "links" if entry.is_symlink() else "resolves"
                raise PathDenied(path, f"{entry.name} {how} outside the server's data roots")


def _glob_base(pattern: Path) -> Path:
    """The directory part of a glob before its first wildcard."""
    parts = []
    for part in pattern.parts:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")
