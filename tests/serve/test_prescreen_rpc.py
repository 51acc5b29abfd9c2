"""PreScreenRisk on a real mTLS server on loopback, backed by a signature library: the
answer equals the library's for the same input; without a library, bad paths and bad
requests get the right status."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pandas as pd
import pytest
from google.protobuf.json_format import MessageToDict

from serve.client import RemoteError
from synthos.analysis.signatures import (
    FingerprintConfig,
    PreScreenConfig,
    SeedCase,
    SignatureLibrary,
    prescreen,
    seed_library,
)
from synthos.errors import ErrorCode
from tests.analysis.signatures.conftest import halves, with_duplicates
from tests.serve.conftest import ServerThread, connect, server_config


@pytest.fixture(scope="module")
def screening(certs, data_root, tmp_path_factory):
    """A server whose signature library holds clean and copied halves of the bundled
    breast-cancer table; the screened files sit in its data root."""
    table = pd.read_parquet(data_root / "synthos_samples" / "breast_cancer.parquet")
    cases = []
    for seed in range(4):
        ref, hold = halves(table, seed)
        cases.append(SeedCase(f"clean/{seed}", hold, "clean", 0, ref))
        cases.append(
            SeedCase(f"dup/{seed}", with_duplicates(hold, 0.4, seed), "exact_duplicates", 2, ref)
        )
    library = SignatureLibrary(tmp_path_factory.mktemp("signatures") / "library.h5")
    seed_library(library, cases, config=FingerprintConfig(threads=1))
    root = tmp_path_factory.mktemp("screen_root")
    ref, hold = halves(table, 9)
    ref.to_parquet(root / "reference.parquet", index=False)
    with_duplicates(hold, 0.4, 9).to_parquet(root / "copied.parquet", index=False)
    config = server_config(
        certs, root, tmp_path_factory.mktemp("storage"), signature_library=str(library.path)
    )
    running = ServerThread(config)
    yield running, root, library
    running.stop()


def test_prescreen_risk_equals_the_library(screening, certs):
    server, root, library = screening
    with connect(server.target, certs) as client:
        response = client.prescreen_risk(
            str(root / "copied.parquet"), 4, reference=str(root / "reference.parquet"), seed=2
        )
    expected = prescreen(
        root / "copied.parquet",
        root / "reference.parquet",
        library=library,
        config=PreScreenConfig(k=4),
        fingerprint_config=FingerprintConfig(threads=1, seed=2),
    )
    assert response.error.code == 0
    assert response.HasField("pre_risk_score")
    assert response.pre_risk_score == pytest.approx(expected.pre_risk, abs=1e-9)
    assert response.pre_risk_score >= 50 and not response.proceed
    assert response.proceed == expected.proceed and response.reason == expected.reason
    assert response.collapse_type == expected.collapse_type == "memorization"
    local = np.concatenate([expected.fingerprint.intrinsic, expected.fingerprint.relative])
    assert np.allclose(list(response.fingerprint), local, equal_nan=True, rtol=0, atol=0)
    assert [m.signature_id for m in response.matches] == [m.signature_id for m in expected.matches]
    for served, local_match in zip(response.matches, expected.matches, strict=True):
        assert math.isclose(served.similarity, local_match.similarity, abs_tol=1e-6)
        assert served.collapse_type == (local_match.collapse_type or "")
        assert served.collapse_detected == local_match.collapse_detected
        assert served.source == "seed"
    result = MessageToDict(response.result)
    assert result["space"] == "relative" and result["library"]["comparable"] == 8


def test_prescreen_risk_without_a_library_and_with_bad_requests(
    screening, certs, data_root, tmp_path
):
    server, root, _ = screening
    with connect(server.target, certs) as client:
        with pytest.raises(RemoteError) as outside:
            client.prescreen_risk(str(data_root / "synthos_samples" / "breast_cancer.parquet"))
        assert outside.value.status == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(RemoteError) as missing:
            client.prescreen_risk(str(root / "nope.parquet"))
        assert missing.value.status == grpc.StatusCode.NOT_FOUND
        with pytest.raises(RemoteError) as bad_k:
            client.prescreen_risk(str(root / "copied.parquet"), top_k=5000)
        assert bad_k.value.status == grpc.StatusCode.INVALID_ARGUMENT
    bare = ServerThread(server_config(certs, root, tmp_path / "storage"))
    try:
        with connect(bare.target, certs) as client, pytest.raises(RemoteError) as none:
            client.prescreen_risk(str(root / "copied.parquet"))
        assert none.value.status == grpc.StatusCode.FAILED_PRECONDITION
        assert none.value.error.code == int(ErrorCode.DATA_VALUE)
        assert "signature library" in none.value.error.message
    finally:
        bare.stop()
