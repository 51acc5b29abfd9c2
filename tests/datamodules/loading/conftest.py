"""Fixtures for the loading tests: sample tables, file writers and a moto S3 server."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pyarrow as pa
import pytest


@pytest.fixture
def sample_table() -> pa.Table:
    """Ints, floats with a null, unicode strings and booleans: survives every format."""
    n = 257
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "score": pa.array(
                [None if i % 50 == 7 else math.sin(i) * 100 for i in range(n)], pa.float64()
            ),
            "name": pa.array([f"row-{i}-é✓" for i in range(n)], pa.string()),
            "flag": pa.array([i % 3 == 0 for i in range(n)], pa.bool_()),
        }
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API (moto in server mode) on 127.0.0.1, with dummy credentials."""
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def s3_client(s3_endpoint):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
