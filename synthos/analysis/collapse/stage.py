"""The detector as a cached stage: its report fields and printed summary, keyed by the
contents of the candidate, reference and cascade and by the detector's settings, so the
recommender's re-detection of a fixed dataset and a later validation of that dataset are
one computation."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from synthos.fileio import to_jsonable
from synthos.stage_cache import StageCache, content_digest

from .config import CollapseConfig
from .detector import detect_collapse

STAGE = "detect"


def detection_settings(config: CollapseConfig, modality: str | None) -> dict[str, Any]:
    """The settings that decide a detection (a metadata file by its content)."""
    settings = dataclasses.asdict(config)
    if isinstance(config.metadata, (str, os.PathLike)):
        settings["metadata"] = {"file": content_digest(config.metadata)}
    settings["modality"] = modality
    return settings


def detect_stage(
    cache: StageCache | None,
    candidate: Any,
    reference: Any = None,
    cascade: Any = None,
    *,
    modality: str | None = None,
    config: CollapseConfig | None = None,
) -> dict[str, Any]:
    """`{"fields": report fields, "summary": printed summary}` of `detect_collapse`, from
    `cache` when the same inputs were detected before."""
    config = config or CollapseConfig()

    def run() -> dict[str, Any]:
        result = detect_collapse(candidate, reference, cascade, modality=modality, config=config)
        return {"fields": result.to_report(), "summary": result.summary()}

    if cache is None:
        return to_jsonable(run())
    inputs = {"candidate": candidate, "reference": reference, "cascade": cascade}
    key = cache.key(STAGE, detection_settings(config, modality), inputs)
    return cache.cached(STAGE, key, run)
