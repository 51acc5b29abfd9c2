"""The detector's verdicts on a fixed set of suite cases, with the calibrated thresholds.

Clean controls must pass; clear defects (strength 3) must be detected with the dimensions
their ground truth names among the failures.
"""

from __future__ import annotations

import pytest

from benchmarks.collapse_suite.catalog import SEEDS, cases_for
from benchmarks.collapse_suite.families import expected_types
from benchmarks.collapse_suite.synthos_scorer import score_case

#: Clean controls that must pass. The suite's clean controls are not all silent (its
#: false-positive rate is measured, not zero: benchmarks/RESULTS.md lists the false alarms,
#: elnino/clean/s1 among them), so these are regression checks on four that pass.
CLEAN_CONTROLS = [
    "wine/clean/s1",
    "breast_cancer/clean/s3",
    "elnino/clean/s3",
    "stdlib_docs/clean/s1",
]
#: base/family at strength 3.
CLEAR_DEFECTS = [
    "breast_cancer/exact_duplicates",
    "wine/variance_shrinkage",
    "iris/correlation_breaking",
    "digits/mean_shift",
    "co2_seasonal/smoothing",
    "co2_seasonal/periodicity_loss",
    "penguins/tail_truncation",
    "stdlib_docs/repetition",
    "stdlib_docs/memorized_copies",
    "breast_cancer/label_noise",
    "co2_seasonal/memorized_copies",
    "elnino/mean_shift",
]


@pytest.fixture(scope="module")
def cases(bases):
    """case id -> Case for the chosen cases only (other defects are not built)."""
    wanted: dict[str, set[str]] = {}
    for case_id in CLEAN_CONTROLS + CLEAR_DEFECTS:
        base, family = case_id.split("/")[:2]
        wanted.setdefault(base, set()).add(family)
    out = {}
    for base, families in wanted.items():
        for case in cases_for(bases(base), SEEDS, (3,), frozenset(families)):
            out[case.case_id] = case
            out[f"{case.base}/{case.family}"] = case
    return out


@pytest.mark.parametrize("case_id", CLEAN_CONTROLS)
def test_clean_control_passes(cases, case_id):
    score = score_case(cases[case_id])
    assert score.error is None
    assert not score.collapse_detected, f"false alarm on {case_id}: {score.failed} {score.scores}"


@pytest.mark.parametrize("key", CLEAR_DEFECTS)
def test_clear_defect_fails_its_dimensions(cases, key):
    case = cases[key]
    score = score_case(case)
    assert score.error is None
    assert score.collapse_detected, f"missed {case.case_id}: {score.scores}"
    missing = case.expected_failing - set(score.failed)
    assert not missing, f"{case.case_id}: {sorted(missing)} did not fail ({score.scores})"


@pytest.mark.parametrize("key", CLEAR_DEFECTS)
def test_clear_defect_has_its_family_type_first(cases, key):
    """The collapse type is the family's (`families.EXPECTED_TYPES`, set a priori) and
    the first root cause says the same."""
    from synthos.analysis.collapse import detect_collapse

    case = cases[key]
    result = detect_collapse(case.candidate, case.reference, modality=case.modality)
    assert result.collapse_type in expected_types(case.family, case.modality), (
        f"{case.case_id}: {result.collapse_type}, causes {result.root_causes}"
    )
    assert result.root_causes[0]["cause"] == result.collapse_type
    assert result.root_causes[0]["role"] == "primary"
