"""Every RPC that needs no cascade, against what the library returns for the same input,
and bad requests mapped to the right ErrorInfo and gRPC status."""

from __future__ import annotations

import concurrent.futures
import io
import json
import math

import grpc
import pyarrow.parquet as pq
import pytest
from google.protobuf.json_format import MessageToDict

from serve.client import RemoteError
from serve.errors import CORRELATION_HEADER, grpc_status_of
from serve.generated import validation_engine_pb2 as v1
from synthos.errors import ErrorCode, SynthosError
from tests.serve.conftest import ServerThread, connect, server_config


def close(a, b) -> bool:
    """Equal JSON-like values; numbers equal to 1e-9 (Struct numbers are doubles)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def failure_of(call, *args, **kwargs) -> RemoteError:
    with pytest.raises(RemoteError) as failure:
        call(*args, **kwargs)
    return failure.value


def table_path(data_root) -> str:
    return str(data_root / "synthos_samples" / "breast_cancer.parquet")


# ------------------------------------------------------------------------------ results


def test_analyze_diversity_equals_the_library(client, data_root, server):
    from synthos.analysis import analyze_diversity

    path = table_path(data_root)
    response = client.analyze_diversity(path, sample_size=200, seed=3, include_sample=True)
    expected = analyze_diversity(
        path, sample_size=200, seed=3, threads=1, work_dir=str(server.config.storage / "tmp")
    )
    assert response.error.code == 0
    assert response.entropy == pytest.approx(expected.entropy)
    assert response.gini == pytest.approx(expected.gini)
    assert response.cluster_count == expected.cluster_count
    assert response.rare_pattern_percentage == pytest.approx(expected.rare_pattern_percentage)
    assert response.outlier_percentage == pytest.approx(expected.outlier_percentage)
    assert response.sampling_confidence == pytest.approx(expected.sampling_confidence)
    assert response.rows == 569 and response.sample_rows == expected.sample["size"] == 200
    served, local = MessageToDict(response.result), expected.to_dict()
    served.pop("timings"), local.pop("timings")
    assert close(served, local)
    sample = pq.read_table(io.BytesIO(response.sample_parquet))
    assert sample.equals(expected.sample_table)


def test_detect_collapse_equals_the_library(client, data_root):
    from synthos.analysis.collapse import CollapseConfig, detect_collapse

    path = table_path(data_root)
    response = client.detect_collapse(path, config={"sample_rows": 500, "seed": 1})
    expected = detect_collapse(path, config=CollapseConfig(sample_rows=500, seed=1, threads=1))
    report = expected.to_report()
    assert response.error.code == 0
    assert [d.name for d in response.dimensions] == [d["name"] for d in report["dimensions"]]
    for served, local in zip(response.dimensions, report["dimensions"], strict=True):
        assert served.evaluated == local["evaluated"]
        assert (served.score if served.HasField("score") else None) == local["score"]
        assert (served.passed if served.HasField("passed") else None) == local["passed"]
    assert response.collapse_detected == report["collapse_detected"]
    assert response.risk_score == report["risk_score"]
    assert response.severity == report["severity"]
    assert response.report.overall_score == pytest.approx(report["overall_score"])


# ------------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("path", "code", "status"),
    [
        ("missing.parquet", ErrorCode.DATA_NOT_FOUND, grpc.StatusCode.NOT_FOUND),
        ("corrupt.parquet", ErrorCode.DATA_CORRUPT, grpc.StatusCode.FAILED_PRECONDITION),
        ("../outside/secret.parquet", ErrorCode.DATA_ACCESS, grpc.StatusCode.PERMISSION_DENIED),
        ("/etc/passwd", ErrorCode.DATA_ACCESS, grpc.StatusCode.PERMISSION_DENIED),
        ("escape.parquet", ErrorCode.DATA_ACCESS, grpc.StatusCode.PERMISSION_DENIED),
        ("s3://other-bucket/x.parquet", ErrorCode.DATA_ACCESS, grpc.StatusCode.PERMISSION_DENIED),
        ("http://example.com/x.csv", ErrorCode.DATA_ACCESS, grpc.StatusCode.PERMISSION_DENIED),
        ("", ErrorCode.DATA_VALUE, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_datasets_map_to_their_code_and_status(client, data_root, path, code, status):
    error = failure_of(client.analyze_diversity, path)
    assert (error.status, error.error.code, error.error.name) == (status, int(code), code.name)
    assert error.error.retryable is False
    assert "Traceback" not in error.error.message and error.error.correlation_id
    # The response rides along in the status details, with the same ErrorInfo.
    assert isinstance(error.response, v1.AnalyzeDiversityResponse)
    assert error.response.error == error.error


def test_a_symlinked_directory_out_of_the_roots_is_rejected(client, data_root, tmp_path):
    link = data_root / "linked_dir"
    if not link.exists():
        link.symlink_to(tmp_path, target_is_directory=True)
    error = failure_of(client.analyze_diversity, "linked_dir")
    assert error.status == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    "rpc", ["get_predictions", "cascade_status", "cancel_cascade", "watch_cascade"]
)
def test_unknown_validation_id_is_not_found(client, rpc):
    call = getattr(client, rpc)
    error = failure_of(
        lambda: (
            list(call("v-does-not-exist")) if rpc == "watch_cascade" else call("v-does-not-exist")
        )
    )
    assert error.status == grpc.StatusCode.NOT_FOUND
    assert error.error.code == int(ErrorCode.DATA_NOT_FOUND)


def test_malformed_requests_are_invalid_arguments(client, data_root):
    bad_id = failure_of(client.cascade_status, "../../etc")
    assert bad_id.status == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_id.error.code == int(ErrorCode.DATA_VALUE)
    bad_option = failure_of(client.analyze_diversity, table_path(data_root), sample_size=0)
    assert bad_option.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "sample_size" in bad_option.error.message
    no_profile = failure_of(lambda: list(client.train_cascade(table_path(data_root), "")))
    assert no_profile.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "profile" in no_profile.error.message
    unknown_profile = failure_of(lambda: list(client.train_cascade(table_path(data_root), "huge")))
    assert unknown_profile.status == grpc.StatusCode.INVALID_ARGUMENT
    bad_config = failure_of(client.detect_collapse, table_path(data_root), config={"bogus": 1})
    assert bad_config.status == grpc.StatusCode.INVALID_ARGUMENT
    bad_value = failure_of(client.detect_collapse, table_path(data_root), config={"k": 0})
    assert bad_value.status == grpc.StatusCode.INVALID_ARGUMENT
    # Bytes that are not a request at all.
    raw = client.channel.unary_unary("/synthos.v1.ValidationEngine/GetCascadeStatus")
    with pytest.raises(grpc.RpcError) as garbage:
        raw(b"\xff\xff\xff", timeout=10)
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DecodeError" not in garbage.value.details()
    assert client.check_health(timeout=10) == "SERVING"


def test_errors_carry_a_correlation_id_in_trailing_metadata(client, server):
    stub = client.validation.GetCascadeStatus
    request = v1.GetCascadeStatusRequest(validation_id="v-unknown")
    with pytest.raises(grpc.RpcError) as failure:
        stub(request, timeout=10, metadata=((CORRELATION_HEADER, "test-correlation-1"),))
    trailers = dict(failure.value.trailing_metadata())
    assert trailers[CORRELATION_HEADER] == "test-correlation-1"
    assert "grpc-status-details-bin" in trailers


# ------------------------------------------------------------------------------ limits


def test_deadline_exceeded_and_the_server_stays_healthy(client, data_root):
    error = failure_of(client.analyze_diversity, table_path(data_root), seed=7, timeout=0.05)
    assert error.status == grpc.StatusCode.DEADLINE_EXCEEDED
    assert client.check_health(timeout=10) == "SERVING"
    assert client.analyze_diversity(table_path(data_root), timeout=60).rows == 569


def test_a_full_server_answers_resource_exhausted_with_retry_after(certs, data_root, tmp_path):
    config = server_config(
        certs,
        data_root,
        tmp_path / "storage",
        max_concurrent_requests=1,
        max_queued_requests=0,
        request_retry_after_s=2.5,
    )
    running = ServerThread(config)
    try:
        with connect(running.target, certs) as remote:
            path = table_path(data_root)
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(remote.analyze_diversity, path, seed=s) for s in range(4)]
                outcomes = []
                for future in futures:
                    try:
                        outcomes.append(future.result())
                    except RemoteError as exc:
                        outcomes.append(exc)
        busy = [o for o in outcomes if isinstance(o, RemoteError)]
        assert busy and len(busy) < 4
        for error in busy:
            assert error.status == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error.error.code == int(ErrorCode.RESOURCE_BUSY) and error.error.retryable
            assert error.error.retry_after_seconds == 2.5
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.DATA_SCHEMA, grpc.StatusCode.INVALID_ARGUMENT),
        (ErrorCode.MODEL_DIVERGED, grpc.StatusCode.ABORTED),
        (ErrorCode.OUT_OF_MEMORY, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (ErrorCode.TIMEOUT, grpc.StatusCode.DEADLINE_EXCEEDED),
        (ErrorCode.INTERNAL, grpc.StatusCode.INTERNAL),
    ],
)
def test_each_category_maps_to_its_status(code, status):
    assert grpc_status_of(SynthosError(code, "x")) == status


def test_detect_collapse_takes_metadata_inline_or_as_a_file(client, data_root):
    from synthos.analysis.collapse import CollapseConfig, detect_collapse

    path = table_path(data_root)
    sdv = {"columns": {"mean radius": {"sdtype": "id"}, "diagnosis": {"sdtype": "categorical"}}}
    meta_file = data_root / "breast_cancer_metadata.json"
    meta_file.write_text(json.dumps(sdv))
    expected = detect_collapse(path, config=CollapseConfig(threads=1), metadata=sdv)
    for kwargs in ({"metadata": sdv}, {"metadata_path": str(meta_file)}):
        response = client.detect_collapse(path, **kwargs)
        assert response.error.code == 0
        evidence = MessageToDict(response.dimensions[0].evidence)
        assert "mean radius" in evidence["inputs"]["excluded_columns"]
        assert response.risk_score == expected.risk_score
    wrong = {"columns": {"diagnosis": {"sdtype": "label"}}}
    error = failure_of(client.detect_collapse, path, metadata=wrong)
    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        error.error.code == int(ErrorCode.DATA_SCHEMA) and "sdtype 'label'" in error.error.message
    )
    both = failure_of(client.detect_collapse, path, metadata=sdv, metadata_path=str(meta_file))
    assert both.status == grpc.StatusCode.INVALID_ARGUMENT
    outside = failure_of(client.detect_collapse, path, metadata_path="/etc/passwd")
    assert outside.status == grpc.StatusCode.PERMISSION_DENIED
