"""The server's configuration: a YAML file, then `SYNTHOS_SERVE_<FIELD>` environment
variables on top (lists comma-separated), then command-line flags.

    listen: "0.0.0.0:50051"
    tls_cert: certs/server.pem
    tls_key: certs/server.key
    tls_client_ca: certs/ca.pem
    data_roots: [/data/synthetic, /data/reference]
    s3_buckets: [synthos-datasets]
    storage_dir: /var/lib/synthos
    max_concurrent_cascades: 1
    cascade_overrides: [trainer=cpu, logger=csv]

Relative paths in the file are taken relative to the file's directory.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from synthos.errors import ErrorCode, SynthosError

ENV_PREFIX = "SYNTHOS_SERVE_"
MAX_MESSAGE_BYTES = 100 * 1024 * 1024
PATH_FIELDS = (
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "storage_dir",
    "train_script",
    "signature_library",
)


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server reads at start-up.

    listen: host:port (port 0 picks a free one).
    tls_cert / tls_key / tls_client_ca: PEM files; clients must present a certificate
        signed by tls_client_ca (mTLS). Without them the server refuses to start unless
        started with --insecure-dev.
    data_roots: dataset paths must resolve inside one of these directories.
    s3_buckets: the only buckets an s3:// dataset may name.
    storage_dir: SQLite job database, cascade sweeps and logs, temporary files.
    max_concurrent_requests: library calls (diversity, collapse, ...) running at once;
        max_queued_requests more wait, beyond that RESOURCE_EXHAUSTED.
    max_concurrent_cascades: cascade jobs running at once; beyond that RESOURCE_EXHAUSTED
        with cascade_retry_after_s.
    analysis_threads: threads of the analysis engine per request.
    cascade_profiles: profiles a client may ask for.
    cascade_overrides: Hydra overrides added to every cascade command (trainer, logger).
    resume_interrupted: on start, re-run cascades a shutdown or crash interrupted (they
        resume from their checkpoints); false marks them failed.
    shutdown_grace_s: how long a shutdown waits for requests and cascade processes.
    progress_poll_s: how often the progress file of a running cascade is read.
    train_script: a training script to run instead of the package's `synthos.train` (default:
        none).
    signature_library: the HDF5 signature library PreScreenRisk searches (made by
        `synthos signatures seed`); unset: PreScreenRisk answers FAILED_PRECONDITION.
    """

    listen: str = "127.0.0.1:50051"
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    data_roots: tuple[str, ...] = ()
    s3_buckets: tuple[str, ...] = ()
    storage_dir: str = "synthos-serve"
    max_concurrent_requests: int = 4
    max_queued_requests: int = 256
    request_retry_after_s: float = 1.0
    max_concurrent_cascades: int = 1
    cascade_retry_after_s: float = 60.0
    analysis_threads: int = 1
    max_message_bytes: int = MAX_MESSAGE_BYTES
    cascade_profiles: tuple[str, ...] = ("smoke", "quick", "full")
    cascade_overrides: tuple[str, ...] = ()
    resume_interrupted: bool = True
    shutdown_grace_s: float = 10.0
    progress_poll_s: float = 0.5
    train_script: str | None = None
    log_level: str = "INFO"
    signature_library: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_concurrent_requests", "max_concurrent_cascades", "analysis_threads"):
            if getattr(self, name) < 1:
                raise _config_error(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_queued_requests < 0:
            raise _config_error("max_queued_requests must be >= 0")
        if self.tls_enabled and not (self.tls_cert and self.tls_key and self.tls_client_ca):
            raise _config_error("TLS needs all of tls_cert, tls_key and tls_client_ca")

    @property
    def tls_enabled(self) -> bool:
        return any((self.tls_cert, self.tls_key, self.tls_client_ca))

    @property
    def storage(self) -> Path:
        return Path(self.storage_dir)


class TlsRequired(RuntimeError):
    """Refusing to serve without mTLS (unless --insecure-dev)."""


def check_tls(config: ServerConfig, insecure_dev: bool) -> None:
    if not config.tls_enabled and not insecure_dev:
        raise TlsRequired(
            "refusing to start without TLS: set tls_cert, tls_key and tls_client_ca "
            "(synthos-serve gen-certs DIR makes development ones) or pass --insecure-dev"
        )


def _config_error(message: str) -> SynthosError:
    return SynthosError(ErrorCode.DATA_VALUE, f"server configuration: {message}")


def _field_kind(name: str) -> type:
    hint = typing.get_type_hints(ServerConfig)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        return tuple
    if origin in (typing.Union, types.UnionType):
        return args[0]
    return hint


def _coerce(name: str, value: Any) -> Any:
    kind = _field_kind(name)
    if kind is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise _config_error(f"{name} must be a list, got {value!r}")
        return tuple(str(v) for v in value)
    if kind is bool and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise _config_error(f"{name} must be a boolean, got {value!r}")
        return lowered in ("1", "true", "yes", "on")
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise _config_error(f"{name} must be {kind.__name__}, got {value!r}") from exc


def load_config(
    path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> ServerConfig:
    """The config file (if any), then the environment, then `overrides` (unset: None)."""
    env = os.environ if env is None else env
    known = {f.name for f in fields(ServerConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise _config_error(f"cannot read {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise _config_error(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise _config_error(f"{path} must hold a mapping of settings")
        unknown = sorted(set(data) - known)
        if unknown:
            raise _config_error(f"unknown settings in {path}: {', '.join(unknown)}")
        base = path.resolve().parent
        for name, value in data.items():
            value = _coerce(name, value)
            if name in PATH_FIELDS and value is not None:
                value = str(base / value)
            if name == "data_roots":
                value = tuple(str(base / v) for v in value)
            values[name] = value
    for name in known:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw)
    for name, value in overrides.items():
        if name not in known:
            raise _config_error(f"unknown setting {name}")
        if value is not None:
            values[name] = _coerce(name, value)
    return ServerConfig(**values)


__all__ = [
    "ENV_PREFIX",
    "MAX_MESSAGE_BYTES",
    "ServerConfig",
    "TlsRequired",
    "check_tls",
    "load_config",
]
