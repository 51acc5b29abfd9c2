"""Text and series defect injectors, recursive resampling of both, and determinism."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from benchmarks.collapse_suite import series_defects as series
from benchmarks.collapse_suite import tabular_defects as tabular
from benchmarks.collapse_suite import text_defects as text
from benchmarks.collapse_suite.bases import TEXT_COLUMN, TIME_COLUMN
from benchmarks.collapse_suite.catalog import build_cases
from benchmarks.collapse_suite.recursive import resample_series, resample_text


def _rng(seed=0):
    return np.random.default_rng(seed)


def _band_power(values: np.ndarray, season: int) -> float:
    """Share of the (demeaned) power within 20 % of the seasonal frequency."""
    centred = values - values.mean()
    power = np.abs(np.fft.rfft(centred)) ** 2
    freqs = np.fft.rfftfreq(len(values))
    band = np.abs(freqs - 1 / season) <= 0.2 / season
    return float(power[band].sum() / power[1:].sum())


def test_text_tail_truncation_leaves_no_tail_word(split_of):
    base, split = split_of("stdlib_docs")
    injected = text.tail_truncation(split, base, 0.1, _rng())
    reference = split.reference[TEXT_COLUMN].tolist()
    tail = text.tail_words(reference, 0.1)
    vocabulary = {w for doc in reference for w in doc.split()}
    words = {w for doc in injected.candidate[TEXT_COLUMN] for w in doc.split()}
    assert tail and not words & tail
    assert words <= vocabulary
    assert len(injected.candidate) + injected.removed_rows == len(split.holdout)


def test_repetition_loops_exactly_the_defective_documents(split_of):
    base, split = split_of("stdlib_docs")
    injected = text.repetition(split, base, 0.25, _rng())
    before, after = split.holdout[TEXT_COLUMN], injected.candidate[TEXT_COLUMN]
    changed = [row for row in range(len(after)) if after[row] != before[row]]
    assert changed == list(injected.defective_rows)
    assert len(changed) == round(0.25 * len(before))
    for row in changed:
        words = after[row].split()
        assert len(set(words)) <= text.LOOP_WORDS
        assert len(words) == len(before[row].split())


def test_text_memorized_copies_come_from_the_reference(split_of):
    base, split = split_of("numeric_docs")
    injected = text.memorized_copies(split, base, 0.15, _rng())
    reference = set(split.reference[TEXT_COLUMN])
    copied = injected.candidate[TEXT_COLUMN].iloc[injected.defective_rows]
    assert all(doc in reference for doc in copied)
    assert len(injected.defective_rows) == round(0.15 * len(split.holdout))


def test_text_recursive_resampling_loses_vocabulary_over_generations(split_of):
    _, split = split_of("stdlib_docs")
    docs = split.holdout[TEXT_COLUMN].tolist()

    def types(corpus):
        return len(Counter(w for doc in corpus for w in doc.split()))

    sizes = [types(resample_text(docs, g, _rng())) for g in (1, 3, 10)]
    assert types(docs) > sizes[0] > sizes[1] > sizes[2]
    assert sizes[2] < 0.5 * types(docs)


def test_series_split_keeps_time_axis_and_is_disjoint(split_of):
    base, split = split_of("elnino")
    for frame in (split.reference, split.holdout):
        assert frame[TIME_COLUMN].is_monotonic_increasing
    total = len(split.reference) + len(split.holdout)
    assert total <= len(base.frame)
    pooled = np.sort(np.r_[split.reference["sst"], split.holdout["sst"]])
    assert np.isin(pooled, base.frame["sst"]).all()


def test_smoothing_and_periodicity_loss_remove_spectral_structure(split_of):
    base, split = split_of("elnino")
    values = split.holdout["sst"].to_numpy()
    removed = series.periodicity_loss(split, base, 1.0, _rng()).candidate["sst"].to_numpy()
    assert _band_power(removed, base.season) < 0.01 * _band_power(values, base.season)
    smooth = series.smoothing(split, base, 9, _rng()).candidate["sst"].to_numpy()
    assert np.abs(np.diff(smooth)).mean() < 0.5 * np.abs(np.diff(values)).mean()


def test_series_segment_copies_overwrite_the_stated_steps(split_of):
    base, split = split_of("co2_seasonal")
    injected = series.memorized_copies(split, base, 0.2, _rng())
    out = injected.candidate
    assert out[TIME_COLUMN].equals(split.holdout[TIME_COLUMN])
    length = series.segment_length(base)
    assert len(injected.defective_rows) % length == 0
    assert abs(len(injected.defective_rows) / len(out) - 0.2) < length / len(out)
    reference = split.reference["co2_anomaly"].to_numpy()
    first = out["co2_anomaly"].to_numpy()[injected.defective_rows[:length]]
    windows = np.lib.stride_tricks.sliding_window_view(reference, length)
    assert np.isclose(windows, first).all(axis=1).any()
    untouched = np.setdiff1d(np.arange(len(out)), injected.defective_rows)
    assert np.array_equal(
        out["co2_anomaly"].to_numpy()[untouched], split.holdout["co2_anomaly"].to_numpy()[untouched]
    )


def test_series_tail_truncation_reuses_table_injector(split_of):
    base, split = split_of("sunspots")
    injected = tabular.tail_truncation(split, base, 0.05, _rng())
    lo, hi = np.quantile(split.reference["activity"], [0.05, 0.95], method="inverted_cdf")
    assert injected.candidate["activity"].between(lo, hi).all()
    assert injected.candidate[TIME_COLUMN].equals(split.holdout[TIME_COLUMN])


def test_series_recursive_resampling_loses_the_season(split_of):
    base, split = split_of("co2_seasonal")
    values = split.holdout["co2_anomaly"].to_numpy()
    late = resample_series(values, base.season + 1, 20, _rng())[:, 0]
    assert _band_power(late, base.season) < 0.5 * _band_power(values, base.season)
    assert late.std() < values.std()


def test_cases_are_deterministic_by_seed():
    first = build_cases(("iris", "macro_growth"), seeds=2, strengths=(2,))
    again = build_cases(("iris", "macro_growth"), seeds=2, strengths=(2,))
    assert [c.case_id for c in first] == [c.case_id for c in again]
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a.candidate, b.candidate)
        assert np.array_equal(a.defective_rows, b.defective_rows)
    assert {c.family for c in first} >= {"clean", "recursive_resampling", "mode_collapse"}
    assert all(c.expected_failing for c in first if not c.is_clean)
