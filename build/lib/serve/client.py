"""A Python client of the Synthos service, with the same mTLS options as the CLI.

    from serve.client import SynthosClient

    with SynthosClient("localhost:50051", ca="certs/ca.pem", cert="certs/client.pem",
                       key="certs/client.key") as client:
        diversity = client.analyze_diversity("/data/train.parquet", sample_size=5000)
        for progress in client.train_cascade("/data/train.parquet", profile="quick"):
            print(progress.event, progress.progress_percent)
        prediction = client.get_predictions(progress.validation_id).prediction

A failed call raises `RemoteError`, which carries the gRPC status, the server's
`ErrorInfo` (code, message, details, retryable, retry_after_seconds, correlation_id) and
the response message the server attached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from serve.config import MAX_MESSAGE_BYTES
from serve.errors import CORRELATION_HEADER, struct_of
from serve.generated import collapse_engine_pb2 as c1
from serve.generated import collapse_engine_pb2_grpc as c1_grpc
from serve.generated import common_pb2
from serve.generated import validation_engine_pb2 as v1
from serve.generated import validation_engine_pb2_grpc as v1_grpc


class RemoteError(Exception):
    """A call that ended with a non-OK status."""

    def __init__(
        self,
        status: grpc.StatusCode,
        error: common_pb2.ErrorInfo,
        response: Message | None = None,
    ) -> None:
        super().__init__(
            f"[{error.code} {error.name or status.name}] {error.message} "
            f"(gRPC {status.name}"
            + (f", correlation id {error.correlation_id})" if error.correlation_id else ")")
        )
        self.status = status
        self.error = error
        self.response = response

    @classmethod
    def from_rpc_error(cls, exc: grpc.RpcError) -> RemoteError:
        status = exc.code()
        error: common_pb2.ErrorInfo | None = None
        response = None
        rich = rpc_status.from_call(exc)
        for detail in rich.details if rich is not None else ():
            if detail.Is(common_pb2.ErrorInfo.DESCRIPTOR):
                error = common_pb2.ErrorInfo()
                detail.Unpack(error)
            elif detail.TypeName().startswith("synthos.v1."):
                descriptor = descriptor_pool.Default().FindMessageTypeByName(detail.TypeName())
                response = message_factory.GetMessageClass(descriptor)()
                detail.Unpack(response)
        if error is None:  # not from a Synthos handler: TLS, transport, deadline in flight
            error = common_pb2.ErrorInfo(message=exc.details() or status.name)
            for key, value in exc.trailing_metadata() or ():
                if key == CORRELATION_HEADER:
                    error.correlation_id = value
        return cls(status, error, response)


class CascadeStream:
    """The progress of a cascade as it comes; `cancel()` ends the stream (and, for a
    TrainCascade that started its job without `detach`, the job)."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> Iterator[v1.CascadeProgress]:
        try:
            yield from self._call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and self._call.cancelled():
                return
            raise RemoteError.from_rpc_error(exc) from None

    def cancel(self) -> None:
        self._call.cancel()


def _read(path: str | Path | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _dataset(path: str, modality: str = "", data_format: str = "") -> common_pb2.DatasetRef:
    return common_pb2.DatasetRef(path=path, modality=modality, format=data_format)


class SynthosClient:
    """One channel to a server; `insecure=True` only for a server run with --insecure-dev."""

    def __init__(
        self,
        target: str,
        *,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        insecure: bool = False,
        timeout: float | None = None,
        server_name: str | None = None,
    ) -> None:
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if insecure:
            self.channel = grpc.insecure_channel(target, options=options)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca), private_key=_read(key), certificate_chain=_read(cert)
            )
            self.channel = grpc.secure_channel(target, credentials, options=options)
        self.timeout = timeout
        self.validation = v1_grpc.ValidationEngineStub(self.channel)
        self.collapse = c1_grpc.CollapseEngineStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> SynthosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, method: Any, request: Message, timeout: float | None = None) -> Any:
        """A unary call; RemoteError on failure."""
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise RemoteError.from_rpc_error(exc) from None

    # ------------------------------------------------------------------ ValidationEngine
    def analyze_diversity(
        self,
        path: str,
        *,
        modality: str = "",
        data_format: str = "",
        include_sample: bool = False,
        timeout: float | None = None,
        **options: Any,
    ) -> v1.AnalyzeDiversityResponse:
        """`options`: DiversityOptions fields (sample_size, seed, columns, ...)."""
        request = v1.AnalyzeDiversityRequest(
            dataset=_dataset(path, modality, data_format),
            options=v1.DiversityOptions(**options),
            include_sample=include_sample,
        )
        return self.call(self.validation.AnalyzeDiversity, request, timeout)

    def prescreen_risk(
        self,
        path: str,
        top_k: int = 5,
        *,
        reference: str | None = None,
        modality: str = "",
        data_format: str = "",
        seed: int | None = None,
        timeout: float | None = None,
    ) -> v1.PreScreenRiskResponse:
        request = v1.PreScreenRiskRequest(
            dataset=_dataset(path, modality, data_format), top_k=top_k
        )
        if reference:
            request.reference.CopyFrom(_dataset(reference))
        if seed is not None:
            request.seed = seed
        return self.call(self.validation.PreScreenRisk, request, timeout)

    def train_cascade(
        self,
        path: str,
        profile: str,
        *,
        modality: str = "",
        data_format: str = "",
        timeout: float | None = None,
        **fields: Any,
    ) -> CascadeStream:
        """`fields`: TrainCascadeRequest fields (validation_id, family, target_params,
        level, seed, text_column, target_column, time_column, season_length, detach)."""
        request = v1.TrainCascadeRequest(
            dataset=_dataset(path, modality, data_format), profile=profile, **fields
        )
        return CascadeStream(self.validation.TrainCascade(request, timeout=timeout))

    def watch_cascade(
        self, validation_id: str, from_sequence: int = 0, timeout: float | None = None
    ) -> CascadeStream:
        request = v1.WatchCascadeRequest(validation_id=validation_id, from_sequence=from_sequence)
        return CascadeStream(self.validation.WatchCascade(request, timeout=timeout))

    def cancel_cascade(self, validation_id: str, **kw: Any) -> v1.CancelCascadeResponse:
        request = v1.CancelCascadeRequest(validation_id=validation_id)
        return self.call(self.validation.CancelCascade, request, kw.get("timeout"))

    def cascade_status(self, validation_id: str, **kw: Any) -> v1.GetCascadeStatusResponse:
        request = v1.GetCascadeStatusRequest(validation_id=validation_id)
        return self.call(self.validation.GetCascadeStatus, request, kw.get("timeout"))

    def get_predictions(self, validation_id: str, **kw: Any) -> v1.GetPredictionsResponse:
        request = v1.GetPredictionsRequest(validation_id=validation_id)
        return self.call(self.validation.GetPredictions, request, kw.get("timeout"))

    # ------------------------------------------------------------------ CollapseEngine
    def detect_collapse(
        self,
        candidate: str,
        reference: str | None = None,
        *,
        validation_id: str = "",
        modality: str = "",
        config: Mapping[str, Any] | None = None,
        metadata_path: str = "",
        metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> c1.DetectCollapseResponse:
        request = c1.DetectCollapseRequest(
            candidate=_dataset(candidate, modality),
            validation_id=validation_id,
            metadata_path=metadata_path,
        )
        if metadata is not None:
            request.metadata.CopyFrom(struct_of(dict(metadata)))
        if reference:
            request.reference.CopyFrom(_dataset(reference))
        if config:
            request.config.CopyFrom(struct_of(dict(config)))
        return self.call(self.collapse.DetectCollapse, request, timeout)

    def localize_problems(
        self,
        candidate: str,
        reference: str | None = None,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> c1.LocalizeProblemsResponse:
        request = _with_reference(c1.LocalizeProblemsRequest, candidate, reference, fields)
        return self.call(self.collapse.LocalizeProblems, request, timeout)

    def generate_recommendations(
        self,
        candidate: str,
        reference: str | None = None,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> c1.GenerateRecommendationsResponse:
        request = _with_reference(c1.GenerateRecommendationsRequest, candidate, reference, fields)
        return self.call(self.collapse.GenerateRecommendations, request, timeout)

    # ------------------------------------------------------------------ health
    def check_health(self, service: str = "", timeout: float | None = None) -> str:
        """SERVING, NOT_SERVING, ... of the server or one of its services."""
        response = self.call(
            self.health.Check, health_pb2.HealthCheckRequest(service=service), timeout
        )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def _with_reference(message: type, candidate: str, reference: str | None, fields: dict) -> Any:
    """A request on `candidate` with `fields`, and its `reference` when one is given."""
    request = message(candidate=_dataset(candidate), **fields)
    if reference:
        request.reference.CopyFrom(_dataset(reference))
    return request
