"""`localize`: read every row once, gather the evidence, score rows, find regions."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pyarrow as pa

from synthos.analysis.collapse.detector import thread_limits

from .combine import RowScores, combine
from .config import LocalizeConfig
from .copies import copy_evidence
from .duplicates import duplicate_evidence
from .embeddings import embed
from .evidence import Evidence, Skipped
from .labels import label_evidence, label_target
from .regions import find_regions
from .result import LocalizeResult
from .rows import RowView, load_rows
from .series import series_evidence
from .support import support_evidence
from .text_quality import text_quality_evidence

DataLike = Any  # a path, a pyarrow.Table or a pandas.DataFrame


def localize(
    candidate: DataLike,
    reference: DataLike | None = None,
    cascade: str | os.PathLike | None = None,
    *,
    modality: str | None = None,
    config: LocalizeConfig | None = None,
) -> LocalizeResult:
    """Score every row of `candidate` for duplicates, copies of `reference` rows, label
    noise, low quality and out-of-support values (and, given a cascade's sweep directory,
    the cascade models' per-row loss and Captum self-influence on a sample of rows), and
    group the flagged rows into regions."""
    config = config or LocalizeConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with thread_limits(config.model_threads):
        view = load_rows(candidate, reference, modality=modality, config=config)
        timings["localize_read"] = round(time.perf_counter() - started, 3)
        evidence, skipped = data_evidence(view, config, timings)
        if cascade is not None:
            from .model_evidence import model_evidence

            lap = time.perf_counter()
            found, missing = model_evidence(view, candidate, reference, cascade, config)
            evidence.extend(found)
            skipped.extend(missing)
            timings["localize_model_evidence"] = round(time.perf_counter() - lap, 3)
        else:
            skipped.append(Skipped("cascade_models", "no cascade given: data evidence only"))
        scores = combine(evidence, view.rows, config.flag_score)
        regions = find_regions(scores, evidence, config)
    timings["localization"] = round(time.perf_counter() - started, 3)
    return LocalizeResult(
        dataset=dict(view.cmp.dataset),
        modality=view.modality,
        row_scores=_row_table(scores, evidence),
        regions=regions,
        evidence=[_describe(e, scores) for e in evidence],
        skipped=[{"name": s.name, "reason": s.reason} for s in skipped],
        flag_score=config.flag_score,
        timings=timings,
    )


def data_evidence(
    view: RowView, config: LocalizeConfig, timings: dict[str, float]
) -> tuple[list[Evidence], list[Skipped]]:
    """The sources that need only the data (and the reference, where given)."""
    if view.modality == "time_series":
        lap = time.perf_counter()
        found = series_evidence(view, config)
        timings["localize_series_windows"] = round(time.perf_counter() - lap, 3)
        return found
    evidence: list[Evidence] = []
    skipped: list[Skipped] = []
    lap = time.perf_counter()
    emb = embed(view)
    timings["localize_embedding"] = round(time.perf_counter() - lap, 3)
    steps = [("near_duplicates", lambda: duplicate_evidence(view, emb, config))]
    if emb.has_reference:
        steps.append(("reference_copies", lambda: copy_evidence(view, emb, config)))
    else:
        skipped.append(Skipped("reference_copies", "no reference dataset"))
    if emb.usable:
        steps.append(("out_of_support", lambda: support_evidence(view, emb, config)))
    else:
        skipped.append(Skipped("out_of_support", "no column to embed"))
    if view.modality == "text":
        steps.append(("low_quality_text", lambda: text_quality_evidence(view, config)))
    elif label_target(view) is not None:
        steps.append(("label_disagreement", lambda: label_evidence(view, config)))
    else:
        skipped.append(Skipped("label_disagreement", "no target column with predictors"))
    for name, run in steps:
        lap = time.perf_counter()
        evidence.append(run())
        timings[f"localize_{name}"] = round(time.perf_counter() - lap, 3)
    return evidence, skipped


def _describe(evidence: Evidence, scores: RowScores) -> dict[str, Any]:
    measured = np.isfinite(evidence.p_values)
    hits = scores.flagged & (scores.source == _index(evidence, scores))
    return {
        "name": evidence.name,
        "issue_type": evidence.issue_type,
        "rows_scored": int(measured.sum()),
        "rows_flagged": int(hits.sum()),
        **evidence.summary,
    }


def _index(evidence: Evidence, scores: RowScores) -> int:
    return list(scores.per_source).index(evidence.name)


def _row_table(scores: RowScores, evidence: list[Evidence]) -> pa.Table:
    columns: dict[str, Any] = {
        "row": np.arange(len(scores.score), dtype=np.int64),
        "score": scores.score,
        "issue_type": scores.issue_type.astype(str),
        "flagged": scores.flagged,
    }
    for item in evidence:
        columns[f"score_{item.name}"] = scores.per_source[item.name]
        columns[f"p_{item.name}"] = item.p_values
        for name, values in item.columns.items():
            columns[name] = values
    arrays = {}
    for name, values in columns.items():
        if values.dtype == object:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)
