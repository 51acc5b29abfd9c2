"""The synthos-remote command against a real server."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def remote(server, certs, *args: str) -> subprocess.CompletedProcess:
    tls = ["--ca", str(certs.ca_cert), "--cert", str(certs.client_cert)]
    tls += ["--key", str(certs.client_key)]
    return subprocess.run(
        [sys.executable, "-m", "serve.remote", "--target", server.target, *tls, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_health_and_an_analysis_print_their_answers(server, certs, data_root):
    assert remote(server, certs, "health").stdout.strip() == "SERVING"
    path = data_root / "synthos_samples" / "breast_cancer.parquet"
    sample = data_root.parent / "cli_sample.parquet"
    done = remote(server, certs, "analyze-diversity", str(path), "--sample-out", str(sample))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["error"]["name"] == "OK" and answer["rows"] == "569"
    assert sample.read_bytes()[:4] == b"PAR1"


def test_failures_are_one_line_with_code_status_and_correlation_id(server, certs, data_root):
    missing = remote(server, certs, "analyze-diversity", str(data_root / "nope.parquet"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error [1001 DATA_NOT_FOUND]")
    assert "gRPC NOT_FOUND, correlation id" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1
    unknown = remote(server, certs, "get-predictions", "v-unknown")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    no_library = remote(server, certs, "prescreen-risk", "x.parquet")
    assert no_library.returncode == 1 and "FAILED_PRECONDITION" in no_library.stderr


def test_tls_files_are_required_unless_insecure(server):
    done = subprocess.run(
        [sys.executable, "-m", "serve.remote", "--target", server.target, "health"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--ca, --cert and --key are required" in done.stderr
