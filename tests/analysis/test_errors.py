"""Bad input raises a DataError with a 1xxx code that names the file; bad settings raise
ValueError."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.analysis import analyze_diversity
from synthos.errors import DataError, ErrorCode


def _code(excinfo) -> ErrorCode:
    return excinfo.value.code


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(tmp_path / "nope.parquet")
    assert _code(excinfo) == ErrorCode.DATA_NOT_FOUND


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(path)
    assert _code(excinfo) == ErrorCode.DATA_EMPTY
    assert str(path) in str(excinfo.value)


def test_zero_rows(tmp_path):
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.float64())}), path)
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(path)
    assert _code(excinfo) == ErrorCode.DATA_EMPTY
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(pa.table({"a": pa.array([], pa.float64())}))
    assert _code(excinfo) == ErrorCode.DATA_EMPTY


def test_truncated_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": np.arange(1000.0)}), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(bad)
    assert _code(excinfo) == ErrorCode.DATA_CORRUPT


def test_damaged_data_pages_found_by_the_engine(tmp_path):
    """The footer is intact (the loader accepts it); the engine meets the damage."""
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.standard_normal(50_000), "s": rng.choice(["a", "b"], 50_000)})
    good = tmp_path / "good.parquet"
    pq.write_table(table, good, compression="snappy", row_group_size=10_000)
    data = bytearray(good.read_bytes())
    for i in range(1000, len(data) // 2, 997):
        data[i] ^= 0xFF
    bad = tmp_path / "damaged.parquet"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(bad, sample_size=100, max_clusters=2)
    assert _code(excinfo) == ErrorCode.DATA_CORRUPT
    assert excinfo.value.details["path"] == str(bad)


def test_unknown_column(tmp_path):
    table = pa.table({"a": [1.0, 2.0, 3.0]})
    for kwargs in ({"columns": ["b"]}, {"strata_columns": ["b"]}, {"column_kinds": {"b": "text"}}):
        with pytest.raises(DataError) as excinfo:
            analyze_diversity(table, **kwargs)
        assert _code(excinfo) == ErrorCode.DATA_SCHEMA
        assert excinfo.value.details["column"] == "b"


def test_nothing_to_analyse():
    table = pa.table({"blob": pa.array([b"x", b"y"] * 10), "lst": pa.array([[1, 2]] * 20)})
    with pytest.raises(DataError) as excinfo:
        analyze_diversity(table)
    assert _code(excinfo) == ErrorCode.DATA_SCHEMA


def test_invalid_settings():
    table = pa.table({"a": [1.0, 2.0, 3.0]})
    for kwargs in (
        {"sample_size": 0},
        {"seed": -1},
        {"rare_threshold": 1.5},
        {"tail_quantiles": (0.9, 0.1)},
        {"outlier_method": "zscore"},
        {"column_kinds": {"a": "image"}},
    ):
        with pytest.raises(ValueError):
            analyze_diversity(table, **kwargs)


def test_tiny_and_constant_data_do_not_crash():
    one = analyze_diversity(pa.table({"a": [1.5], "s": ["x"]}), sample_size=10)
    assert one.dataset["rows"] == 1 and one.sample["size"] == 1
    constant = analyze_diversity(pa.table({"a": [2.0] * 100, "s": ["x"] * 100}), sample_size=10)
    assert constant.strata["count"] == 1 and constant.entropy == 0.0
    assert constant.outlier_percentage == 0.0 and constant.sample["size"] == 10
