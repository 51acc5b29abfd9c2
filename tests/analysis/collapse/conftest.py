"""Detector results on real splits and injected defects, computed once per session."""

from __future__ import annotations

import pytest

from synthos.analysis.collapse import DIMENSIONS, CollapseConfig, CollapseResult, detect_collapse

from . import cases

TABLE_DEFECTS = {
    "mean_shift": cases.mean_shift,
    "shuffle_columns": cases.shuffle_columns,
    "shrink_variance": cases.shrink_variance,
    "truncate_tails": cases.truncate_tails,
    "copy_reference": cases.copy_reference,
    "random_labels": cases.random_labels,
}
TEXT_DEFECTS = {
    "repeat_phrases": cases.repeat_phrases,
    "shuffle_words": cases.shuffle_words,
    "common_words_only": cases.common_words_only,
    "copy_reference_docs": cases.copy_reference_docs,
}
#: Fixed thresholds: these tests check that the scores separate clean data from defects;
#: the shipped (calibrated) thresholds are checked by the benchmark suite's own tests.
THRESHOLD = 60.0
SERIES_DEFECTS = {
    "smooth_series": cases.smooth_series,
    "scale_steps": cases.scale_steps,
    "clip_steps": cases.clip_steps,
    "copy_reference_stretch": cases.copy_reference_stretch,
}


@pytest.fixture(scope="session")
def table_pair():
    return cases.table_split()


@pytest.fixture(scope="session")
def text_pair(data_dir):
    return cases.text_split(data_dir)


@pytest.fixture(scope="session")
def series_pair(data_dir):
    return cases.series_split(data_dir)


@pytest.fixture(scope="session")
def detected(table_pair, text_pair, series_pair):
    """detect_collapse on (modality, case), cached: every test reads the same result."""
    pairs = {"tabular": table_pair, "text": text_pair, "time_series": series_pair}
    defects = {"tabular": TABLE_DEFECTS, "text": TEXT_DEFECTS, "time_series": SERIES_DEFECTS}
    results: dict[tuple[str, str], CollapseResult] = {}

    def get(modality: str, case: str) -> CollapseResult:
        if (modality, case) not in results:
            cand, ref = pairs[modality]
            if case != "clean":
                cand = defects[modality][case](cand, ref)
            config = CollapseConfig(
                thresholds=dict.fromkeys(DIMENSIONS, THRESHOLD), modality_thresholds={}
            )
            results[(modality, case)] = detect_collapse(cand, ref, config=config)
        return results[(modality, case)]

    return get
