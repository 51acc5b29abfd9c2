"""From the library's JSON-like results (report.json, progress records, cascade results,
diversity results) to the `synthos.v1` messages, field for field."""

from __future__ import annotations

import math
from typing import Any

from serve.errors import struct_of
from serve.generated import common_pb2
from serve.generated import validation_engine_pb2 as v1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _set_optional(message: Any, name: str, value: Any, kind: type = float) -> None:
    """Set an `optional` scalar field unless `value` is null (or not finite)."""
    if value is None:
        return
    if kind is float:
        value = _number(value)
        if value is None:
            return
    setattr(message, name, kind(value))


def dimension(d: dict[str, Any]) -> common_pb2.Dimension:
    message = common_pb2.Dimension(
        name=str(d.get("name", "")),
        threshold=_number(d.get("threshold")) or 0.0,
        evaluated=bool(d.get("evaluated")),
        evidence=struct_of(d.get("evidence")),
    )
    _set_optional(message, "score", d.get("score"))
    _set_optional(message, "passed", d.get("passed"), bool)
    return message


def root_cause(d: dict[str, Any]) -> common_pb2.RootCause:
    return common_pb2.RootCause(
        cause=str(d.get("cause", "")),
        percentage=_number(d.get("percentage")) or 0.0,
        description=str(d.get("description", "")),
    )


def prediction(d: dict[str, Any]) -> common_pb2.Prediction:
    law = d.get("law") or {}
    loss = d.get("loss") or {}
    return common_pb2.Prediction(
        metric=str(d.get("metric", "")),
        target_params=_int(d.get("target_params")),
        target_tokens=_int(d.get("target_tokens")),
        predicted=_number(d.get("predicted")) or 0.0,
        lower=_number(d.get("lower")) or 0.0,
        upper=_number(d.get("upper")) or 0.0,
        level=_number(d.get("level")) or 0.0,
        loss=common_pb2.Interval(
            **{k: _number(loss.get(k)) or 0.0 for k in ("predicted", "lower", "upper")}
        ),
        law=common_pb2.LossLaw(
            form=str(law.get("form", "")),
            params={
                k: float(v) for k, v in (law.get("params") or {}).items() if _number(v) is not None
            },
            fit_quality=struct_of(law.get("fit_quality") or {}),
        ),
        degenerate=bool(d.get("degenerate")),
        reason=str(d.get("reason") or ""),
        warnings=[str(w) for w in d.get("warnings") or []],
    )


def region(d: dict[str, Any]) -> common_pb2.Region:
    return common_pb2.Region(
        region_id=str(d.get("region_id", "")),
        row_start=_int(d.get("row_start")),
        row_end=_int(d.get("row_end")),
        issue_type=str(d.get("issue_type", "")),
        impact_score=_number(d.get("impact_score")) or 0.0,
        affected_columns=[str(c) for c in d.get("affected_columns") or []],
    )


def recommendation(d: dict[str, Any]) -> common_pb2.Recommendation:
    impact = d.get("impact") or {}
    return common_pb2.Recommendation(
        priority=_int(d.get("priority")),
        category=str(d.get("category", "")),
        title=str(d.get("title", "")),
        description=str(d.get("description", "")),
        impact=common_pb2.Impact(
            **{k: _number(impact.get(k)) or 0.0 for k in ("current", "expected", "improvement")}
        ),
        affected_rows=_int(d.get("affected_rows")),
        apply_command=str(d.get("apply_command") or ""),
        fixed_dataset_path=str(d.get("fixed_dataset_path") or ""),
        measurements=struct_of(
            {k: d.get(k) for k in ("risk_impact", "metric_impact", "impact_unavailable") if k in d}
        ),
    )


def signature_match(d: dict[str, Any]) -> common_pb2.SignatureMatch:
    message = common_pb2.SignatureMatch(
        signature_id=str(d.get("signature_id", "")),
        collapse_type=str(d.get("collapse_type") or ""),
        similarity=_number(d.get("similarity")) or 0.0,
        source=str(d.get("source") or ""),
    )
    _set_optional(message, "collapse_detected", d.get("collapse_detected"), bool)
    _set_optional(message, "risk_score", _number(d.get("risk_score")), float)
    return message


def report(d: dict[str, Any]) -> common_pb2.Report:
    """A report.json dict (DESIGN section 9) as a Report message."""
    dataset = d.get("dataset") or {}
    info = common_pb2.DatasetInfo(
        path=str(dataset.get("path") or ""),
        modality=str(dataset.get("modality") or ""),
        columns=[str(c) for c in dataset.get("columns") or []],
    )
    _set_optional(info, "rows", dataset.get("rows"), int)
    message = common_pb2.Report(
        schema_version=_int(d.get("schema_version")),
        validation_id=str(d.get("validation_id") or ""),
        dataset=info,
        dimensions=[dimension(x) for x in d.get("dimensions") or []],
        root_causes=[root_cause(x) for x in d.get("root_causes") or []],
        regions=[region(x) for x in d.get("regions") or []],
        recommendations=[recommendation(x) for x in d.get("recommendations") or []],
        signature_matches=[signature_match(x) for x in d.get("signature_matches") or []],
        timings={
            k: v
            for k, v in ((k, _number(v)) for k, v in (d.get("timings") or {}).items())
            if v is not None
        },
    )
    _set_optional(message, "overall_score", d.get("overall_score"))
    _set_optional(message, "collapse_detected", d.get("collapse_detected"), bool)
    _set_optional(message, "risk_score", d.get("risk_score"), int)
    _set_optional(message, "severity", d.get("severity"), str)
    _set_optional(message, "collapse_type", d.get("collapse_type"), str)
    message.prediction_unavailable = str(d.get("prediction_unavailable") or "")
    if d.get("prediction"):
        message.prediction.CopyFrom(prediction(d["prediction"]))
    return message


def model_result(d: dict[str, Any]) -> v1.ModelResult:
    message = v1.ModelResult(
        validation_id=str(d.get("validation_id") or ""),
        tier=_int(d.get("tier")),
        variant=_int(d.get("variant")),
        status=str(d.get("status") or ""),
        seconds=_number(d.get("seconds")) or 0.0,
        global_step=_int(d.get("global_step")),
        loss_curve=[
            v1.LossPoint(step=_int(step), loss=loss)
            for step, loss in (p for p in d.get("loss_curve") or [] if len(p) == 2)
            if _number(loss) is not None
        ],
        metrics={
            k: v
            for k, v in ((k, _number(v)) for k, v in (d.get("metrics") or {}).items())
            if v is not None
        },
    )
    _set_optional(message, "parameters", d.get("parameters"), int)
    _set_optional(message, "train_loss", d.get("train_loss"))
    _set_optional(message, "val_loss", d.get("val_loss"))
    _set_optional(message, "convergence_step", d.get("convergence_step"), int)
    for name in ("gradients", "spectral", "error"):
        if d.get(name) is not None:
            getattr(message, name).CopyFrom(struct_of(d[name]))
    collapse = d.get("run_health")
    if collapse is not None:
        message.run_health.collapsed = bool(collapse.get("collapsed"))
        message.run_health.reasons.extend(str(r) for r in collapse.get("reasons") or [])
        message.run_health.stopped = bool(collapse.get("stopped"))
        _set_optional(message.run_health, "step", collapse.get("step"), int)
    return message


def progress(record: dict[str, Any], sequence: int, state: int) -> v1.CascadeProgress:
    """A progress.jsonl record (synthos.callbacks.progress.CascadeProgress.to_dict())."""
    message = v1.CascadeProgress(
        validation_id=str(record.get("validation_id") or ""),
        tier=_int(record.get("tier")),
        variant=_int(record.get("variant")),
        models_completed=_int(record.get("models_completed")),
        models_total=_int(record.get("models_total")),
        progress_percent=_number(record.get("progress_percent")) or 0.0,
        gpu_utilization=[
            v1.GpuUtilization(
                index=_int(g.get("index")),
                utilization_percent=_number(g.get("utilization_percent")) or 0.0,
                memory_used_mb=_number(g.get("memory_used_mb")) or 0.0,
            )
            for g in record.get("gpu_utilization") or []
        ],
        estimated_completion=str(record.get("estimated_completion") or ""),
        timestamp=str(record.get("timestamp") or ""),
        event=str(record.get("event") or ""),
        step=_int(record.get("step")),
        sequence=sequence,
        state=state,
    )
    _set_optional(message, "current_loss", record.get("current_loss"))
    _set_optional(message, "total_steps", record.get("total_steps"), int)
    if record.get("result") is not None:
        message.result.CopyFrom(model_result(record["result"]))
    return message


def model_summary(d: dict[str, Any]) -> v1.ModelSummary:
    message = v1.ModelSummary(
        job=str(d.get("job") or ""),
        tier=_int(d.get("tier")),
        variant=_int(d.get("variant")),
        status=str(d.get("status") or ""),
    )
    _set_optional(message, "parameters", d.get("parameters"), int)
    _set_optional(message, "seconds", d.get("seconds"))
    _set_optional(message, "global_step", d.get("global_step"), int)
    _set_optional(message, "metric", d.get("metric"))
    return message


def predictions(results: dict[str, Any], report_dict: dict[str, Any]) -> v1.GetPredictionsResponse:
    """cascade_results.json plus report.json as a GetPredictionsResponse."""
    full = results.get("prediction") or {}
    message = v1.GetPredictionsResponse(
        validation_id=str(results.get("validation_id") or report_dict.get("validation_id") or ""),
        higher_is_better=bool(results.get("higher_is_better")),
        degenerate=bool(full.get("degenerate")),
        reason=str(full.get("reason") or ""),
        warnings=[str(w) for w in full.get("warnings") or []],
        models_total=_int(results.get("models_total")),
        models_completed=_int(results.get("models_completed")),
        models_failed=_int(results.get("models_failed")),
        models=[model_summary(j) for j in results.get("jobs") or []],
        report=report(report_dict),
        details=struct_of(full),
    )
    if report_dict.get("prediction"):
        message.prediction.CopyFrom(prediction(report_dict["prediction"]))
    return message
