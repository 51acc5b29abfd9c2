"""A real server on 127.0.0.1 with real mTLS (certificates from `serve.certs`), in a thread
of the test process or as a `python -m serve` subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serve.certs import CertFiles, generate_certs
from serve.client import SynthosClient
from serve.config import ServerConfig, load_config
from serve.server import SynthosServer
from synthos.datamodules.sample_data import sample_table, sample_text
from tests.conftest import ROOT

# What the tests' cascades need on a 2-core CPU machine (as tests/cascade does).
CASCADE_OVERRIDES = ("trainer=cpu", "logger=csv", "data.seq_len=64", "data.vocab_size=512")


class ServerThread:
    """SynthosServer on its own event loop in a daemon thread."""

    def __init__(self, config: ServerConfig, insecure_dev: bool = False) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = SynthosServer(config, insecure_dev)
        self.port = self._run(self.server.start())
        self.target = f"127.0.0.1:{self.port}"

    def _run(self, coroutine, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self._run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_config(certs: CertFiles, data_root: Path, storage: Path, **changes) -> ServerConfig:
    values = {
        "listen": "127.0.0.1:0",
        "tls_cert": str(certs.server_cert),
        "tls_key": str(certs.server_key),
        "tls_client_ca": str(certs.ca_cert),
        "data_roots": (str(data_root),),
        "s3_buckets": ("allowed-bucket",),
        "storage_dir": str(storage),
        "cascade_overrides": CASCADE_OVERRIDES,
        "shutdown_grace_s": 5.0,
        "progress_poll_s": 0.2,
        **changes,
    }
    return ServerConfig(**values)


def connect(target: str, certs: CertFiles, **kw) -> SynthosClient:
    return SynthosClient(
        target, ca=certs.ca_cert, cert=certs.client_cert, key=certs.client_key, **kw
    )


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> CertFiles:
    return generate_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """The server's data root: the bundled table sample, a corrupt Parquet file, and a
    symlink that leads out of the root."""
    root = tmp_path_factory.mktemp("data_root")
    table = sample_table(root)
    (root / "table.parquet").symlink_to(table)
    (root / "corrupt.parquet").write_bytes(b"PAR1" + os.urandom(2048) + b"PAR1")
    outside = tmp_path_factory.mktemp("outside") / "secret.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), outside)
    (root / "escape.parquet").symlink_to(outside)
    return root


@pytest.fixture(scope="session")
def text_data(data_root) -> Path:
    return sample_text(data_root)


@pytest.fixture(scope="module")
def server(certs, data_root, tmp_path_factory):
    running = ServerThread(server_config(certs, data_root, tmp_path_factory.mktemp("storage")))
    yield running
    running.stop()


@pytest.fixture
def client(server, certs):
    with connect(server.target, certs) as remote:
        yield remote


class ServerProcess:
    """`python -m serve --config FILE` as a subprocess, for restarts and signals."""

    def __init__(self, config_file: Path, certs: CertFiles, log: Path) -> None:
        self.config_file = config_file
        self.target = load_config(config_file).listen
        self.certs = certs
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, "WANDB_MODE": "disabled"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "serve", "--config", str(self.config_file)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.time() + timeout
        with connect(self.target, self.certs) as remote:
            while time.time() < deadline:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    if remote.check_health(timeout=1) == "SERVING":
                        return
                except Exception:
                    time.sleep(0.2)
        raise TimeoutError(f"server did not start: {self.log.read_text()[-3000:]}")

    def terminate(self, timeout: float = 60) -> int:
        self.process.terminate()
        return self.process.wait(timeout)
