"""`detect_collapse`: prepare the data once, run every dimension, apply the verdict rules."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from threadpoolctl import threadpool_limits

from . import verdict
from .cascade import load_cascade
from .config import DIMENSIONS, CollapseConfig
from .dimensions import EVALUATORS
from .inputs import Comparison, prepare
from .result import CollapseResult, DimensionResult

INPUT_NOTES = (
    "schema_mismatch",
    "incomparable_columns",
    "skipped_columns",
    "self_comparison",
    "excluded_columns",
    "keys_in_row_hash",
)
DataLike = Any  # a path, a pyarrow.Table or a pandas.DataFrame


def detect_collapse(
    candidate: DataLike,
    reference: DataLike | None = None,
    cascade: str | os.PathLike | dict[str, Any] | None = None,
    *,
    modality: str | None = None,
    config: CollapseConfig | None = None,
    metadata: str | os.PathLike | dict[str, Any] | None = None,
) -> CollapseResult:
    """Score the eight dimensions of `candidate` (against `reference` and the cascade's
    results where given) and decide whether it shows collapse. `metadata`: SDV metadata
    JSON or Synthos roles YAML (path or dict; `metadata` module), the config's own column
    settings winning over it."""
    config = config or CollapseConfig()
    if metadata is not None:
        config = dataclasses.replace(config, metadata=metadata)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with thread_limits(config.model_threads):
        cmp = prepare(candidate, reference, load_cascade(cascade), modality=modality, config=config)
        timings["collapse_prepare"] = round(time.perf_counter() - started, 3)
        results = []
        for name in DIMENSIONS:
            lap = time.perf_counter()
            results.append(_with_input_notes(EVALUATORS[name](cmp), cmp))
            timings[f"collapse_{name}"] = round(time.perf_counter() - lap, 3)
    overall = verdict.overall_score(results, config)
    risk = verdict.risk_score(results, overall)
    collapse = any(r.failed for r in results)
    timings["collapse_detection"] = round(time.perf_counter() - started, 3)
    return CollapseResult(
        dimensions=results,
        overall_score=overall,
        collapse_detected=collapse,
        risk_score=risk,
        severity=verdict.severity(risk, collapse),
        collapse_type=verdict.collapse_type(results, cmp.modality),
        root_causes=verdict.root_causes(results, cmp.modality),
        timings=timings,
        sample_sizes=cmp.sample_sizes(),
        dataset={**cmp.dataset, "sample_sizes": cmp.sample_sizes()},
        notes=cmp.notes,
    )


def score_dimension(
    name: str,
    candidate: DataLike,
    reference: DataLike | None = None,
    cascade: str | os.PathLike | dict[str, Any] | None = None,
    modality: str | None = None,
    config: CollapseConfig | None = None,
) -> DimensionResult:
    """One dimension alone (same preparation as `detect_collapse`)."""
    if name not in EVALUATORS:
        raise ValueError(f"unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}")
    config = config or CollapseConfig()
    with thread_limits(config.model_threads):
        cmp = prepare(candidate, reference, load_cascade(cascade), modality=modality, config=config)
        return _with_input_notes(EVALUATORS[name](cmp), cmp)


def evaluate_prepared(
    cmp: Comparison, names: tuple[str, ...] = DIMENSIONS
) -> list[DimensionResult]:
    """Dimensions on an already prepared comparison (`inputs.prepare`), for callers that
    score many dimensions or thresholds on the same data."""
    with thread_limits(cmp.config.model_threads):
        return [_with_input_notes(EVALUATORS[name](cmp), cmp) for name in names]


def thread_limits(threads: int):
    """Cap OpenMP and BLAS pools while detecting. threadpoolctl caps only the libraries
    loaded when it is entered, so the ones detection uses (FAISS and scikit-learn each bring
    their own OpenMP runtime) are loaded first."""
    import faiss  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    return threadpool_limits(limits=threads)


def _with_input_notes(result: DimensionResult, cmp: Comparison) -> DimensionResult:
    """Schema mismatches, self-comparison and dropped columns travel with every dimension's
    evidence: they qualify what the score compared."""
    notes = {k: v for k, v in cmp.notes.items() if k in INPUT_NOTES}
    if notes:
        result.evidence["inputs"] = notes
    return result
