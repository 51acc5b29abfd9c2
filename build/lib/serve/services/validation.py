"""ValidationEngine: AnalyzeDiversity, PreScreenRisk, the cascade jobs and GetPredictions."""

from __future__ import annotations

import asyncio
import functools
import io
from typing import Any

import grpc
import pyarrow.parquet as pq

from serve import convert
from serve.config import ServerConfig
from serve.errors import (
    FailedPrecondition,
    bad_request,
    error_info,
    streaming_rpc,
    struct_of,
    unary_rpc,
)
from serve.generated import validation_engine_pb2 as v1
from serve.generated import validation_engine_pb2_grpc as v1_grpc
from serve.jobs.cascades import FAMILIES, CascadeSpec, check_validation_id, quote
from serve.jobs.store import JobRecord, JobState
from serve.services.base import ServiceBase
from synthos.errors import SynthosError

#: Most signatures a PreScreenRisk request may ask for.
MAX_TOP_K = 1000
DATAMODULE = {
    "text": "TextDataModule",
    "tabular": "TabularDataModule",
    "time_series": "TimeSeriesDataModule",
}


def job_state(state: JobState) -> int:
    return v1.JobState.Value(f"JOB_STATE_{state.value}")


def _diversity_config(request: v1.AnalyzeDiversityRequest, config: ServerConfig) -> Any:
    from synthos.analysis import DiversityConfig

    options = request.options
    values: dict[str, Any] = {
        "threads": config.analysis_threads,
        "work_dir": str(config.storage / "tmp"),
    }
    if options.columns:
        values["columns"] = list(options.columns)
    if options.column_kinds:
        values["column_kinds"] = dict(options.column_kinds)
    if options.strata_columns:
        values["strata_columns"] = list(options.strata_columns)
    for name in ("sample_size", "seed", "rare_threshold", "rare_oversample", "max_strata"):
        if options.HasField(name):
            values[name] = getattr(options, name)
    if options.HasField("tail_low") or options.HasField("tail_high"):
        low, high = DiversityConfig().tail_quantiles
        values["tail_quantiles"] = (
            options.tail_low if options.HasField("tail_low") else low,
            options.tail_high if options.HasField("tail_high") else high,
        )
    if options.outlier_method:
        values["outlier_method"] = options.outlier_method
    if request.dataset.format:
        values["load_options"] = {"format": request.dataset.format}
    try:
        return DiversityConfig(**values)
    except ValueError as exc:
        raise bad_request(f"invalid diversity options: {exc}") from exc


def _diversity_response(result: Any, include_sample: bool) -> v1.AnalyzeDiversityResponse:
    response = v1.AnalyzeDiversityResponse(
        entropy=result.entropy,
        gini=result.gini,
        cluster_count=result.cluster_count,
        rare_pattern_percentage=result.rare_pattern_percentage,
        outlier_percentage=result.outlier_percentage,
        sampling_confidence=result.sampling_confidence,
        margin_of_error=result.margin_of_error,
        rows=int(result.dataset.get("rows") or 0),
        sample_rows=int(result.sample.get("size") or 0),
        warnings=list(result.warnings),
        result=struct_of(result.to_dict()),
    )
    if result.cluster_silhouette is not None:
        response.cluster_silhouette = result.cluster_silhouette
    if include_sample and result.sample_table is not None:
        buffer = io.BytesIO()
        pq.write_table(result.sample_table, buffer, compression="zstd")
        response.sample_parquet = buffer.getvalue()
    return response


def _fingerprint_config(request: v1.PreScreenRiskRequest, config: ServerConfig) -> Any:
    from synthos.analysis.signatures import FingerprintConfig

    options: dict[str, Any] = {"threads": config.analysis_threads}
    if request.HasField("seed"):
        options["seed"] = request.seed
    if request.dataset.format:
        options["load_options"] = {"format": request.dataset.format}
    return FingerprintConfig(**options)


def _prescreen_response(result: Any) -> v1.PreScreenRiskResponse:
    found = result.fingerprint
    vector = list(found.intrinsic) + ([] if found.relative is None else list(found.relative))
    response = v1.PreScreenRiskResponse(
        fingerprint=[float(v) for v in vector],
        matches=[convert.signature_match(m) for m in result.signature_matches()],
        proceed=result.proceed,
        reason=result.reason,
        collapse_type=result.collapse_type or "",
        result=struct_of(result.to_dict()),
    )
    if result.pre_risk is not None:
        response.pre_risk_score = result.pre_risk
    return response


class ValidationService(ServiceBase, v1_grpc.ValidationEngineServicer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cancellations: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ analysis
    @unary_rpc(v1.AnalyzeDiversityResponse)
    async def AnalyzeDiversity(self, request, context, correlation_id):
        from synthos.analysis import analyze_diversity

        path = self.policy.resolve(request.dataset.path)
        config = _diversity_config(request, self.config)
        result = await self.admission.run(context, analyze_diversity, path, config)
        return _diversity_response(result, request.include_sample)

    @unary_rpc(v1.PreScreenRiskResponse)
    async def PreScreenRisk(self, request, context, correlation_id):
        from synthos.analysis.signatures import PreScreenConfig, SignatureLibrary, prescreen

        if not self.config.signature_library:
            raise FailedPrecondition(
                "this server has no signature library (set signature_library; "
                "synthos signatures seed makes one)",
                setting="signature_library",
            )
        if not 0 <= request.top_k <= MAX_TOP_K:
            raise bad_request(f"top_k must be between 1 and {MAX_TOP_K}", field="top_k")
        path = self.policy.resolve(request.dataset.path)
        reference = None
        if request.reference.path:
            reference = self.policy.resolve(request.reference.path)
        run = functools.partial(
            prescreen,
            path,
            reference,
            library=SignatureLibrary(self.config.signature_library),
            modality=request.dataset.modality or None,
            config=PreScreenConfig(k=request.top_k or PreScreenConfig().k),
            fingerprint_config=_fingerprint_config(request, self.config),
        )
        result = await self.admission.run(context, run)
        return _prescreen_response(result)

    # ------------------------------------------------------------------ cascades
    @streaming_rpc
    async def TrainCascade(self, request, context, correlation_id):
        spec, validation_id = await self._cascade_spec(request, context)
        record, launched = await self.cascades.submit(spec, validation_id)
        owns_job = launched and not request.detach
        ended = False
        try:
            async for message in self._follow(record.validation_id, 0):
                yield message
            ended = True
        finally:
            if owns_job and not ended and not self.cascades.closing:
                # The stream ended before the job (client cancel or disconnect).
                task = asyncio.get_running_loop().create_task(
                    self.cascades.cancel(record.validation_id)
                )
                self._cancellations.add(task)
                task.add_done_callback(self._cancellations.discard)

    @streaming_rpc
    async def WatchCascade(self, request, context, correlation_id):
        validation_id = check_validation_id(request.validation_id)
        if request.from_sequence < 0:
            raise bad_request("from_sequence must be >= 0", field="from_sequence")
        async for message in self._follow(validation_id, request.from_sequence):
            yield message

    @unary_rpc(v1.CancelCascadeResponse)
    async def CancelCascade(self, request, context, correlation_id):
        record = await self.cascades.cancel(check_validation_id(request.validation_id))
        return v1.CancelCascadeResponse(job=self._job(record))

    @unary_rpc(v1.GetCascadeStatusResponse)
    async def GetCascadeStatus(self, request, context, correlation_id):
        record = self.cascades.get(check_validation_id(request.validation_id))
        return v1.GetCascadeStatusResponse(job=self._job(record))

    @unary_rpc(v1.GetPredictionsResponse)
    async def GetPredictions(self, request, context, correlation_id):
        record = self.cascades.get(check_validation_id(request.validation_id))
        if record.state != JobState.COMPLETED:
            raise FailedPrecondition(
                f"cascade {record.validation_id} is {record.state.value.lower()}; "
                "its prediction exists once it completed",
                validation_id=record.validation_id,
                state=record.state.value,
            )
        report = record.report or {}
        if not report.get("prediction"):
            raise FailedPrecondition(
                f"cascade {record.validation_id} completed without a prediction: "
                f"{report.get('prediction_unavailable') or 'no reason recorded'}",
                validation_id=record.validation_id,
            )
        return convert.predictions(record.results or {}, report)

    # ------------------------------------------------------------------ helpers
    async def _cascade_spec(
        self, request: v1.TrainCascadeRequest, context: grpc.aio.ServicerContext
    ) -> tuple[CascadeSpec, str]:
        from synthos.cascade.plan import default_family
        from synthos.datamodules.modality import infer_modality, validate_modality

        if not request.profile:
            raise bad_request(
                f"profile is required: one of {', '.join(self.config.cascade_profiles)}",
                field="profile",
            )
        if request.profile not in self.config.cascade_profiles:
            raise bad_request(
                f"profile {request.profile!r} is not served; choose one of "
                f"{', '.join(self.config.cascade_profiles)}",
                field="profile",
            )
        if request.family and request.family not in FAMILIES:
            raise bad_request(f"family must be one of {', '.join(FAMILIES)}", field="family")
        if request.level and not 0.0 < request.level < 1.0:
            raise bad_request("level must be in (0, 1)", field="level")
        if request.target_params < 0 or request.season_length < 0:
            raise bad_request("target_params and season_length must be >= 0")
        path = self.policy.resolve(request.dataset.path)
        quote(path)
        load = {"format": request.dataset.format} if request.dataset.format else {}
        found = await self.admission.run(context, lambda: infer_modality(path, **load))
        modality = (
            validate_modality(request.dataset.modality)
            if request.dataset.modality
            else found.modality
        )
        options: dict[str, Any] = {}
        if modality == "text":
            column = request.text_column or (found.column if found.modality == "text" else None)
            if column:
                options["text_column"] = column
        elif modality == "tabular" and request.target_column:
            options["target_column"] = request.target_column
        elif modality == "time_series":
            column = request.time_column or found.column
            if column:
                options["time_column"] = column
            if request.season_length:
                options["season_length"] = request.season_length
        for value in options.values():
            quote(value)
        spec = CascadeSpec(
            dataset_path=path,
            modality=modality,
            profile=request.profile,
            family=request.family or default_family(DATAMODULE[modality]),
            target_params=request.target_params,
            level=request.level,
            seed=request.seed if request.HasField("seed") else None,
            data_options=options,
        )
        return spec, request.validation_id or spec.default_validation_id()

    async def _follow(self, validation_id: str, from_sequence: int):
        last: dict[str, Any] | None = None
        async for sequence, record, state, job in self.cascades.follow(
            validation_id, from_sequence
        ):
            if record is not None:
                last = record
                yield convert.progress(record, sequence, job_state(state))
            else:
                yield self._final(job, sequence, last)

    def _final(
        self, record: JobRecord, sequence: int, last: dict[str, Any] | None
    ) -> v1.CascadeProgress:
        if last is None:
            records = self.cascades.progress(record)
            last = records[-1] if records else {}
        message = convert.progress(
            {
                "validation_id": record.validation_id,
                "models_completed": last.get("models_completed"),
                "models_total": last.get("models_total"),
                "progress_percent": last.get("progress_percent"),
                "timestamp": record.finished_at,
                "event": f"job_{record.state.value.lower()}",
            },
            sequence,
            job_state(record.state),
        )
        if record.state == JobState.COMPLETED and record.report:
            message.report.CopyFrom(convert.report(record.report))
        if record.failure:
            message.error.CopyFrom(_stored_error(record.failure))
        return message

    def _job(self, record: JobRecord) -> v1.CascadeJob:
        records = self.cascades.progress(record)
        last = records[-1] if records else {}
        job = v1.CascadeJob(
            validation_id=record.validation_id,
            state=job_state(record.state),
            profile=str(record.spec.get("profile", "")),
            family=str(record.spec.get("family", "")),
            dataset_path=str(record.spec.get("dataset_path", "")),
            modality=str(record.spec.get("modality", "")),
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            attempts=record.attempts,
            models_completed=int(last.get("models_completed") or 0),
            models_total=int(last.get("models_total") or 0),
            progress_percent=float(last.get("progress_percent") or 0.0),
            progress_records=len(records),
        )
        if record.failure:
            job.failure.CopyFrom(_stored_error(record.failure))
        return job


def _stored_error(failure: dict[str, Any]):
    error = SynthosError(
        failure.get("code", 5001),
        str(failure.get("message", "")),
        failure.get("details") or {},
        float(failure.get("retry_after_seconds") or 0.0),
    )
    return error_info(error)
