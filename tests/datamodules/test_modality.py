"""infer_modality on real files: text, tabular and time series, metadata input, overrides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.datamodules.loading import get_metadata
from synthos.datamodules.modality import MODALITIES, infer_modality, validate_modality
from synthos.datamodules.sample_data import sample_series, sample_table
from synthos.errors import DataError, ErrorCode

SENTENCE = "the model reads every row of the file and learns how values depend on each other"
WORDS = SENTENCE.split(" ")


def sentences(n: int, rng) -> list[str]:
    return [" ".join(rng.choice(WORDS, size=rng.integers(15, 40))) + f" ({i})." for i in range(n)]


@pytest.fixture
def text_jsonl(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "reviews.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i, doc in enumerate(sentences(120, rng)):
            fh.write(json.dumps({"id": i, "stars": int(rng.integers(1, 6)), "review": doc}) + "\n")
    return path


def table_frame(n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["Lyon", "Oslo", "Quito"], n),
            "income": rng.lognormal(10, 1, n),
            "signup": pd.date_range("2020-01-01", periods=n, freq="D")[rng.permutation(n)],
            "churned": rng.choice(["yes", "no"], n),
        }
    )


def series_frame(n: int = 150) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=n, freq="h").strftime("%Y-%m-%dT%H:%M"),
            "load": 50 + 10 * np.sin(2 * np.pi * t / 24),
            "site": ["north"] * n,
            "temp": 10 + 0.1 * t,
        }
    )


def test_text_file_is_text_with_its_column(text_jsonl):
    found = infer_modality(text_jsonl)
    assert found.modality == "text" and found.column == "review"
    assert "free text" in found.reason and "review" in found.reason
    assert not found.overridden


def test_stdlib_sample_is_text(stdlib_text):
    found = infer_modality(stdlib_text)
    assert (found.modality, found.column) == ("text", "text")


def test_table_with_unsorted_dates_and_short_strings_is_tabular(tmp_path):
    path = tmp_path / "customers.parquet"
    table_frame().to_parquet(path)
    found = infer_modality(path)
    assert found.modality == "tabular" and found.column is None
    assert "5 columns" in found.reason


def test_sorted_time_column_with_numeric_columns_is_series(tmp_path):
    path = tmp_path / "load.csv"
    series_frame().to_csv(path, index=False)
    found = infer_modality(path)
    assert (found.modality, found.column) == ("time_series", "date")
    assert "2 of the 3 other columns are numeric" in found.reason


def test_timestamp_type_and_numeric_time_names(tmp_path):
    frame = series_frame()
    frame["date"] = pd.to_datetime(frame["date"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "ts.parquet")
    assert infer_modality(tmp_path / "ts.parquet").modality == "time_series"

    numeric = pd.DataFrame({"step": np.arange(100), "x": np.random.default_rng(0).random(100)})
    numeric.to_csv(tmp_path / "steps.csv", index=False)
    assert infer_modality(tmp_path / "steps.csv").column == "step"
    # The same monotonic integers under a non-time name are a row id, not a clock.
    numeric.rename(columns={"step": "id"}).to_csv(tmp_path / "ids.csv", index=False)
    assert infer_modality(tmp_path / "ids.csv").modality == "tabular"


def test_time_column_with_mostly_categorical_columns_is_tabular(tmp_path):
    frame = series_frame()
    frame["kind"] = "a"
    frame["owner"] = "b"
    frame = frame.drop(columns=["temp"])  # 1 numeric of 3 others
    frame.to_csv(tmp_path / "events.csv", index=False)
    assert infer_modality(tmp_path / "events.csv").modality == "tabular"


def test_bundled_samples(tmp_path):
    assert infer_modality(sample_table(tmp_path)).modality == "tabular"
    assert infer_modality(sample_series(tmp_path)).modality == "time_series"


def test_metadata_input_gives_the_same_answer(text_jsonl, tmp_path):
    series_frame().to_csv(tmp_path / "s.csv", index=False)
    for path in (text_jsonl, tmp_path / "s.csv"):
        assert infer_modality(get_metadata(path)) == infer_modality(path)


def test_override_wins_without_reading(text_jsonl, tmp_path):
    found = infer_modality(text_jsonl, override="tabular")
    assert (found.modality, found.overridden) == ("tabular", True)
    assert "override" in found.reason
    # Aliases and case are accepted; the data is not even opened.
    missing = tmp_path / "does_not_exist.csv"
    assert infer_modality(missing, override=" Series ").modality == "time_series"
    assert [validate_modality(m) for m in MODALITIES] == list(MODALITIES)


@pytest.mark.parametrize("bad", ["images", "", "text!", 3])
def test_bad_override_is_a_clear_data_error(text_jsonl, bad):
    with pytest.raises(DataError) as info:
        infer_modality(text_jsonl, override=bad)
    assert info.value.code == ErrorCode.DATA_VALUE
    assert "text, tabular, time_series" in str(info.value)


def test_missing_and_empty_files_are_data_errors(tmp_path):
    with pytest.raises(DataError) as info:
        infer_modality(tmp_path / "nope.csv")
    assert info.value.code // 1000 == 1
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(DataError) as info:
        infer_modality(tmp_path / "empty.csv")
    assert info.value.code == ErrorCode.DATA_EMPTY
