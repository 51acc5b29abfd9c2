"""Every input path: Parquet in place (file and directory of parts), other formats through
the loader's spool, in-memory tables; missing and non-finite values; temporal columns."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from synthos.analysis import analyze_diversity

FAST = {"max_clusters": 3, "cluster_rows": 2000}


def _table(n: int = 3000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "kind": rng.choice(["x", "y", "z"], n, p=[0.7, 0.295, 0.005]),
            "a": rng.standard_normal(n),
            "b": rng.exponential(size=n),
            "n": rng.integers(0, 1000, n),
        }
    )


def _check_rows(sample: pa.Table, original: pa.Table) -> None:
    rows = sample.column("__row").to_numpy()
    expected = original.take(pa.array(rows))
    for name in original.column_names:
        got = sample.column(name).to_pylist()
        want = expected.column(name).to_pylist()
        if isinstance(want[0], float):
            assert np.allclose(got, want)
        else:
            assert got == want


def test_parquet_directory_of_parts_is_scanned_in_place(tmp_path):
    table = _table()
    parts = tmp_path / "parts"
    parts.mkdir()
    offsets = [0, 1000, 1700, 3000]
    for i in range(3):
        pq.write_table(
            table.slice(offsets[i], offsets[i + 1] - offsets[i]), parts / f"p{i}.parquet"
        )
    r = analyze_diversity(parts, sample_size=400, seed=2, **FAST)
    assert r.dataset["rows"] == 3000 and r.dataset["format"] == "parquet"
    assert r.dataset["scanned_in_place"] is True
    _check_rows(r.sample_table, table)
    # the same data as one file gives the same analysis
    pq.write_table(table, tmp_path / "one.parquet")
    one = analyze_diversity(tmp_path / "one.parquet", sample_size=400, seed=2, **FAST)
    assert one.strata == r.strata and one.outliers == r.outliers
    # (floating-point sums may differ in the last digits with the scan order)
    got = {(d["a"], d["b"]): d["value"] for d in one.correlations["pearson"]}
    want = {(d["a"], d["b"]): d["value"] for d in r.correlations["pearson"]}
    assert got.keys() == want.keys()
    for key, value in got.items():
        assert value == pytest.approx(want[key], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_are_spooled_through_the_loader(tmp_path, fmt):
    table = _table()
    path = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    r = analyze_diversity(path, sample_size=300, seed=1, **FAST)
    assert r.dataset["format"] == fmt and r.dataset["scanned_in_place"] is False
    assert r.dataset["rows"] == 3000
    _check_rows(r.sample_table, table)
    assert {c["name"]: c["kind"] for c in r.columns} == {
        "kind": "categorical",
        "a": "numeric",
        "b": "numeric",
        "n": "numeric",
    }
    assert r.rare_strata  # kind == "z" is 0.5 %


def test_missing_and_non_finite_values():
    n = 2000
    rng = np.random.default_rng(4)
    a = rng.standard_normal(n)
    b = a + 0.5 * rng.standard_normal(n)
    c = rng.standard_normal(n)
    a_masked = a.copy()
    a_masked[:50] = np.nan
    a_masked[50:55] = np.inf
    b_list = b.tolist()
    for i in range(100, 130):
        b_list[i] = None
    cats = [None if i % 100 == 0 else ("p" if i % 3 else "q") for i in range(n)]
    table = pa.table(
        {"a": a_masked, "b": pa.array(b_list, pa.float64()), "c": c, "cat": pa.array(cats)}
    )
    r = analyze_diversity(table, sample_size=200, **FAST)
    info = {col["name"]: col for col in r.columns}
    assert info["a"]["missing"] == 55 and info["a"]["non_finite"] == 55
    assert info["b"]["missing"] == 30 and info["b"]["non_finite"] == 0
    assert info["cat"]["missing"] == 20
    levels = {lv["level"]: lv["rows"] for lv in r.marginals["cat"]["levels"]}
    assert levels["<null>"] == 20
    # Pearson over pairwise-complete rows, as pandas computes it
    frame = pd.DataFrame(
        {"a": np.where(np.isfinite(a_masked), a_masked, np.nan), "b": b_list, "c": c}
    )
    expected = frame.astype(float).corr()
    got = {(d["a"], d["b"]): d["value"] for d in r.correlations["pearson"]}
    for (x, y), value in got.items():
        assert value == pytest.approx(expected.loc[x, y], abs=1e-9)
    assert info["a"]["mean"] == pytest.approx(float(np.mean(a[55:])))
    assert info["c"]["std"] == pytest.approx(float(np.std(c, ddof=1)))


def test_temporal_and_boolean_columns():
    n = 1500
    start = dt.datetime(2024, 1, 1)
    table = pa.table(
        {
            "when": pa.array([start + dt.timedelta(hours=i) for i in range(n)], pa.timestamp("us")),
            "day": pa.array([(start + dt.timedelta(days=i % 365)).date() for i in range(n)]),
            "flag": pa.array([i % 7 == 0 for i in range(n)]),
        }
    )
    r = analyze_diversity(table, sample_size=100, **FAST)
    kinds = {c["name"]: c["kind"] for c in r.columns}
    assert kinds == {"when": "numeric", "day": "numeric", "flag": "categorical"}
    when = next(c for c in r.columns if c["name"] == "when")
    assert when["min"] == pytest.approx(start.replace(tzinfo=dt.timezone.utc).timestamp())
    flags = {lv["level"]: lv["rows"] for lv in r.marginals["flag"]["levels"]}
    assert flags == {"true": 215, "false": 1285}


def test_profile_sample_smaller_than_the_data(tmp_path):
    table = _table(n=30_000, seed=9)
    r = analyze_diversity(table, sample_size=500, profile_rows=5000, **FAST)
    assert r.dataset["profile_exact"] is False
    assert 4000 <= r.dataset["profile_rows"] <= 5000
    assert any("uniform sample" in w for w in r.warnings)
    # counts stay exact over all rows
    kinds = {lv["level"]: lv["rows"] for lv in r.marginals["kind"]["levels"]}
    truth = pd.Series(table.column("kind").to_pylist()).value_counts().to_dict()
    assert kinds == truth
    assert sum(s["rows"] for s in r.strata["strata"]) == 30_000


def test_extreme_rows_are_the_first_among_ties():
    n = 5000
    values = np.tile(np.arange(20, dtype=np.int64), n // 20)  # 250 rows at the min and max
    table = pa.table({"v": values, "w": np.arange(n, dtype=float)})
    r = analyze_diversity(table, sample_size=50, threads=2, **FAST)
    rows = set(r.sample_table.column("__row").to_pylist())
    assert next(c for c in r.columns if c["name"] == "v")["kind"] == "numeric"
    assert {0, 19} <= rows  # first rows holding v's min and max
    assert {0, n - 1} <= rows  # w's min and max


def test_quotes_and_placeholders_in_names_and_values_are_data(tmp_path):
    """Paths, column names and levels that look like SQL (quotes, ``$p0``, ``{src}``) reach
    the engine as data, so they are counted and labelled as they are."""
    levels = ["O'Brien", "$p0", 'say "hi"', "{src}", "plain"]
    n = 2000
    rng = np.random.default_rng(5)
    shares = [0.4, 0.3, 0.2, 0.095, 0.005]
    table = pa.table(
        {
            'it\'s "odd"': rng.choice(levels, n, p=shares),
            "$p1": rng.standard_normal(n),
            "{src}": rng.integers(0, 500, n),
        }
    )
    folder = tmp_path / "it's $p0 {src}"
    folder.mkdir()
    pq.write_table(table.slice(0, 1500), folder / "a.parquet")
    pq.write_table(table.slice(1500), folder / "b.parquet")
    r = analyze_diversity(folder, sample_size=300, seed=1, **FAST)
    assert r.dataset["rows"] == n and r.dataset["scanned_in_place"] is True
    counted = {d["level"]: d["rows"] for d in r.marginals['it\'s "odd"']["levels"]}
    values, counts = np.unique(
        table.column('it\'s "odd"').to_numpy(zero_copy_only=False), return_counts=True
    )
    assert counted == dict(zip(values.tolist(), counts.tolist(), strict=True))
    assert r.marginals['it\'s "odd"']["rare_levels"] == ["plain"]
    kept = {c["level"] for c in r.sample["constraints"] if c["kind"] == "rare_level"}
    assert kept == {"plain"}
    assert "plain" in r.sample_table.column('it\'s "odd"').to_pylist()
    x = table.column("$p1").to_numpy()
    entry = next(c for c in r.columns if c["name"] == "$p1")
    assert entry["mean"] == pytest.approx(float(x.mean()), rel=1e-9)
    assert entry["min"] == float(x.min()) and entry["max"] == float(x.max())
    _check_rows(r.sample_table, table)
