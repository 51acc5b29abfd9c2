"""The cascade's prediction: the loss law over budget points, then the loss-to-metric map."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from synthos.cascade.metric_map import MIN_POINTS, fit_metric_map
from synthos.cascade.prediction import (
    HEADLINE,
    CascadePrediction,
    LawPoint,
    NoPrediction,
    baseline_largest_tier,
    headline_for,
    law_points,
    predict_cascade,
)

E, A, ALPHA, B, BETA = 1.2, 40.0, 0.35, 300.0, 0.4
SIZES = {1: 20_000, 2: 170_000, 3: 870_000}
BUDGETS = [100_000, 200_000, 400_000, 800_000]
TABULAR = HEADLINE["tabular"]
LM = HEADLINE["language_model"]


def true_loss(n, d):
    return E + A / n**ALPHA + B / d**BETA


def true_accuracy(loss):
    """A known falling logistic map from loss to accuracy."""
    return 0.5 + 0.45 / (1.0 + np.exp(1.5 * (loss - 3.5)))


def cascade_points(rng, rows=2000, noise=0.01, variants=(4, 3, 2)) -> list[LawPoint]:
    points = []
    for tier, count in zip(SIZES, variants, strict=True):
        for variant in range(count):
            job_shift = noise * rng.standard_normal()
            for budget in BUDGETS:
                loss = true_loss(SIZES[tier], budget) * (
                    1 + job_shift + 0.3 * noise * rng.standard_normal()
                )
                acc = float(np.clip(true_accuracy(loss) + rng.normal(0, 0.005), 0, 1))
                points.append(
                    LawPoint(
                        job=f"t{tier}v{variant}",
                        tier=tier,
                        params=SIZES[tier],
                        tokens=budget,
                        loss=float(loss),
                        loss_se=noise * float(loss) / 3,
                        metric=acc,
                        metric_se=math.sqrt(acc * (1 - acc) / rows),
                        rows=rows,
                        final=budget == BUDGETS[-1],
                    )
                )
    return points


def test_a_tabular_cascade_predicts_loss_and_accuracy_of_a_larger_run():
    rng = np.random.default_rng(0)
    target = (4 * SIZES[3], 1_600_000)
    outcome = predict_cascade(
        cascade_points(rng),
        TABULAR,
        target_params=target[0],
        n_bootstrap=40,
        target_tokens=target[1],
    )
    assert isinstance(outcome, CascadePrediction)
    loss = true_loss(*target)
    assert outcome.loss.lower <= loss <= outcome.loss.upper
    assert outcome.loss.predicted == pytest.approx(loss, rel=0.03)
    accuracy = float(true_accuracy(loss))
    assert outcome.value.lower <= accuracy <= outcome.value.upper
    assert outcome.value.predicted == pytest.approx(accuracy, abs=0.03)
    # A larger run beats the largest tier's final accuracy, which is the baseline.
    baseline = baseline_largest_tier(cascade_points(np.random.default_rng(0)), TABULAR)
    assert outcome.value.predicted > baseline
    report = outcome.to_report()
    assert report["target_tokens"] == target[1] and report["metric"] == "test/target_acc"
    assert set(report["law"]) == {"form", "params", "fit_quality"}
    assert set(report["loss"]) == {"predicted", "lower", "upper"}
    assert report["metric_map"]["n_points"] == 36


def test_a_language_model_cascade_predicts_the_loss_itself():
    outcome = predict_cascade(
        cascade_points(np.random.default_rng(1)),
        LM,
        target_params=4 * SIZES[3],
        n_bootstrap=40,
        target_tokens=1_600_000,
    )
    assert isinstance(outcome, CascadePrediction) and outcome.metric_map is None
    assert outcome.value == outcome.loss


def test_no_points_means_no_prediction_and_a_reason():
    outcome = predict_cascade([], TABULAR, target_params=10**6, n_bootstrap=40, target_tokens=10**7)
    assert isinstance(outcome, NoPrediction) and "no finished job" in outcome.reason
    few = cascade_points(np.random.default_rng(2))[:2]
    outcome = predict_cascade(
        few, TABULAR, target_params=10**6, n_bootstrap=40, target_tokens=10**7
    )
    assert isinstance(outcome, NoPrediction) and "loss law" in outcome.reason


def test_a_metric_that_does_not_move_gives_a_degenerate_prediction_over_the_evidence():
    points = [
        LawPoint(**{**p.__dict__, "metric": 0.62, "metric_se": 0.01})
        for p in cascade_points(np.random.default_rng(3))
    ]
    outcome = predict_cascade(
        points, TABULAR, target_params=4 * SIZES[3], n_bootstrap=40, target_tokens=10**6
    )
    assert isinstance(outcome, CascadePrediction)
    assert outcome.degenerate and "do not vary" in outcome.reason
    assert outcome.value.lower == outcome.value.upper == 0.62
    assert outcome.to_report()["degenerate"] is True


def test_an_evaluation_too_small_for_the_scaling_effect_is_flagged_with_the_rows_needed():
    rows = 20
    outcome = predict_cascade(
        cascade_points(np.random.default_rng(4), rows=rows),
        TABULAR,
        target_params=4 * SIZES[3],
        n_bootstrap=40,
        target_tokens=1_600_000,
    )
    evaluation = outcome.evaluation
    assert evaluation["too_few_rows"] is True
    effect, se = evaluation["scaling_effect"], evaluation["metric_se"]
    # The documented rule: the difference of two evaluations at the 90 % level.
    resolvable = norm.ppf(0.95) * math.sqrt(2) * se
    assert effect < resolvable
    assert evaluation["rows_needed"] == math.ceil(rows * (resolvable / effect) ** 2)
    assert any("rows would show it" in w for w in outcome.warnings)
    large = predict_cascade(
        cascade_points(np.random.default_rng(4), rows=200_000),
        TABULAR,
        target_params=4 * SIZES[3],
        n_bootstrap=40,
        target_tokens=1_600_000,
    )
    assert large.evaluation["too_few_rows"] is False


def budget_point(tokens, test_loss, selection_loss, accuracy, final=False):
    return {
        "steps": tokens // 10,
        "tokens": tokens,
        "rows": 57,
        "final": final,
        "metrics": {"loss": test_loss, "loss_se": 0.1, "target_acc": accuracy},
        "selection": {"loss": selection_loss},
    }


def test_law_points_early_stop_on_the_selection_split_and_skip_unfinished_jobs():
    rising = [
        budget_point(100, 3.1, 3.0, 0.6),
        budget_point(200, 2.1, 2.0, 0.8),
        budget_point(400, 2.6, 2.5, 0.7, final=True),  # overfits: held-out loss rises
        {"tokens": 800, "metrics": {"loss": float("nan")}},
    ]
    jobs = [
        {
            "job": "t1v0",
            "tier": 1,
            "status": "completed",
            "parameters": 900,
            "parameters_no_embedding": 300,
            "metrics": {"test/target_acc": 0.7},
            "budget_points": {"points": rising},
        },
        {"job": "t1v1", "tier": 1, "status": "failed", "budget_points": {"points": rising}},
    ]
    headline = headline_for(jobs)
    assert headline is TABULAR
    points = law_points(jobs, headline)
    assert [p.tokens for p in points] == [100, 200, 400]
    assert [p.loss for p in points] == [3.1, 2.1, 2.1]  # the 400-token budget keeps step 200
    assert [p.metric for p in points] == [0.6, 0.8, 0.8]
    assert [p.stopped_at for p in points] == [100, 200, 200]
    assert {p.params for p in points} == {300} and points[-1].final


def test_metric_map_recovers_a_known_curve_and_says_why_it_cannot_fit():
    loss = np.linspace(1.0, 3.0, 30)
    fitted = fit_metric_map(loss, true_accuracy(loss), None, (0.0, 1.0))
    assert not isinstance(fitted, str)
    grid = np.linspace(1.0, 3.0, 7)
    assert np.allclose(fitted(grid), true_accuracy(grid), atol=0.01)
    assert np.all(np.diff(fitted(np.linspace(0, 5, 50))) <= 0)  # falls with the loss
    reason = fit_metric_map(loss[: MIN_POINTS - 1], loss[: MIN_POINTS - 1], None, (0, 1))
    assert isinstance(reason, str) and str(MIN_POINTS) in reason
