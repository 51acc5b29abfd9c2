"""CollapseEngine: DetectCollapse over `synthos.analysis.collapse`, LocalizeProblems over
`synthos.analysis.localize` and GenerateRecommendations over `synthos.analysis.recommend`
(each imported at its first call). Row scores and fixed datasets are written under the
server's storage directory, one directory per request (named by its correlation id)."""

from __future__ import annotations

import dataclasses
from typing import Any

from google.protobuf.json_format import MessageToDict

from serve import convert
from serve.config import ServerConfig
from serve.errors import bad_request, unary_rpc
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

        candidate, reference, cascade, _ = self._inputs(request)
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

    def _inputs(self, request) -> tuple[str, str | None, Any, str | None]:
        """Candidate, reference, cascade sweep directory and modality of a request."""
        candidate = self.policy.resolve(request.candidate.path)
        reference = (
            self.policy.resolve(request.reference.path)
            if request.HasField("reference") and request.reference.path
            else None
        )
        cascade = None
        if request.validation_id:
            cascade = self.cascades.get(check_validation_id(request.validation_id)).sweep_dir
        return candidate, reference, cascade, request.candidate.modality or None

    def _localize_config(self, request) -> Any:
        from synthos.analysis.localize import LocalizeConfig

        options = {"threads": self.config.analysis_threads}
        if request.candidate.format:
            options["load_options"] = {"format": request.candidate.format}
        if getattr(request, "max_regions", 0) < 0:
            raise bad_request("max_regions must be >= 0", field="max_regions")
        if getattr(request, "max_regions", 0):
            options["max_regions"] = request.max_regions
        return LocalizeConfig(**options)

    @unary_rpc(c1.LocalizeProblemsResponse)
    async def LocalizeProblems(self, request, context, correlation_id):
        from synthos.analysis.localize import localize

        candidate, reference, cascade, modality = self._inputs(request)
        config = self._localize_config(request)
        out = self.config.storage / "localize" / correlation_id
        result = await self.admission.run(
            context,
            lambda: localize(candidate, reference, cascade, modality=modality, config=config),
        )
        path = await self.admission.run(context, lambda: result.write(out))
        response = c1.LocalizeProblemsResponse(
            regions=[convert.region(r) for r in result.to_report()["regions"]],
            row_scores_path=str(path),
        )
        if request.include_row_scores:
            response.row_scores.extend(
                c1.RowScore(row=int(r), score=float(s), issue_type=str(i))
                for r, s, i in zip(
                    result.column("row"), result.scores, result.issue_types, strict=True
                )
            )
        return response

    @unary_rpc(c1.GenerateRecommendationsResponse)
    async def GenerateRecommendations(self, request, context, correlation_id):
        from synthos.analysis.recommend import RecommendConfig, recommend

        candidate, reference, cascade, modality = self._inputs(request)
        localize_config = self._localize_config(request)
        if request.max_recommendations < 0:
            raise bad_request("max_recommendations must be >= 0", field="max_recommendations")
        # The retraining's data settings follow the dataset; the server's data overrides
        # are for its own cascades.
        overrides = [o for o in self.config.cascade_overrides if not o.startswith("data.")]
        options: dict[str, Any] = {"measure_impact": request.measure_impact, "overrides": overrides}
        if request.max_recommendations:
            options["max_recommendations"] = request.max_recommendations
        if request.profile:
            if request.profile not in self.config.cascade_profiles:
                raise bad_request(
                    f"profile {request.profile!r} is not served; choose one of "
                    f"{', '.join(self.config.cascade_profiles)}",
                    field="profile",
                )
            options["profile"] = request.profile
        try:
            config = RecommendConfig(**options)
        except ValueError as exc:
            raise bad_request(f"invalid recommendation settings: {exc}") from exc
        out = self.config.storage / "recommend" / correlation_id
        result = await self.admission.run(
            context,
            lambda: recommend(
                candidate,
                reference,
                cascade,
                out_dir=out,
                modality=modality,
                config=config,
                localize_config=localize_config,
            ),
        )
        return c1.GenerateRecommendationsResponse(
            recommendations=[
                convert.recommendation(r) for r in result.to_report()["recommendations"]
            ]
        )
