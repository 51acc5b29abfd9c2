"""Collapse detection: eight dimension scores, a verdict, severity, type and root causes.

    from synthos.analysis.collapse import detect_collapse, CollapseConfig, DIMENSIONS

    result = detect_collapse("synthetic.parquet", reference="real.parquet",
                             cascade="logs/cascade/<id>", modality=None, config=None)
    result.collapse_detected, result.severity, result.dimension("memorization").evidence
    report_fields = result.to_report()          # the report.json fields of this stage

    # one dimension alone, e.g. for a benchmark
    score_dimension("tail_preservation", candidate_table, reference_table, cascade=None,
                    modality="tabular", config=CollapseConfig())

Inputs (`inputs`): paths in any format the loader reads, pyarrow Tables or pandas
DataFrames. The candidate is compared with the reference on their common columns (a schema
mismatch is evidence; no common column, or an empty candidate, is a DataError). The
reference sample is split into the part compared with and a real holdout, the null
baseline. A dataset is never compared with itself (same path or same content hash): it is
then treated as no reference. Modality comes from
`synthos.datamodules.modality.infer_modality` unless given.

Dimensions (`dimensions/`, one module each, ``evaluate(Comparison) -> DimensionResult``;
each module's docstring gives its statistics and score formula): every statistic is a
distance between candidate and reference minus what sampling noise alone produces at
those sizes (`stats`), mapped to 0-100 (100 = healthy). Without a reference only
memorization (the candidate's own duplicates) and training_stability (the cascade) are
evaluated: a held-out split of the candidate shares its distribution by construction and
cannot reveal collapse, so the others are "not evaluated" - never passed.

Scale: exact duplicates and copies of reference rows hash every row in the analysis
engine; every other statistic works on a seeded uniform sample (``sample_rows``, time
series read in order) and nearest neighbours on ``knn_rows`` rows through FAISS; the sizes
are in each result's evidence and in `CollapseResult.sample_sizes`.

Verdict rules (`verdict`): overall score = weighted mean of evaluated scores;
collapse_detected = any evaluated dimension under its threshold; risk score, severity,
collapse type and root causes as documented there. Thresholds come from
``thresholds.json`` (package data; per dimension, and per modality where the calibration
had enough clean controls: `CollapseConfig.threshold`), replaced by the calibration in
``benchmarks/collapse_suite`` through `CollapseConfig.save_thresholds`.
"""

from __future__ import annotations

from .config import DIMENSIONS, THRESHOLDS_FILE, CollapseConfig, load_thresholds
from .detector import detect_collapse, evaluate_prepared, score_dimension
from .inputs import Comparison, prepare
from .result import CollapseResult, DimensionResult
from .stage import detect_stage

__all__ = [
    "DIMENSIONS",
    "THRESHOLDS_FILE",
    "CollapseConfig",
    "CollapseResult",
    "Comparison",
    "DimensionResult",
    "detect_collapse",
    "detect_stage",
    "evaluate_prepared",
    "load_thresholds",
    "prepare",
    "score_dimension",
]
