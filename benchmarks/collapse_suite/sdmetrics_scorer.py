"""The baseline: SDMetrics' single-table QualityReport on the same cases.

SDMetrics is a benchmark-only dependency (`pip install -e .[bench]`), imported lazily.
QualityReport averages Column Shapes (KS complement for numeric columns, TV complement for
categorical ones) and Column Pair Trends (correlation and contingency similarity); its overall
score is 1 for identical distributions. What it can score here: tables, and series read as a
table of values (the time axis is dropped: the suite gives both sides the same artificial
axis, and QualityReport has no notion of order, so smoothing or lost periodicity reach it only
through the marginals). What it cannot score: text (a free-text column has no metric in the
report), and it has no notion of duplicates, copies of reference rows or of row order.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import pandas as pd

from benchmarks.collapse_suite.bases import TIME_COLUMN
from benchmarks.collapse_suite.case import Case

#: Modalities QualityReport is run on.
SCORED_MODALITIES = ("tabular", "time_series")


@dataclass(frozen=True)
class BaselineScore:
    """`quality` is the overall QualityReport score in [0, 1] (None when not scorable)."""

    quality: float | None
    properties: dict[str, float]
    seconds: float


def require_sdmetrics():
    """The QualityReport class, or an ImportError that says how to install it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from sdmetrics.reports.single_table import QualityReport
    except ImportError as err:
        raise ImportError(
            "the SDMetrics baseline needs sdmetrics: pip install -e '.[bench]' "
            "(or run the suite with --no-sdmetrics)"
        ) from err
    return QualityReport


def metadata_for(frame: pd.DataFrame) -> dict:
    """SDMetrics metadata: numeric columns are numerical, everything else categorical."""
    return {
        "columns": {
            column: {
                "sdtype": "numerical"
                if pd.api.types.is_numeric_dtype(frame[column])
                else "categorical"
            }
            for column in frame.columns
        }
    }


def _as_table(frame: pd.DataFrame) -> pd.DataFrame:
    table = frame.drop(columns=[TIME_COLUMN], errors="ignore")
    return table.astype(
        {c: object for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])}
    )


def score_case(case: Case) -> BaselineScore:
    """QualityReport of the candidate against the reference (None for text)."""
    if case.modality not in SCORED_MODALITIES:
        return BaselineScore(None, {}, 0.0)
    report_class = require_sdmetrics()
    reference, candidate = _as_table(case.reference), _as_table(case.candidate)
    start = time.perf_counter()
    report = report_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(reference, candidate, metadata_for(reference), verbose=False)
    seconds = time.perf_counter() - start
    properties = report.get_properties()
    return BaselineScore(
        float(report.get_score()),
        {row.Property: float(row.Score) for row in properties.itertuples()},
        seconds,
    )
