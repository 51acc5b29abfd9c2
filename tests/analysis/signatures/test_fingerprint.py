"""The fingerprint: same data, same vector (row order, file format); fixed length across
schemas; each defect moves the statistic meant to see it; bad input is a DataError."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from synthos.analysis.signatures import INTRINSIC, RELATIVE, FingerprintConfig, fingerprint
from synthos.errors import DataError, ErrorCode
from tests.analysis.signatures.conftest import halves, with_duplicates

CONFIG = FingerprintConfig(threads=1)


def vector(found) -> np.ndarray:
    parts = [found.intrinsic] + ([] if found.relative is None else [found.relative])
    return np.concatenate(parts)


def same(a, b) -> bool:
    """Equal vectors, NaN where the other is NaN."""
    return np.array_equal(vector(a), vector(b), equal_nan=True)


def test_table_same_vector_whatever_row_order_or_format(table, tmp_path):
    shuffled = table.sample(frac=1.0, random_state=7).reset_index(drop=True)
    table.to_csv(tmp_path / "t.csv", index=False)
    shuffled.to_parquet(tmp_path / "t.parquet", index=False)
    ref = table.iloc[::3]
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    ref.iloc[::-1].to_csv(tmp_path / "ref.csv", index=False)
    a = fingerprint(tmp_path / "t.csv", tmp_path / "ref.parquet", config=CONFIG)
    b = fingerprint(tmp_path / "t.parquet", tmp_path / "ref.csv", config=CONFIG)
    c = fingerprint(shuffled, config=CONFIG)
    assert a.modality == b.modality == "tabular"
    assert same(a, b)
    assert np.array_equal(a.intrinsic, c.intrinsic, equal_nan=True)
    assert a.dataset["content_hash"] == b.dataset["content_hash"] == c.dataset["content_hash"]
    assert np.isfinite(a.relative).sum() > 10


def test_sampled_fingerprint_does_not_depend_on_row_order(table):
    big = pd.concat([table] * 8, ignore_index=True)
    big["mean radius"] += np.arange(len(big)) * 1e-6  # distinct rows
    config = FingerprintConfig(threads=1, sample_rows=1000)
    a = fingerprint(big, config=config)
    b = fingerprint(big.sample(frac=1.0, random_state=3), config=config)
    assert a.dataset["sampled"] and a.dataset["sample_rows"] == 1000
    assert np.array_equal(a.intrinsic, b.intrinsic, equal_nan=True)
    other_seed = fingerprint(big, config=FingerprintConfig(threads=1, sample_rows=1000, seed=1))
    assert not np.array_equal(a.intrinsic, other_seed.intrinsic, equal_nan=True)


def test_text_same_vector_whatever_row_order_or_format(corpus, tmp_path):
    corpus.to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    corpus.iloc[::-1].to_parquet(tmp_path / "c.parquet", index=False)
    a = fingerprint(tmp_path / "c.jsonl", config=CONFIG)
    b = fingerprint(tmp_path / "c.parquet", config=CONFIG)
    assert a.modality == "text" and a.dataset["text_column"] == "text"
    assert same(a, b)


def test_series_same_vector_in_time_order_or_shuffled_with_its_time_column(series, tmp_path):
    series.to_csv(tmp_path / "s.csv", index=False)
    series.to_parquet(tmp_path / "s.parquet", index=False)
    a = fingerprint(tmp_path / "s.csv", config=CONFIG)
    b = fingerprint(tmp_path / "s.parquet", config=CONFIG)
    assert a.modality == "time_series" and a.dataset["time_column"] == "date"
    assert same(a, b)
    shuffled = series.sample(frac=1.0, random_state=1)
    order_free = FingerprintConfig(threads=1, time_column="date")
    c = fingerprint(shuffled, modality="time_series", config=order_free)
    assert np.allclose(a.intrinsic, c.intrinsic, equal_nan=True, rtol=1e-9, atol=1e-12)


def test_fixed_length_across_schemas_and_modalities(table, series, corpus):
    found = [
        fingerprint(table, config=CONFIG),
        fingerprint(table[["mean radius", "mean texture"]], config=CONFIG),
        fingerprint(series, config=CONFIG),
        fingerprint(corpus, config=CONFIG),
    ]
    assert {f.intrinsic.shape for f in found} == {(len(INTRINSIC),)}
    assert all(f.relative is None for f in found)
    named = found[3].named()
    assert named["kurtosis"] is None and named["distinct_2"] is not None
    assert found[0].named()["distinct_2"] is None and found[0].named()["kurtosis"] is not None
    pair = fingerprint(table.iloc[:200], table.iloc[200:], config=CONFIG)
    assert pair.relative.shape == (len(RELATIVE),)


def named(data, reference=None, **kw) -> dict:
    return fingerprint(data, reference, config=CONFIG, **kw).named()


def test_duplicates_raise_the_duplicate_shares(table):
    clean = named(table)
    copied = named(with_duplicates(table, 0.2, seed=0))
    assert clean["duplicate_rows"] == 0.0
    assert copied["duplicate_rows"] == pytest.approx(0.2, abs=0.01)
    assert copied["near_duplicate_share"] > clean["near_duplicate_share"] + 0.15


def test_clipped_tails_pile_up_on_the_edges(table):
    clipped = table.copy()
    for column in clipped.columns[:-1]:
        lo, hi = clipped[column].quantile([0.05, 0.95])
        clipped[column] = clipped[column].clip(lo, hi)
    clean, cut = named(table), named(clipped)
    assert cut["edge_pileup"] > clean["edge_pileup"] + 1.0
    assert cut["tail_share"] < clean["tail_share"]


def test_reference_relative_part_sees_shift_shrinkage_and_copies(table):
    ref, hold = halves(table, seed=0)
    numeric = hold.columns[:-1]
    clean = named(hold, ref)
    shifted = hold.copy()
    shifted[numeric] += ref[numeric].std()
    shrunk = hold.copy()
    shrunk[numeric] = hold[numeric].mean() + 0.5 * (hold[numeric] - hold[numeric].mean())
    copied = hold.copy()
    copied.iloc[:50] = ref.iloc[:50].to_numpy()
    assert named(shifted, ref)["mean_shift"] > clean["mean_shift"] + 0.8
    assert named(shrunk, ref)["log_sd_ratio"] < clean["log_sd_ratio"] - 0.5
    memorised = named(copied, ref)
    assert memorised["copied_rows"] == pytest.approx(50 / len(hold), abs=1e-9)
    assert memorised["close_copy_share"] >= 50 / len(hold) - 1e-9
    assert clean["copied_rows"] == 0.0


def test_looping_documents_raise_repetition(corpus):
    looped = corpus.copy()
    for row in range(0, len(looped), 4):
        words = looped.loc[row, "text"].split()
        looped.loc[row, "text"] = " ".join((words[:6] * 20)[: len(words)])
    clean, loops = named(corpus), named(looped)
    assert loops["looping_docs"] > clean["looping_docs"] + 0.15
    assert loops["distinct_3"] < clean["distinct_3"]


def test_smoothing_a_series_moves_power_to_low_frequencies(series):
    smooth = series.copy()
    smooth["sst"] = series["sst"].rolling(5, center=True, min_periods=1).mean()
    clean, smoothed = named(series), named(smooth)
    assert smoothed["high_frequency_share"] < 0.5 * clean["high_frequency_share"]
    assert smoothed["acf1_increments"] > clean["acf1_increments"] + 0.1


def test_bad_inputs_are_data_errors(tmp_path):
    with pytest.raises(DataError) as missing:
        fingerprint(tmp_path / "nope.parquet", config=CONFIG)
    assert missing.value.code == ErrorCode.DATA_NOT_FOUND
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(DataError) as empty:
        fingerprint(tmp_path / "empty.csv", config=CONFIG)
    assert empty.value.code == ErrorCode.DATA_EMPTY
    with pytest.raises(DataError):
        fingerprint(pd.DataFrame({"x": [1.0, 2.0]}), modality="pictures", config=CONFIG)
    with pytest.raises(DataError) as no_time:
        no_clock = FingerprintConfig(threads=1, time_column="when")
        fingerprint(pd.DataFrame({"x": [1.0, 2.0]}), modality="time_series", config=no_clock)
    assert no_time.value.code == ErrorCode.DATA_SCHEMA and "when" in no_time.value.message


def test_a_single_row_gives_a_vector_of_nans_not_a_crash():
    found = fingerprint(pd.DataFrame({"x": [1.0], "y": ["a"]}), config=CONFIG)
    assert found.intrinsic.shape == (len(INTRINSIC),)
    assert found.named()["duplicate_rows"] == 0.0
    assert math.isnan(found.intrinsic[[f.name for f in INTRINSIC].index("kurtosis")])
