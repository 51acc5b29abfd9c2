"""The detector's rules on hand-made dimension results."""

from __future__ import annotations

import pytest

from synthos.analysis.collapse import CollapseConfig, DimensionResult, verdict


def _dims(**scores: float | None) -> list[DimensionResult]:
    out = []
    for name in CollapseConfig().thresholds:
        score = scores.get(name, 90.0)
        if score is None:
            out.append(DimensionResult.not_evaluated(name, 60.0, "no input"))
        else:
            out.append(DimensionResult.scored(name, score, 60.0, {}))
    return out


def test_healthy_results():
    dims = _dims(training_stability=None)
    overall = verdict.overall_score(dims, CollapseConfig())
    assert overall == 90.0  # the not-evaluated dimension does not count
    risk = verdict.risk_score(dims, overall)
    assert risk == 12 and verdict.severity(risk, False) == "none"  # 50 x 10 / 40, rounded
    assert verdict.collapse_type(dims) is None and verdict.root_causes(dims) == []


def test_failures_set_risk_type_and_causes():
    dims = _dims(memorization=10.0, distribution_fidelity=45.0, spectral_coherence=55.0)
    overall = verdict.overall_score(dims, CollapseConfig())
    risk = verdict.risk_score(dims, overall)
    assert risk >= 50 + 50 * 50 / 60 - 1  # worst shortfall 50 of a threshold of 60
    assert verdict.severity(risk, True) in ("high", "critical")
    causes = verdict.root_causes(dims)
    assert [c["dimension"] for c in causes] == [
        "memorization",
        "distribution_fidelity",
        "spectral_coherence",
    ]
    assert sum(c["percentage"] for c in causes) == pytest.approx(100.0)
    assert causes[0]["percentage"] == pytest.approx(100 * 50 / 70, abs=0.1)
    assert verdict.collapse_type(dims) == "memorization"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"correlation_preservation": 20.0}, "correlation_loss"),
        ({"distribution_fidelity": 20.0, "entropy_stability": 10.0}, "distribution_shift"),
        ({"entropy_stability": 20.0, "tail_preservation": 30.0}, "mode_collapse"),
        ({"tail_preservation": 30.0}, "tail_loss"),
        ({"training_stability": 0.0, "memorization": 50.0}, "training_instability"),
    ],
)
def test_collapse_type_patterns(scores, expected):
    assert verdict.collapse_type(_dims(**scores)) == expected


def test_risk_ranks_by_the_dimension_closest_to_its_threshold():
    """One dimension most of the way to failing outranks a small drop everywhere."""
    one_close = verdict.risk_score(_dims(memorization=64.0, training_stability=None), 90.0)
    all_mild = verdict.risk_score(_dims(**dict.fromkeys(CollapseConfig().thresholds, 88.0)), 88.0)
    assert one_close == 45 and all_mild == 15
    assert verdict.severity(one_close, False) == "low"


def test_a_barely_failing_dimension_is_never_severity_none():
    dims = _dims(tail_preservation=59.0)
    risk = verdict.risk_score(dims, verdict.overall_score(dims, CollapseConfig()))
    assert verdict.severity(risk, True) != "none"
