"""mTLS: client certificates are required and must come from the configured CA; the server
refuses to run without TLS unless told --insecure-dev, and then warns."""

from __future__ import annotations

import logging
import subprocess
import sys

import grpc
import pytest
from cryptography import x509

from serve.certs import CertFiles, generate_certs
from serve.client import RemoteError, SynthosClient
from serve.config import TlsRequired
from serve.server import SynthosServer
from tests.conftest import ROOT
from tests.serve.conftest import ServerThread, connect, server_config


def test_a_client_without_a_certificate_is_rejected(server, certs):
    with (
        SynthosClient(server.target, ca=certs.ca_cert) as anonymous,
        pytest.raises(RemoteError) as failure,
    ):
        anonymous.check_health(timeout=10)
    assert failure.value.status == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_rejected(server, certs, tmp_path):
    other = generate_certs(tmp_path / "other")
    with (
        SynthosClient(
            server.target, ca=certs.ca_cert, cert=other.client_cert, key=other.client_key
        ) as stranger,
        pytest.raises(RemoteError) as failure,
    ):
        stranger.check_health(timeout=10)
    assert failure.value.status == grpc.StatusCode.UNAVAILABLE


def test_a_valid_client_is_served(client):
    assert client.check_health(timeout=10) == "SERVING"
    assert client.check_health("synthos.v1.ValidationEngine", timeout=10) == "SERVING"
    assert client.check_health("synthos.v1.CollapseEngine", timeout=10) == "SERVING"


def test_reflection_lists_the_services(server, certs):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with connect(server.target, certs) as remote:
        stub = reflection_pb2_grpc.ServerReflectionStub(remote.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in response.list_services_response.service}
    assert {"synthos.v1.ValidationEngine", "synthos.v1.CollapseEngine"} <= names


def test_the_server_refuses_to_start_without_tls(tmp_path, data_root):
    config = server_config(
        generate_certs(tmp_path / "c"),
        data_root,
        tmp_path / "s",
        tls_cert=None,
        tls_key=None,
        tls_client_ca=None,
    )
    with pytest.raises(TlsRequired, match="--insecure-dev"):
        SynthosServer(config)
    cli = subprocess.run(
        [sys.executable, "-m", "serve", "--storage-dir", str(tmp_path / "s")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 2 and "refusing to start without TLS" in cli.stderr


def test_insecure_dev_mode_serves_plaintext_and_warns(tmp_path, data_root, caplog):
    config = server_config(
        generate_certs(tmp_path / "c"),
        data_root,
        tmp_path / "s",
        tls_cert=None,
        tls_key=None,
        tls_client_ca=None,
    )
    with caplog.at_level(logging.WARNING, logger="serve"):
        running = ServerThread(config, insecure_dev=True)
    try:
        assert "INSECURE DEVELOPMENT MODE" in caplog.text
        with SynthosClient(running.target, insecure=True) as plain:
            assert plain.check_health(timeout=10) == "SERVING"
    finally:
        running.stop()


def test_gen_certs_command_writes_a_ca_server_and_client_certificate(tmp_path):
    out = tmp_path / "certs"
    cli = subprocess.run(
        [sys.executable, "-m", "serve", "gen-certs", str(out), "--san", "synthos.internal"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    server_cert = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    sans = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "synthos.internal"} <= set(sans.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    client_cert = x509.load_pem_x509_certificate((out / "client.pem").read_bytes())
    assert client_cert.issuer == ca.subject == server_cert.issuer
    assert oct((out / "client.key").stat().st_mode & 0o777) == "0o600"

    # The files the command wrote serve mTLS as they are.
    files = CertFiles(
        *(out / name for name in ("ca.pem", "ca.key", "server.pem", "server.key")),
        out / "client.pem",
        out / "client.key",
    )
    running = ServerThread(server_config(files, tmp_path, tmp_path / "storage"))
    try:
        with connect(running.target, files) as remote:
            assert remote.check_health(timeout=10) == "SERVING"
    finally:
        running.stop()
