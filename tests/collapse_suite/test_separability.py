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
def test_strong_defects_are_separable(iris_cases, family):
    base, cases = iris_cases
    controls = [c for c in cases if c.is_clean]
    defect = next(c for c in cases if c.family == family)
    found = sep.separability(defect, controls, base.label)
    assert found["separable"], found
    assert found["statistic"] > found["clean_95th_percentile"]


@pytest.mark.parametrize(
    ("family", "judged_as"),
    [("variance_shrinkage", "scale_shift"), ("scale_shift", "variance_shrinkage")],
)
def test_the_oracle_knows_the_direction_of_the_defect(iris_cases, family, judged_as):
    """A strong change of spread the other way is not the defect: it lies at the wrong end
    of the clean controls' spread."""
    base, cases = iris_cases
    controls = [c for c in cases if c.is_clean]
    defect = next(c for c in cases if c.family == family)
    found = sep.separability(replace(defect, family=judged_as), controls, base.label)
    assert not found["separable"]
    assert found["clean_share_at_least"] == 1.0


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
