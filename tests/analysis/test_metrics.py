"""Exact numbers of the building blocks: evenness, concentration, allocation, precision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthos.analysis.correlations import cramers_v
from synthos.analysis.sampling import bounded_allocation, margin_of_error, rare_lower_bound
from synthos.analysis.strata import Dimension, distribution_metrics, quantile_edges


def _gini_reference(c: list[float]) -> float:
    c = np.asarray(c, dtype=float)
    return float(np.abs(c[:, None] - c[None, :]).sum() / (2 * c.size**2 * c.mean()))


def test_uniform_groups_are_perfectly_even():
    m = distribution_metrics([250, 250, 250, 250])
    assert m["entropy"] == pytest.approx(1.0)
    assert m["entropy_bits"] == pytest.approx(2.0)
    assert m["effective_groups"] == pytest.approx(4.0)
    assert m["gini"] == pytest.approx(0.0, abs=1e-12)
    assert m["hhi"] == pytest.approx(0.25)
    assert m["hhi_normalized"] == pytest.approx(0.0, abs=1e-12)
    assert m["rare_groups"] == 0


def test_one_group_has_zero_entropy():
    m = distribution_metrics([1000])
    assert m["entropy"] == 0.0 and m["gini"] == 0.0 and m["hhi"] == 1.0


def test_skewed_groups_match_the_formulas():
    counts = [12_000, 6_000, 1_900, 100]
    p = np.array(counts) / sum(counts)
    m = distribution_metrics(counts, rare_threshold=0.01)
    assert m["entropy_bits"] == pytest.approx(float(-(p * np.log2(p)).sum()))
    assert m["entropy"] == pytest.approx(float(-(p * np.log2(p)).sum() / 2.0))
    assert m["gini"] == pytest.approx(_gini_reference(counts))
    assert m["hhi"] == pytest.approx(float((p**2).sum()))
    assert m["top_share"]["1"] == pytest.approx(0.6)
    assert m["rare_groups"] == 1 and m["rare_rows"] == 100
    assert m["rare_percentage"] == pytest.approx(0.5)


def test_empty_groups_are_ignored():
    assert distribution_metrics([0, 5, 5])["groups"] == 2
    assert distribution_metrics([])["groups"] == 0


def test_bounded_allocation_is_proportional_with_floors():
    counts = np.array([12_000, 6_000, 1_900, 100])
    lower = np.array([1, 1, 1, rare_lower_bound(100, 20_000, 1000, 3.0)])
    assert lower[-1] == 15  # ceil(3 * 1000 * 0.005)
    alloc = bounded_allocation(1000, counts, lower)
    assert alloc.sum() == 1000
    assert alloc[-1] == 15
    assert np.all(alloc >= lower)
    # the other strata share the rest proportionally (within rounding)
    rest = alloc[:3] / alloc[:3].sum()
    assert np.allclose(rest, counts[:3] / counts[:3].sum(), atol=2e-3)


def test_bounded_allocation_overflow_and_whole_population():
    counts = np.array([5, 5, 5])
    assert bounded_allocation(100, counts).tolist() == [5, 5, 5]
    assert bounded_allocation(2, counts, [1, 1, 1]).tolist() == [1, 1, 1]


def test_margin_of_error_formula():
    # one stratum of 10,000 rows, 400 sampled: 1.96 * sqrt(0.25 * fpc / 400)
    moe, per = margin_of_error([400], [10_000], 0.95)
    fpc = (10_000 - 400) / (10_000 - 1)
    expected = 1.959963984540054 * math.sqrt(0.25 * fpc / 400)
    assert moe == pytest.approx(expected)
    assert per[0] == pytest.approx(expected)
    # a stratum left without rows counts its whole weight
    moe2, per2 = margin_of_error([400, 0], [10_000, 10_000], 0.95)
    assert per2[1] == 1.0
    assert moe2 == pytest.approx(1.959963984540054 * math.sqrt(0.25 * 0.25 * fpc / 400) + 0.5)
    # taking every row leaves no sampling error
    assert margin_of_error([10, 20], [10, 20])[0] == pytest.approx(0.0)


def test_cramers_v_extremes():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 5000)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, rng.integers(0, 3, 5000)) < 0.05


def test_quantile_edges_merge_ties():
    values = np.array([0.0] * 90 + list(range(1, 11)), dtype=float)
    edges = quantile_edges(values, 4)
    assert edges == sorted(set(edges))
    assert len(edges) < 3  # the 25 % and 50 % quantiles are both 0


def test_dimension_labels():
    num = Dimension("x", "numeric", [0.0, 1.0])
    assert [num.label(k) for k in (0, 1, 2, -1)] == ["(-inf, 0]", "(0, 1]", "(1, inf)", "<null>"]
    text = Dimension("t", "text_length")
    assert text.label(0) == "0 chars" and text.label(3) == "7-14 chars"
