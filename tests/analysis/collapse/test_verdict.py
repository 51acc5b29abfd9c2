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
    causes = verdict.root_causes(dims, "tabular")
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
        ({"correlation_preservation": 20.0, "spectral_coherence": 5.0}, "correlation_loss"),
        ({"distribution_fidelity": 20.0, "entropy_stability": 50.0}, "distribution_shift"),
        ({"entropy_stability": 20.0, "tail_preservation": 30.0}, "mode_collapse"),
        ({"tail_preservation": 30.0}, "tail_loss"),
        ({"training_stability": 0.0, "memorization": 50.0}, "training_instability"),
    ],
)
def test_collapse_type_patterns(scores, expected):
    dims = _dims(**scores)
    assert verdict.collapse_type(dims, "tabular") == expected
    assert verdict.root_causes(dims, "tabular")[0]["cause"] == expected


def test_duplication_explains_the_tails_and_diversity_it_removes():
    """150 rows repeated 4 times: the tails and support lost are consequences of the
    duplication, whatever their shortfalls."""
    dims = _dims(tail_preservation=8.0, memorization=15.0, entropy_stability=40.0)
    assert verdict.collapse_type(dims, "tabular") == "memorization"
    causes = verdict.root_causes(dims, "tabular")
    assert [(c["dimension"], c["role"]) for c in causes] == [
        ("memorization", "primary"),
        ("tail_preservation", "consequence"),
        ("entropy_stability", "consequence"),
    ]
    assert all(c["explained_by"] == "memorization" for c in causes[1:])
    assert causes[0]["cause"] == "memorization"
    assert sum(c["percentage"] for c in causes) == pytest.approx(100.0)


def test_a_cause_it_does_not_explain_is_independent():
    dims = _dims(memorization=20.0, correlation_preservation=50.0)
    causes = verdict.root_causes(dims, "tabular")
    assert causes[0]["dimension"] == "memorization"
    assert causes[1]["role"] == "independent" and "explained_by" not in causes[1]


def _narrower(scores_ratio: float, dims: list[DimensionResult]) -> list[DimensionResult]:
    for d in dims:
        if d.name == "distribution_fidelity":
            d.evidence = {
                "worst_columns": ["joint", "x"],
                "columns": {
                    "joint": {"score": 1.0},
                    "x": {"sd_ratio": scores_ratio, "scale_excess": 0.5, "mean_excess": 0.0},
                },
            }
    return dims


def test_a_narrower_spread_is_lost_diversity_a_wider_one_a_shift():
    scores = {"distribution_fidelity": 5.0, "entropy_stability": 40.0}
    assert verdict.collapse_type(_narrower(0.5, _dims(**scores)), "tabular") == "diversity_loss"
    assert verdict.collapse_type(_narrower(2.0, _dims(**scores)), "tabular") == (
        "distribution_shift"
    )


def test_a_series_spectrum_is_not_explained_by_a_shift():
    dims = _dims(distribution_fidelity=1.0, spectral_coherence=50.0, tail_preservation=30.0)
    assert verdict.collapse_type(dims, "time_series") == "structure_loss"
    assert verdict.collapse_type(dims, "tabular") == "distribution_shift"


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
