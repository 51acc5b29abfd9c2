"""`validate`: the detector, the localizer and the recommender on one dataset, in a numbered
directory of a run directory, with every stage's result reused from the run directory's cache
when its inputs (file contents and settings) did not change, and the report set beside the
previous validation's (`before_after`)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.analysis.collapse import CollapseConfig, detect_stage
from synthos.analysis.collapse.stage import detection_settings
from synthos.analysis.localize import LocalizeConfig, LocalizeResult, localize_stage
from synthos.analysis.recommend import RecommendConfig, recommend
from synthos.errors import SynthosError
from synthos.report import empty_report, read_report, write_report
from synthos.report.documents import write_documents
from synthos.report.schema import REPORT_FILE
from synthos.stage_cache import StageCache, content_digest

from .compare import before_after
from .history import RunHistory

RECOMMEND_STAGE = "recommend"


@dataclass
class ValidateOptions:
    """Settings of each stage; `recommend` None skips the recommender."""

    collapse: CollapseConfig = field(default_factory=CollapseConfig)
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    recommend: RecommendConfig | None = field(default_factory=RecommendConfig)
    modality: str | None = None
    validation_id: str | None = None


@dataclass(frozen=True)
class ValidateResult:
    """One validation: its directory and report, the printed summaries of its stages, and
    which stages were reused."""

    number: int
    directory: Path
    report_path: Path
    report: dict[str, Any]
    detection_summary: str
    localization: LocalizeResult
    recommendation_summary: str | None

    @property
    def before_after(self) -> dict[str, Any] | None:
        return self.report.get("before_after")

    @property
    def stages(self) -> list[dict[str, str]]:
        """Every cache lookup of this validation, in order."""
        return self.report["validation_run"]["stages"]

    @property
    def stage_status(self) -> dict[str, str]:
        """Each stage's first lookup: the validation's own (later lookups of a stage are the
        recommender's measurements of other datasets)."""
        firsts: dict[str, str] = {}
        for record in self.stages:
            firsts.setdefault(record["stage"], record["status"])
        return firsts


def validate(
    candidate: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    cascade: str | os.PathLike | None = None,
    *,
    run_dir: str | os.PathLike,
    options: ValidateOptions | None = None,
) -> ValidateResult:
    """Validate `candidate` in `run_dir` (see the module docstring). A stage that fails
    leaves no validation directory behind; the cache keeps the stages that finished."""
    options = options or ValidateOptions()
    history = RunHistory(Path(run_dir))
    cache = StageCache(history.cache_dir)
    digest = content_digest(candidate)
    before = history.before(digest)
    number, directory = history.new_directory(Path(os.fspath(candidate)).stem)
    try:
        result = _run_stages(candidate, reference, cascade, cache, directory, options)
        row_scores = result.localization.write(directory)
        report = _report(result, row_scores, candidate, digest, cascade, options)
        report["validation_run"] = {
            "number": number,
            "run_dir": str(history.run_dir),
            "candidate_digest": digest,
            "stages": cache.log,
            "reuse": dict(Counter(f"{r['stage']}:{r['status']}" for r in cache.log)),
        }
        if before is not None:
            report["before_after"] = before_after(
                before.report, before.directory, report, directory
            )
        report_path = write_report(directory, report)
        write_documents(directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    history.mark_latest(directory)
    return ValidateResult(
        number=number,
        directory=directory,
        report_path=report_path,
        report=report,
        detection_summary=result.detection["summary"],
        localization=result.localization,
        recommendation_summary=(result.recommendation or {}).get("summary"),
    )


@dataclass(frozen=True)
class _Stages:
    detection: dict[str, Any]
    localization: LocalizeResult
    recommendation: dict[str, Any] | None
    seconds: dict[str, float]


def _run_stages(candidate, reference, cascade, cache, directory, options) -> _Stages:
    seconds = {}
    started = time.perf_counter()
    detection = detect_stage(
        cache, candidate, reference, cascade, modality=options.modality, config=options.collapse
    )
    seconds["validate_detect"] = time.perf_counter() - started
    started = time.perf_counter()
    localization = localize_stage(
        cache, candidate, reference, cascade, modality=options.modality, config=options.localize
    )
    seconds["validate_localize"] = time.perf_counter() - started
    recommendation = None
    if options.recommend is not None:
        started = time.perf_counter()
        recommendation = _recommend_stage(
            cache, candidate, reference, cascade, directory, localization, options
        )
        seconds["validate_recommend"] = time.perf_counter() - started
    return _Stages(detection, localization, recommendation, seconds)


def _recommend_stage(cache, candidate, reference, cascade, directory, localization, options):
    """The recommender's report fields and summary, reused only while the fixed datasets
    they name still exist (they live in the validation directory that computed them)."""
    settings = {
        "recommend": dataclasses.asdict(options.recommend),
        "localize": dataclasses.asdict(options.localize),
        "collapse": detection_settings(options.collapse, options.modality),
    }
    inputs = {"candidate": candidate, "reference": reference, "cascade": cascade}
    key = cache.key(RECOMMEND_STAGE, settings, inputs)
    entry = cache.get(RECOMMEND_STAGE, key)
    if entry is not None and all(
        Path(rec["fixed_dataset_path"]).is_file()
        for rec in entry.value["fields"]["recommendations"]
    ):
        return entry.value
    result = recommend(
        candidate,
        reference,
        cascade,
        out_dir=directory,
        localization=localization,
        modality=options.modality,
        config=options.recommend,
        localize_config=options.localize,
        collapse_config=options.collapse,
        cache=cache,
    )
    value = {"fields": result.to_report(), "summary": result.summary()}
    cache.put(RECOMMEND_STAGE, key, value)
    return value


def _report(stages: _Stages, row_scores: Path, candidate, digest, cascade, options):
    """report.json of one validation: each stage's fields, timings (a reused stage keeps
    the timings of the run that computed it; `validate_*` are this run's)."""
    fields = stages.detection["fields"]
    validation_id = options.validation_id or Path(os.fspath(candidate)).stem
    report = empty_report(validation_id, fields["dataset"])
    report.update(fields)
    report.update(stages.localization.to_report(row_scores))
    timings = {**fields["timings"], **stages.localization.timings}
    if stages.recommendation is not None:
        report.update(stages.recommendation["fields"])
        timings["recommend"] = stages.recommendation["fields"]["recommendation_summary"]["seconds"]
    report["timings"] = {**timings, **{k: round(v, 3) for k, v in stages.seconds.items()}}
    report["prediction"], report["prediction_unavailable"] = _cascade_prediction(cascade, digest)
    return report


def _cascade_prediction(cascade, candidate_digest: str | None) -> tuple[Any, str | None]:
    """The cascade's prediction when the cascade was trained on this very candidate (same
    bytes); otherwise None and why."""
    if cascade is None:
        return None, "no cascade was trained: run train.py +cascade=quick on this dataset for one"
    try:
        trained = read_report(Path(cascade) / REPORT_FILE)
    except (OSError, SynthosError):
        return None, f"the cascade {cascade} has no readable report.json with its prediction"
    path = (trained.get("dataset") or {}).get("path")
    if candidate_digest is None or path is None or content_digest(path) != candidate_digest:
        return None, (
            f"the cascade {cascade} was trained on other data ({path}): its prediction is "
            "not this candidate's"
        )
    return trained.get("prediction"), trained.get("prediction_unavailable")
