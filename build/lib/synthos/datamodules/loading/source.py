"""Where the bytes come from: local paths, directories of parts, globs and ``s3://`` URIs.

`resolve()` turns what the user passed into a list of `Source`s (one per file), each
bound to a pyarrow FileSystem. `open_stream()` gives the decompressed byte stream of a
source; `spill()` copies a compressed source into a local temporary file for formats that
need random access (Parquet, Arrow IPC file, HDF5, Excel).
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from synthos.errors import DataError, ErrorCode

from .failures import guard, short
from .options import LoadOptions

HEAD_BYTES = 64 * 1024
_COPY_CHUNK = 1 << 20
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Source:
    """One file: what to call it in messages, and how to open it."""

    display: str
    fs: pafs.FileSystem
    path: str
    size: int
    remote: bool = False

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)


# ---------------------------------------------------------------------------------------
# compression


def compression_of(head: bytes) -> str | None:
    """The codec whose magic bytes start `head` (pyarrow codec names), or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bz2"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    return None


def codec_available(codec: str) -> bool:
    try:
        return pa.Codec.is_available(codec)
    except Exception:
        return False


# ---------------------------------------------------------------------------------------
# file systems

_S3_CACHE: dict[tuple[Any, ...], pafs.FileSystem] = {}
_S3_LOCK = threading.Lock()


def s3_filesystem(options: LoadOptions) -> pafs.FileSystem:
    """A pyarrow S3FileSystem, honouring an endpoint override (parameter or environment)."""
    endpoint = (
        options.s3_endpoint
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    region = (
        options.s3_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    key = (endpoint, region, options.s3_anonymous)
    with _S3_LOCK:
        cached = _S3_CACHE.get(key)
        if cached is not None:
            return cached
        kwargs: dict[str, Any] = {
            "region": region,
            "anonymous": options.s3_anonymous,
            "connect_timeout": 10,
            "request_timeout": 60,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
        }
        if endpoint:
            parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
            kwargs["endpoint_override"] = parsed.netloc or parsed.path
            kwargs["scheme"] = parsed.scheme or "https"
        with guard(endpoint or "s3://", "S3 configuration", ErrorCode.DATA_ACCESS):
            fs = pafs.S3FileSystem(**kwargs)
        _S3_CACHE[key] = fs
        return fs


def _wrap_filesystem(fs: Any) -> pafs.FileSystem:
    if isinstance(fs, pafs.FileSystem):
        return fs
    # An fsspec file system.
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def filesystem_for(path: str, options: LoadOptions) -> tuple[pafs.FileSystem, str, bool]:
    """(file system, path inside it, is remote) for a user-given path or URI."""
    if options.filesystem is not None:
        fs = _wrap_filesystem(options.filesystem)
        inner = path.split("://", 1)[1] if "://" in path else path
        return fs, inner, not isinstance(fs, pafs.LocalFileSystem)
    if "://" not in path:
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path)), False
    scheme, rest = path.split("://", 1)
    scheme = scheme.lower()
    if scheme == "file":
        return pafs.LocalFileSystem(), os.path.abspath(rest), False
    if scheme in ("s3", "s3a"):
        return s3_filesystem(options), rest.lstrip("/"), True
    try:
        fs, inner = pafs.FileSystem.from_uri(path)
        return fs, inner, True
    except Exception:
        pass
    try:
        import fsspec.core

        fs, inner = fsspec.core.url_to_fs(path)
        return _wrap_filesystem(fs), inner, True
    except Exception as exc:
        raise DataError(
            f"unsupported or unreachable URI scheme {scheme!r}: {short(exc)}",
            code=ErrorCode.DATA_ACCESS,
            path=path,
            expected="a local path, file://, s3:// or another scheme fsspec knows",
        ) from exc


# ---------------------------------------------------------------------------------------
# resolving paths into files


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def _display(original: str, fs_path: str, remote: bool, scheme: str | None) -> str:
    if not remote:
        return fs_path
    if scheme:
        return f"{scheme}://{fs_path}"
    return fs_path


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob whose '*' and '?' stay inside one path component, '**' crosses."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def resolve(path: str | os.PathLike[str], options: LoadOptions) -> list[Source]:
    """The files behind `path`: a file, a directory of parts, a glob, or an S3 prefix.

    Directories are listed recursively; names starting with '.' or '_' (``_SUCCESS``,
    ``.crc``, ``_metadata``) are skipped. Files come back sorted by path.
    """
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text:
        raise DataError(
            f"dataset path must be a non-empty string, got {text!r}",
            code=ErrorCode.DATA_NOT_FOUND,
            expected="a file, directory, glob or URI",
        )
    fs, fs_path, remote = filesystem_for(text, options)
    scheme = text.split("://", 1)[0] if "://" in text else None
    with guard(text, "file information", ErrorCode.DATA_ACCESS):
        info = fs.get_file_info(fs_path)
    if info.type == pafs.FileType.File:
        return [Source(text, fs, fs_path, int(info.size or 0), remote)]
    if info.type == pafs.FileType.Directory:
        with guard(text, "directory listing", ErrorCode.DATA_ACCESS):
            infos = fs.get_file_info(pafs.FileSelector(fs_path, recursive=True))
        files = _visible_files(infos, fs_path.rstrip("/"))
        if not files:
            raise DataError(
                "directory holds no data files",
                code=ErrorCode.DATA_EMPTY,
                path=text,
                expected="at least one file not starting with '.' or '_'",
            )
        return [_listed(text, fs, f, remote, scheme) for f in files]
    if _GLOB_CHARS.search(fs_path):
        return _resolve_glob(text, fs, fs_path, remote, scheme)
    raise DataError(
        "dataset not found",
        code=ErrorCode.DATA_NOT_FOUND,
        path=text,
        expected="an existing file, directory of part files, glob pattern or s3:// URI",
    )


def _resolve_glob(
    text: str, fs: pafs.FileSystem, pattern: str, remote: bool, scheme: str | None
) -> list[Source]:
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if _GLOB_CHARS.search(part):
            break
        fixed.append(part)
    base = "/".join(fixed) or ("/" if pattern.startswith("/") else "")
    with guard(text, "glob base", ErrorCode.DATA_ACCESS):
        base_info = fs.get_file_info(base) if base else None
    if base_info is not None and base_info.type != pafs.FileType.Directory:
        raise DataError(
            "glob pattern matches no files (its base directory does not exist)",
            code=ErrorCode.DATA_NOT_FOUND,
            path=text,
            expected=f"an existing directory {base!r}",
        )
    recursive = "**" in pattern or len(parts) - len(fixed) > 1
    with guard(text, "directory listing", ErrorCode.DATA_ACCESS):
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=recursive))
    regex = _glob_regex(pattern)
    matched = [
        item
        for item in _visible_files(infos, base)
        if regex.match(item.path) or fnmatch.fnmatchcase(item.path, pattern)
    ]
    if not matched:
        raise DataError(
            "glob pattern matches no files",
            code=ErrorCode.DATA_NOT_FOUND,
            path=text,
            expected="at least one matching file",
        )
    return [_listed(text, fs, f, remote, scheme) for f in matched]


def _visible_files(infos: list[pafs.FileInfo], base: str) -> list[pafs.FileInfo]:
    """The files of a listing, by path, without hidden ones ('.' or '_' below `base`)."""
    files = [
        item
        for item in infos
        if item.type == pafs.FileType.File and not _hidden(item.path[len(base) :].lstrip("/"))
    ]
    return sorted(files, key=lambda item: item.path)


def _listed(
    text: str, fs: pafs.FileSystem, item: pafs.FileInfo, remote: bool, scheme: str | None
) -> Source:
    return Source(
        _display(text, item.path, remote, scheme), fs, item.path, int(item.size or 0), remote
    )


# ---------------------------------------------------------------------------------------
# opening


def open_raw(src: Source) -> pa.NativeFile:
    """The raw (possibly compressed) byte stream of a source, buffered."""
    with guard(src.display, "file", ErrorCode.DATA_ACCESS):
        stream = src.fs.open_input_stream(src.path, compression=None)
    if src.remote:
        return pa.BufferedInputStream(stream, 1 << 20)
    return stream


def open_stream(src: Source, compression: str | None) -> pa.NativeFile:
    """The decompressed byte stream of a source."""
    raw = open_raw(src)
    if compression is None:
        return raw
    with guard(src.display, f"{compression} stream", ErrorCode.DATA_CORRUPT):
        return pa.CompressedInputStream(raw, compression)


def open_random(src: Source) -> pa.NativeFile:
    """A random-access file. Local files are read with plain reads, not memory-mapped: pages
    of a mapping stay resident until the file closes, so a streaming pass over a large file
    would grow the process to the file's size."""
    with guard(src.display, "file", ErrorCode.DATA_ACCESS):
        if src.is_local:
            return pa.OSFile(src.path, "r")
        return src.fs.open_input_file(src.path)


def read_head(src: Source, size: int = HEAD_BYTES) -> tuple[bytes, str | None, bytes]:
    """(first raw bytes, compression codec or None, first decompressed bytes)."""
    with (
        guard(src.display, "file start", ErrorCode.DATA_ACCESS),
        src.fs.open_input_stream(src.path, compression=None) as stream,
    ):
        raw = stream.read(size)
    codec = compression_of(raw)
    if codec is None:
        return raw, None, raw
    if not codec_available(codec):
        raise DataError(
            f"{codec}-compressed file, but this pyarrow build has no {codec} codec",
            code=ErrorCode.DATA_FORMAT,
            path=src.display,
            expected="gzip or zstd compression",
        )
    with (
        guard(src.display, f"{codec}-compressed data", ErrorCode.DATA_CORRUPT),
        open_stream(src, codec) as stream,
    ):
        head = _read_up_to(stream, size)
    return raw, codec, head


def _read_up_to(stream: pa.NativeFile, size: int) -> bytes:
    chunks = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class TemporaryLocalFile:
    """A local temporary file that `fill` writes (the directory is removed on close), read
    as a Source shown to the user as `display`."""

    def __init__(self, display: str, fill: Callable[[Path], None]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="synthos-load-")
        target = Path(self._dir.name) / "data"
        try:
            fill(target)
        except BaseException:
            self._dir.cleanup()
            raise
        size = target.stat().st_size
        self.source = Source(display, pafs.LocalFileSystem(), str(target), size, False)

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self) -> TemporaryLocalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Spilled(TemporaryLocalFile):
    """A source copied into a local temporary file (removed on close): decompressed when
    `compression` names a codec, else copied as is (a remote file a reader needs on local
    disk)."""

    def __init__(self, src: Source, compression: str | None) -> None:
        what = f"{compression}-compressed data" if compression else "file"

        def copy(target: Path) -> None:
            with (
                guard(src.display, what, ErrorCode.DATA_CORRUPT),
                open_stream(src, compression) as stream,
                open(target, "wb") as out,
            ):
                while True:
                    chunk = stream.read(_COPY_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)

        super().__init__(src.display, copy)
