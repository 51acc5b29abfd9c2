"""CollapseEngine: DetectCollapse over `synthos.analysis.collapse` (imported at the first
call); LocalizeProblems and GenerateRecommendations answer UNIMPLEMENTED until the localizer
and the recommender exist in the library."""

from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf.json_format import MessageToDict

from serve import convert
from serve.config import ServerConfig
from serve.errors import StageMissing, bad_request, unary_rpc
from serve.generated import collapse_engine_pb2 as c1
from serve.generated import collapse_engine_pb2_grpc as c1_grpc
from serve.jobs.cascades import check_validation_id
from serve.services.base import ServiceBase
from synthos.report.schema import empty_report

#: CollapseConfig fields a client may not set (the server decides them).
SERVER_OWNED = ("threads", "model_threads", "load_options", "metadata")


def _metadata(request: c1.DetectCollapseRequest, policy: Any) -> str | dict[str, Any] | None:
    """Metadata from a file under the data roots, or inline; not both."""
    inline = request.HasField("metadata")
    if request.metadata_path and inline:
        raise bad_request("give metadata_path or metadata, not both", field="metadata")
    if inline:
        return MessageToDict(request.metadata)
    if not request.metadata_path:
        return None
    path = policy.resolve(request.metadata_path)
    if "://" in path:
        raise bad_request("metadata_path must be a local file", field="metadata_path")
    return path


def _collapse_config(request: c1.DetectCollapseRequest, config: ServerConfig, policy: Any) -> Any:
    from synthos.analysis.collapse import CollapseConfig

    allowed = {f.name for f in dataclasses.fields(CollapseConfig)} - set(SERVER_OWNED)
    values: dict[str, Any] = {}
    if request.HasField("config"):
        for name, value in MessageToDict(request.config).items():
            if name not in allowed:
                raise bad_request(f"unknown collapse config field {name!r}", field="config")
            # Struct numbers are doubles; whole numbers go back to int.
            values[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    values["threads"] = config.analysis_threads
    values["metadata"] = _metadata(request, policy)
    if request.candidate.format:
        values["load_options"] = {"format": request.candidate.format}
    try:
        return CollapseConfig(**values)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid collapse config: {exc}", field="config") from exc


class CollapseService(ServiceBase, c1_grpc.CollapseEngineServicer):
    @unary_rpc(c1.DetectCollapseResponse)
    async def DetectCollapse(self, request, context, correlation_id):
        from synthos.analysis.collapse import detect_collapse

        candidate = self.policy.resolve(request.candidate.path)
        reference = (
            self.policy.resolve(request.reference.path)
            if request.HasField("reference") and request.reference.path
            else None
        )
        cascade = None
        if request.validation_id:
            cascade = self.cascades.get(check_validation_id(request.validation_id)).sweep_dir
        detector_config = _collapse_config(request, self.config, self.policy)
        result = await self.admission.run(
            context,
            lambda: detect_collapse(
                candidate,
                reference,
                cascade,
                modality=request.candidate.modality or None,
                config=detector_config,
            ),
        )
        fields = result.to_report()
        report = {**empty_report(request.validation_id, fields.get("dataset") or {}), **fields}
        response = c1.DetectCollapseResponse(
            dimensions=[convert.dimension(d) for d in fields["dimensions"]],
            overall_score=fields["overall_score"] or 0.0,
            collapse_detected=bool(fields["collapse_detected"]),
            risk_score=int(fields["risk_score"] or 0),
            severity=str(fields["severity"] or ""),
            root_causes=[convert.root_cause(c) for c in fields["root_causes"]],
            report=convert.report(report),
        )
        if fields.get("collapse_type"):
            response.collapse_type = fields["collapse_type"]
        return response

    @unary_rpc(c1.LocalizeProblemsResponse)
    async def LocalizeProblems(self, request, context, correlation_id):
        raise StageMissing("LocalizeProblems", "Captum row localizer", "synthos.analysis.localizer")

    @unary_rpc(c1.GenerateRecommendationsResponse)
    async def GenerateRecommendations(self, request, context, correlation_id):
        raise StageMissing(
            "GenerateRecommendations", "fix recommender", "synthos.analysis.recommender"
        )
