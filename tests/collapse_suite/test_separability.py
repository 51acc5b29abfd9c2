"""The oracle that tells which marginal defects could be told apart from clean data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.collapse_suite import separability as sep
from benchmarks.collapse_suite.bases import load_base
from benchmarks.collapse_suite.catalog import SEEDS, cases_for


@pytest.fixture(scope="module")
def iris_cases():
    base = load_base("iris")
    wanted = frozenset(["clean", "mean_shift", "scale_shift", "variance_shrinkage"])
    return base, cases_for(base, SEEDS, (3,), wanted)


@pytest.mark.parametrize("family", sorted(sep.ORACLES))
def test_strong_defects_are_separable_and_clean_controls_are_not(iris_cases, family):
    base, cases = iris_cases
    controls = [c for c in cases if c.is_clean]
    defect = next(c for c in cases if c.family == family)
    found = sep.separability(defect, controls, base.label)
    assert found["separable"], found
    # a clean control dressed as the defect is one of the null: beyond its 95th percentile
    # for at most the top 5 % of the controls
    dressed = [sep.separability(replace(c, family=family), controls, base.label) for c in controls]
    assert sum(d["separable"] for d in dressed) <= 2


def test_misses_are_split_by_separability():
    found = [
        {"case_id": "a/mean_shift/1/s0", "family": "mean_shift", "separable": True},
        {"case_id": "a/mean_shift/2/s1", "family": "mean_shift", "separable": False},
        {"case_id": "a/mean_shift/3/s2", "family": "mean_shift", "separable": True},
    ]
    detected = {"a/mean_shift/1/s0": False, "a/mean_shift/2/s1": False, "a/mean_shift/3/s2": True}
    summary = sep.summarise(found, detected)["mean_shift"]
    assert summary["cases"] == 3 and summary["separable"] == 2
    assert summary["missed_separable"] == ["a/mean_shift/1/s0"]
    assert summary["missed_not_separable"] == ["a/mean_shift/2/s1"]


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match=r"not a suite results\.json"):
        sep.main(["--results", str(bad)])
