"""The localizer as a cached stage: row_scores.parquet and the result's other fields, keyed
by the contents of the candidate, reference and cascade and by the localizer's settings."""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow.parquet as pq

from synthos.fileio import to_jsonable
from synthos.stage_cache import StageCache

from .config import LocalizeConfig
from .localizer import localize
from .result import ROW_SCORES_FILE, LocalizeResult

STAGE = "localize"


def localize_stage(
    cache: StageCache | None,
    candidate: Any,
    reference: Any = None,
    cascade: Any = None,
    *,
    modality: str | None = None,
    config: LocalizeConfig | None = None,
) -> LocalizeResult:
    """`localize(...)`, from `cache` when the same inputs were localized before."""
    config = config or LocalizeConfig()
    if cache is None:
        return localize(candidate, reference, cascade, modality=modality, config=config)
    settings = {**dataclasses.asdict(config), "modality": modality}
    inputs = {"candidate": candidate, "reference": reference, "cascade": cascade}
    key = cache.key(STAGE, settings, inputs)
    entry = cache.get(STAGE, key)
    if entry is not None:
        return LocalizeResult(row_scores=pq.read_table(entry.file(ROW_SCORES_FILE)), **entry.value)
    result = localize(candidate, reference, cascade, modality=modality, config=config)
    state = {
        f.name: getattr(result, f.name)
        for f in dataclasses.fields(result)
        if f.name != "row_scores"
    }
    write = {ROW_SCORES_FILE: lambda path: pq.write_table(result.row_scores, path)}
    cache.put(STAGE, key, to_jsonable(state), write)
    return result
