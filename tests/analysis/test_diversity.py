"""The analyzer finds what was planted: a rare stratum, outliers, a correlation; the
stratified sample keeps the rare stratum and the tails; results are deterministic."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthos.analysis import DiversityResult, analyze_diversity

from .conftest import N_ROWS, PLANTED_OUTLIERS, SEGMENTS

SAMPLE = 1000


def _assert_same(a, b, where="result"):
    """Equal, except floats may differ in the last digits (parallel sums)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


FAST = {"max_clusters": 4, "cluster_rows": 4000}


@pytest.fixture(scope="module")
def result(planted: pa.Table) -> DiversityResult:
    return analyze_diversity(
        planted, sample_size=SAMPLE, seed=0, strata_columns=["segment"], threads=2, **FAST
    )


def test_contract_fields_are_json(result: DiversityResult):
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "sample_table" not in d
    for key in (
        "entropy",
        "gini",
        "cluster_count",
        "clusters",
        "correlations",
        "rare_pattern_percentage",
        "outlier_percentage",
        "sampling_confidence",
    ):
        assert key in d, key
    assert 0.0 <= d["entropy"] <= 1.0 and 0.0 <= d["gini"] <= 1.0
    assert 0.0 < d["sampling_confidence"] <= 1.0
    assert d["cluster_count"] == len(d["clusters"]) >= 2
    for cluster in d["clusters"]:
        assert {"size", "share", "centroid", "density"} <= set(cluster)
        assert set(cluster["centroid"]) == {"x", "y", "z", "w"}
    assert json.loads(text)["dataset"]["rows"] == N_ROWS


def test_column_kinds(result: DiversityResult):
    kinds = {c["name"]: c["kind"] for c in result.columns}
    assert kinds == {
        "segment": "categorical",
        "x": "numeric",
        "y": "numeric",
        "z": "numeric",
        "w": "numeric",
        "shadow": "categorical",
        "noise": "categorical",
    }


def test_finds_the_rare_stratum_with_exact_numbers(result: DiversityResult):
    strata = result.strata
    assert strata["dimensions_names"] == ["segment"]
    rows = {s["key"]["segment"]: s["rows"] for s in strata["strata"]}
    assert rows == SEGMENTS
    assert [s["key"]["segment"] for s in result.rare_strata] == ["rare"]
    assert result.rare_pattern_percentage == pytest.approx(0.5)
    p = np.array(list(SEGMENTS.values())) / N_ROWS
    assert result.entropy == pytest.approx(float(-(p * np.log2(p)).sum() / 2.0))
    c = np.array(sorted(SEGMENTS.values()), dtype=float)
    gini = np.abs(c[:, None] - c[None, :]).sum() / (2 * c.size**2 * c.mean())
    assert result.gini == pytest.approx(gini)
    marginal = result.marginals["segment"]
    assert marginal["rare_levels"] == ["rare"]


def test_finds_the_planted_outliers(result: DiversityResult, planted: pa.Table):
    expected_rows = np.zeros(N_ROWS, dtype=bool)
    for name in ("x", "y", "z", "w"):
        v = planted.column(name).to_numpy()
        med = np.median(v)
        mad = np.median(np.abs(v - med))
        flagged = np.abs(v - med) > 3.5 * 1.4826 * mad
        expected_rows |= flagged
        assert result.outliers["columns"][name]["robust_z"] == int(flagged.sum())
    assert result.outliers["rows"] == int(expected_rows.sum())
    assert result.outlier_percentage == pytest.approx(100.0 * expected_rows.sum() / N_ROWS)
    z = result.outliers["columns"]["z"]
    assert PLANTED_OUTLIERS <= z["robust_z"] <= PLANTED_OUTLIERS + 20  # + N(0,1) beyond 3.5
    assert result.outliers["columns"]["w"]["robust_z"] == 0  # uniform: no outliers
    assert result.tails["z"]["max"] >= 30.0


def test_finds_the_planted_correlation(result: DiversityResult, planted: pa.Table):
    corr = result.correlations
    x, y = planted.column("x").to_numpy(), planted.column("y").to_numpy()
    top = corr["pearson"][0]
    assert {top["a"], top["b"]} == {"x", "y"}
    assert top["value"] == pytest.approx(float(np.corrcoef(x, y)[0, 1]), abs=1e-9)
    frame = planted.select(["x", "y", "z", "w"]).to_pandas()
    rho = frame.corr(method="spearman")
    spear = {(d["a"], d["b"]): d["value"] for d in corr["spearman"]}
    assert spear[("x", "y")] == pytest.approx(rho.loc["x", "y"], abs=1e-9)
    pearson = frame.corr()
    matrix = corr["pearson_matrix"]
    cols = matrix["columns"]
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            assert matrix["values"][i][j] == pytest.approx(pearson.loc[a, b], abs=1e-9)
    from scipy.stats.contingency import association, crosstab

    cramer = {frozenset((d["a"], d["b"])): d["value"] for d in corr["cramers_v"]}
    table = crosstab(planted.column("segment").to_numpy(), planted.column("shadow").to_numpy())
    plain_v = association(table.count, method="cramer")
    assert plain_v > 0.7
    # bias-corrected V is a hair under the plain one at 20k rows
    assert cramer[frozenset(("segment", "shadow"))] == pytest.approx(plain_v, abs=2e-3)
    assert cramer[frozenset(("segment", "noise"))] < 0.02


def test_sample_keeps_rare_stratum_and_tails(result: DiversityResult, planted: pa.Table):
    sample = result.sample_table
    assert sample.num_rows == SAMPLE == result.sample["size"]
    segments = pd.Series(sample.column("segment").to_pylist()).value_counts().to_dict()
    assert set(segments) == set(SEGMENTS)
    assert segments["rare"] == math.ceil(3.0 * SAMPLE * 100 / N_ROWS)  # oversampled x3
    alloc = {s["key"]["segment"]: s["sampled"] for s in result.strata["strata"]}
    assert alloc == segments
    # design weights add up to the dataset
    assert sample.column("__weight").to_numpy().sum() == pytest.approx(N_ROWS)
    # the extreme tail: min and max rows of every numeric column, and rows beyond the
    # 0.1 % / 99.9 % quantiles on both sides
    rows = sample.column("__row").to_numpy()
    per_tail = result.sample["tail_rows_per_side"]
    for name in ("x", "y", "z", "w"):
        full = planted.column(name).to_numpy()
        assert int(np.argmin(full)) in rows and int(np.argmax(full)) in rows
        tail = result.tails[name]
        values = sample.column(name).to_numpy()
        assert (values < tail["low_bound"]).sum() >= min(per_tail, tail["rows_below"])
        assert (values > tail["high_bound"]).sum() >= min(per_tail, tail["rows_above"])
        assert tail["sampled_above"] >= min(per_tail, tail["rows_above"])


def test_rare_oversampling_factor_is_configurable(planted: pa.Table):
    r = analyze_diversity(
        planted,
        sample_size=SAMPLE,
        seed=0,
        strata_columns=["segment"],
        rare_oversample=6.0,
        **FAST,
    )
    alloc = {s["key"]["segment"]: s["sampled"] for s in r.strata["strata"]}
    assert alloc["rare"] == math.ceil(6.0 * SAMPLE * 100 / N_ROWS)  # twice the default x3
    assert r.sample_table.num_rows == SAMPLE
    assert r.to_dict()["config"]["rare_oversample"] == 6.0


def test_sample_rows_are_the_dataset_rows(result: DiversityResult, planted: pa.Table):
    sample = result.sample_table
    rows = sample.column("__row").to_numpy()
    assert np.all(np.diff(rows) > 0)  # in dataset order, no duplicates
    original = planted.take(pa.array(rows))
    for name in planted.column_names:
        assert sample.column(name).to_pylist() == original.column(name).to_pylist()


def test_deterministic_for_a_seed(planted: pa.Table, result: DiversityResult):
    again = analyze_diversity(
        planted, sample_size=SAMPLE, seed=0, strata_columns=["segment"], threads=1, **FAST
    )
    assert again.sample_table.equals(result.sample_table)
    a, b = again.to_dict(), result.to_dict()
    for d in (a, b):
        d.pop("timings")
        d["config"].pop("threads")
    _assert_same(a, b)
    other = analyze_diversity(
        planted, sample_size=SAMPLE, seed=1, strata_columns=["segment"], threads=2, **FAST
    )
    assert not np.array_equal(
        other.sample_table.column("__row").to_numpy(),
        result.sample_table.column("__row").to_numpy(),
    )


def test_default_strata_combine_kinds_and_respect_the_cap(planted: pa.Table):
    r = analyze_diversity(planted, sample_size=500, seed=0, max_strata=64, **FAST)
    dims = r.strata["dimensions"]
    kinds = {d["kind"] for d in dims}
    assert kinds == {"categorical", "numeric"}
    assert math.prod(d["levels"] for d in dims) <= 64
    assert r.strata["count"] <= r.strata["possible"] <= 64
    assert sum(s["rows"] for s in r.strata["strata"]) == N_ROWS
    # every rare stratum of the joint strata is kept
    assert r.sample["rare_strata_kept"] == r.sample["rare_strata_total"]
    assert all(s["sampled"] >= 1 for s in r.strata["strata"])
    # x and y are correlated: their joint quartile cells are uneven
    xy = analyze_diversity(planted, sample_size=500, seed=0, strata_columns=["x", "y"], **FAST)
    wz = analyze_diversity(planted, sample_size=500, seed=0, strata_columns=["w", "z"], **FAST)
    assert xy.strata["count"] == wz.strata["count"] == 16
    assert xy.entropy < wz.entropy - 0.05
    assert xy.rare_pattern_percentage > wz.rare_pattern_percentage


def test_rare_tight_cluster_is_found():
    rng = np.random.default_rng(3)
    n = 8000
    a = rng.standard_normal((n, 2))
    pocket = rng.choice(n, size=40, replace=False)  # 0.5 %
    a[pocket] = [6.0, -6.0] + 0.05 * rng.standard_normal((40, 2))
    table = pa.table({"u": a[:, 0], "v": a[:, 1]})
    r = analyze_diversity(table, sample_size=200, seed=0, max_clusters=4)
    small = [c for c in r.clusters if c["sampled_rows"] == 40]
    assert len(small) == 1
    assert small[0]["centroid"]["u"] == pytest.approx(6.0, abs=0.05)
    assert small[0]["density"] > 1.0


def test_sample_written_to_parquet(tmp_path, planted: pa.Table):
    import pyarrow.parquet as pq

    path = tmp_path / "s" / "sample.parquet"
    r = analyze_diversity(planted, sample_size=300, seed=5, sample_path=path, **FAST)
    back = pq.read_table(path)
    assert back.equals(r.sample_table)
    assert r.sample["path"] == str(path)
    assert back.column_names[-3:] == ["__row", "__stratum", "__weight"]


def test_pandas_input_and_column_selection(planted: pa.Table):
    frame = planted.to_pandas()
    r = analyze_diversity(frame, columns=["segment", "x"], sample_size=200, **FAST)
    assert [c["name"] for c in r.columns] == ["segment", "x"]
    assert r.sample_table.column_names[:7] == planted.column_names  # full rows in the sample
