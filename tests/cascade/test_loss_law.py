"""The loss-law fitter and `synthos scaling predict` against losses drawn from a known law.

Every expected value comes from the generating law ``L = E + A/N^alpha + B/D^beta`` (the
Chinchilla fit of Besiroglu et al. 2024), never from the code under test. Tolerances follow
from the noise: with 0.3 % log-normal noise on 20 runs over 1.5 decades of size, E is
recovered within 10 %, the exponents within 0.05 and an extrapolation 3x beyond the largest
size within 2 %.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthos.cascade.loss_law import LossPrediction, fit_loss_law
from synthos.cli import main
from synthos.errors import DataError, ErrorCode

LAW_E, LAW_A, LAW_ALPHA, LAW_B, LAW_BETA = 1.69, 406.4, 0.34, 410.7, 0.28
SIZES = np.geomspace(1e7, 3e8, 4)
TOKENS_PER_PARAM = np.geomspace(2, 400, 5)


def law(n, d):
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return LAW_E + LAW_A / n**LAW_ALPHA + LAW_B / d**LAW_BETA


def draw(noise: float, seed: int, sizes=SIZES, per_param=TOKENS_PER_PARAM):
    n = np.repeat(sizes, len(per_param))
    d = n * np.tile(per_param, len(sizes))
    rng = np.random.default_rng(seed)
    return n, d, law(n, d) * np.exp(noise * rng.standard_normal(n.size))


# ---------------------------------------------------------------------------------------
# recovery and intervals


def test_noise_free_draws_recover_the_law_exactly():
    n, d, loss = draw(0.0, 0)
    fit = fit_loss_law(n, d, loss, n_bootstrap=10)
    assert fit.form == "params_tokens" and not fit.degenerate, fit.reason
    assert pytest.approx(LAW_E, rel=1e-3) == fit.E
    assert pytest.approx(LAW_A, rel=1e-2) == fit.A
    assert fit.alpha == pytest.approx(LAW_ALPHA, abs=1e-3)
    assert pytest.approx(LAW_B, rel=1e-2) == fit.B
    assert fit.beta == pytest.approx(LAW_BETA, abs=1e-3)
    assert fit.fit_quality.rmse_log < 1e-4
    assert (fit.n_points, fit.n_sizes, fit.n_budgets) == (20, 4, 20)


@pytest.mark.parametrize("seed", [1, 2])
def test_noisy_draws_recover_parameters_and_extrapolate(seed):
    n, d, loss = draw(0.003, seed)
    fit = fit_loss_law(n, d, loss, n_bootstrap=5, seed=seed)
    assert not fit.degenerate, fit.reason
    assert pytest.approx(LAW_E, rel=0.10) == fit.E
    assert fit.alpha == pytest.approx(LAW_ALPHA, abs=0.05)
    assert fit.beta == pytest.approx(LAW_BETA, abs=0.05)
    pred = fit.predict(1e9, 2e10)
    truth = float(law(1e9, 2e10))
    assert isinstance(pred, LossPrediction)
    assert pred.predicted == pytest.approx(truth, rel=0.02)
    assert pred.lower < pred.predicted < pred.upper
    assert pred.level == 0.9


COVERAGE_TARGETS = (np.array([3e8, 6e8, 1e9, 1e9]), np.array([6e9, 1.2e10, 2e10, 2e11]))


def coverage_over_draws(draws: int, n_bootstrap: int) -> tuple[float, float]:
    """Share of 90 % intervals covering the true loss at 4 targets (up to 3x beyond the
    largest size) over independent draws with 1 % noise, and their median relative width."""
    targets_n, targets_d = COVERAGE_TARGETS
    truth = law(targets_n, targets_d)
    covered, widths = [], []
    for seed in range(draws):
        n, d, loss = draw(0.01, 100 + seed, sizes=SIZES, per_param=[2, 20, 200])
        fit = fit_loss_law(n, d, loss, n_bootstrap=n_bootstrap, seed=seed)
        for pred, value in zip(fit.predict(targets_n, targets_d), truth, strict=True):
            covered.append(pred.lower <= value <= pred.upper)
            widths.append((pred.upper - pred.lower) / pred.predicted)
    return float(np.mean(covered)), float(np.median(widths))


def test_intervals_cover_the_true_law_over_a_few_draws():
    """Tolerance: at least 75 % of 16 intervals (4 draws x 4 targets) at the 90 % level, and
    not trivially wide (median width under 12 % of the prediction)."""
    coverage, width = coverage_over_draws(4, 20)
    assert coverage >= 0.75
    assert width < 0.12


@pytest.mark.slow
def test_intervals_cover_the_true_law_over_many_draws():
    """40 draws with the default bootstrap: coverage of the 90 % intervals in [80 %, 100 %]
    (the interval takes the larger of the bootstrap and the jackknife, so it errs wide) and
    median width under 12 %."""
    coverage, width = coverage_over_draws(40, 200)
    assert 0.8 <= coverage <= 1.0
    assert width < 0.12


def test_intervals_widen_with_noise_and_with_level():
    n, d, quiet = draw(0.001, 7)
    _, _, loud = draw(0.02, 7)
    narrow = fit_loss_law(n, d, quiet, n_bootstrap=20).predict(1e9, 2e10)
    wide_fit = fit_loss_law(n, d, loud, n_bootstrap=20)
    wide = wide_fit.predict(1e9, 2e10)
    assert (wide.upper - wide.lower) > 3 * (narrow.upper - narrow.lower)
    at_99 = wide_fit.predict(1e9, 2e10, level=0.99)
    assert at_99.lower < wide.lower and at_99.upper > wide.upper


def test_evaluation_error_enters_the_interval():
    n, d, loss = draw(0.001, 8)
    plain = fit_loss_law(n, d, loss, n_bootstrap=20).predict(1e9, 2e10)
    with_se = fit_loss_law(n, d, loss, loss_se=0.03 * loss, n_bootstrap=20).predict(1e9, 2e10)
    # LAW_A 3 % standard error of the target's own measurement alone spans about +-5 % at 90 %.
    assert with_se.upper / with_se.predicted - 1 > 0.045
    assert (with_se.upper - with_se.lower) > 2 * (plain.upper - plain.lower)


def test_groups_are_resampled_together():
    """Five budgets of one run share a group: 4 groups instead of 20 bootstrap units."""
    n, d, loss = draw(0.003, 9)
    fit = fit_loss_law(n, d, loss, groups=n.astype(int), n_bootstrap=10)
    assert fit.n_groups == 4 and fit.n_points == 20
    assert "groups" in fit.to_dict()["method"]


# ---------------------------------------------------------------------------------------
# one-variable forms


def test_params_form_is_chosen_when_tokens_are_constant():
    n = np.repeat(np.geomspace(1e6, 1e8, 5), 3)
    d = np.full(n.size, 5e8)
    loss = law(n, d) * np.exp(0.002 * np.random.default_rng(3).standard_normal(n.size))
    fit = fit_loss_law(n, d, loss, n_bootstrap=10)
    assert fit.form == "params" and not fit.degenerate, fit.reason
    assert fit.B is None and fit.beta is None
    assert fit.alpha == pytest.approx(LAW_ALPHA, abs=0.05)
    assert pytest.approx(LAW_E + LAW_B / 5e8**LAW_BETA, rel=0.05) == fit.E  # the data term joins E
    pred = fit.predict(3e8, 5e8)
    assert pred.predicted == pytest.approx(float(law(3e8, 5e8)), rel=0.01)
    assert pred.warnings == ()
    other_budget = fit.predict(3e8, 5e9)
    assert "lie outside the runs" in other_budget.warnings[0]


def test_tokens_form_without_params():
    d = np.geomspace(1e8, 1e11, 7)
    loss = law(1e8, d)
    fit = fit_loss_law(None, d, loss, n_bootstrap=10)
    assert fit.form == "tokens" and not fit.degenerate, fit.reason
    assert fit.A is None and fit.beta == pytest.approx(LAW_BETA, abs=1e-3)
    assert fit.predict(tokens=1e12).predicted == pytest.approx(float(law(1e8, 1e12)), rel=1e-3)


def test_forcing_a_form_that_ignores_a_varying_variable_warns():
    n, d, loss = draw(0.0, 4)
    fit = fit_loss_law(n, d, loss, form="params", n_bootstrap=5)
    assert fit.form == "params"
    assert any("tokens vary" in w for w in fit.warnings)


# ---------------------------------------------------------------------------------------
# honest edges


def test_two_sizes_are_too_few_for_the_two_variable_law():
    n, d, loss = draw(0.003, 5, sizes=SIZES[[0, 3]])
    fit = fit_loss_law(n, d, loss, n_bootstrap=10)
    assert fit.degenerate
    assert "2 distinct sizes" in fit.reason and fit.reason in fit.warnings
    pred = fit.predict(1e9, 2e10)
    # As wide as the evidence: up to the best run the target dominates at least.
    assert pred.upper >= loss.min()


def test_three_sizes_are_too_few_for_a_one_variable_law():
    n = np.repeat([1e6, 1e7, 1e8], 3)
    fit = fit_loss_law(n, np.full(n.size, 1e9), law(n, 1e9), n_bootstrap=10)
    assert fit.form == "params" and fit.degenerate
    assert "3 distinct sizes" in fit.reason


def test_sizes_a_few_embedding_rows_apart_are_one_size():
    n = np.array([131_762, 131_890, 131_954, 300_000, 300_100, 700_000, 1_500_000])
    fit = fit_loss_law(n, np.full(n.size, 1e7), law(n, 1e7), n_bootstrap=5)
    assert fit.n_sizes == 4


def test_loss_without_a_trend_is_not_monotone_and_gets_the_observed_range():
    rng = np.random.default_rng(6)
    n, d, _ = draw(0.0, 0)
    loss = 3.0 + 0.05 * rng.standard_normal(n.size)
    fit = fit_loss_law(n, d, loss, n_bootstrap=10)
    assert fit.degenerate and "not monotone" in fit.reason
    pred = fit.predict(1e9, 2e10)
    assert pred.lower <= loss.min() and pred.upper >= loss.max()


def test_a_prediction_worse_than_runs_the_target_dominates_is_capped_at_their_mean():
    # Early training: every run's loss drops sharply at its last budget, which no
    # L(N, D) power law can follow; extrapolated, the law predicts a larger model worse
    # than the largest size already did at the same budget.
    rng = np.random.default_rng(0)
    n, d, loss, groups = [], [], [], []
    for size in (2e4, 2e5, 9e5):
        for variant in range(3):
            for budget in (1e5, 2e5, 4e5, 8e5):
                value = 7.5 - 0.3 * np.log2(budget / 1e5) - 0.15 * np.log10(size / 2e4)
                value -= 0.8 if budget == 8e5 else 0.0
                n.append(size)
                d.append(budget)
                loss.append(value * (1 + 0.005 * rng.standard_normal()))
                groups.append(f"{size}-{variant}")
    fit = fit_loss_law(n, d, loss, groups=groups, n_bootstrap=20)
    pred = fit.predict(3.6e6, 8e5)
    best = np.mean([v for v, s, b in zip(loss, n, d, strict=True) if s == 9e5 and b == 8e5])
    assert pred.capped_at == pytest.approx(best) and pred.predicted == pytest.approx(best)
    assert pred.lower < best < pred.upper
    assert any("contradicts its own evidence" in w for w in pred.warnings)
    # A target that dominates no run has nothing to be capped by.
    assert fit.predict(1e4, 5e4).capped_at is None


def test_a_pure_power_law_has_no_floor():
    n, d, _ = draw(0.0, 0)
    loss = LAW_A / n**LAW_ALPHA + LAW_B / d**LAW_BETA  # LAW_E = 0
    fit = fit_loss_law(n, d, loss, n_bootstrap=10)
    assert fit.degenerate and "lower bound" in fit.reason


def test_a_failed_optimisation_predicts_nothing(monkeypatch):
    from synthos.cascade import loss_law

    monkeypatch.setattr(loss_law, "_minimise", lambda *args: None)
    n, d, loss = draw(0.0, 0)
    fit = fit_loss_law(n, d, loss, n_bootstrap=5)
    assert fit.degenerate and fit.E is None and fit.fit_quality is None
    pred = fit.predict(1e9, 2e10)
    assert (pred.predicted, pred.lower, pred.upper) == (None, None, None)
    assert fit.to_dict()["parameters"]["E"] is None
    json.dumps(fit.to_dict(), allow_nan=False)


def test_bad_inputs_are_data_errors():
    n, d, loss = draw(0.0, 0)
    with pytest.raises(DataError) as few:
        fit_loss_law(n[:2], d[:2], loss[:2])
    assert few.value.code == ErrorCode.DATA_EMPTY
    with pytest.raises(DataError) as negative:
        fit_loss_law(np.r_[-1.0, n[1:]], d, loss)
    assert negative.value.code == ErrorCode.DATA_VALUE
    with pytest.raises(DataError):
        fit_loss_law(n, d[:-1], loss)
    with pytest.raises(DataError):
        fit_loss_law(n, d, np.r_[0.0, loss[1:]])
    with pytest.raises(DataError):
        fit_loss_law(np.full(5, 1e6), np.full(5, 1e9), np.full(5, 3.0))
    with pytest.raises(ValueError):
        fit_loss_law(n, d, loss, n_bootstrap=0).predict(1e9, 2e10, level=1.5)


def test_runs_without_a_loss_are_left_out_with_a_warning():
    n, d, loss = draw(0.0, 0)
    loss = loss.copy()
    loss[[3, 7]] = np.nan
    fit = fit_loss_law(n, d, loss, n_bootstrap=5)
    assert fit.n_points == 18
    assert "2 run(s) without a finite loss left out" in fit.warnings


def test_to_dict_is_strict_json():
    n, d, loss = draw(0.003, 1)
    payload = fit_loss_law(n, d, loss, n_bootstrap=5).to_dict()
    text = json.dumps(payload, allow_nan=False)
    back = json.loads(text)
    assert back["form"] == "params_tokens" and back["degenerate"] is False
    assert set(back["parameters"]) == {"E", "A", "alpha", "B", "beta"}
    assert back["fit_quality"]["loso_mare"] is not None


# ---------------------------------------------------------------------------------------
# the command


@pytest.fixture
def runs_csv(tmp_path):
    n, d, loss = draw(0.002, 11)
    path = tmp_path / "runs.csv"
    lines = ["name,params,tokens,loss"]
    rows = zip(n, d, loss, strict=True)
    lines += [f"r{i},{int(a)},{int(b)},{float(c)!r}" for i, (a, b, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_json_predicts_the_known_law(runs_csv, capsys):
    code = main(
        [
            "scaling",
            "predict",
            str(runs_csv),
            "--metric",
            "loss",
            "--target",
            "1e9:2e10",
            "--target",
            "600000000:12000000000",
            "--bootstrap",
            "20",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    preds = payload["predictions"]
    assert [(p["params"], p["tokens"]) for p in preds] == [(1e9, 2e10), (6e8, 1.2e10)]
    for p in preds:
        truth = float(law(p["params"], p["tokens"]))
        assert pytest.approx(truth, rel=0.02) == p["predicted"]
        assert p["lower"] < p["predicted"] < p["upper"] < 1.1 * p["lower"]
        assert p["level"] == 0.9
    assert payload["fit"]["form"] == "params_tokens"
    assert payload["fit"]["parameters"]["alpha"] == pytest.approx(LAW_ALPHA, abs=0.05)


def test_cli_table_shows_the_prediction(runs_csv, capsys):
    argv = ["scaling", "predict", str(runs_csv), "--metric", "loss"]
    assert main([*argv, "--target", "1000000000:20000000000", "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    assert "L = E + A / N^alpha + B / D^beta" in out and "degenerate   no" in out
    row = next(line for line in out.splitlines() if line.split()[:2] == ["1e+09", "2e+10"])
    predicted, lower, upper = (float(x) for x in row.split()[2:5])
    truth = float(law(1e9, 2e10))
    assert pytest.approx(truth, rel=0.02) == predicted
    assert lower < predicted < upper < 1.1 * lower


BAD_TABLES = {
    "neg.csv": "params,tokens,loss\n1e6,1e8,4\n-2e6,1e8,3.9\n4e6,1e8,3\n",
    "two.csv": "params,tokens,loss\n1e6,1e8,4\n2e6,2e8,3.5\n",
}


@pytest.mark.parametrize(
    ("table", "metric", "target", "code", "words"),
    [
        ("absent.csv", "loss", "1e9:2e10", 1001, "not found"),
        (None, "nope", "1e9:2e10", 1003, "nope"),
        (None, "name", "1e9:2e10", 1003, "not numeric"),
        ("neg.csv", "loss", "1e9:2e10", 1005, "params must be finite and positive"),
        ("two.csv", "loss", "1e9:2e10", 1004, "2 usable run(s)"),
        (None, "loss", "1e9", 1005, "bad --target"),
        (None, "loss", "1e9:-5", 1005, "bad --target"),
        (None, "loss", "big:1e9", 1005, "bad --target"),
    ],
)
def test_cli_bad_input_is_one_data_error_line(
    tmp_path, runs_csv, capsys, table, metric, target, code, words
):
    path = runs_csv if table is None else tmp_path / table
    if table in BAD_TABLES:
        path.write_text(BAD_TABLES[table], encoding="utf-8")
    argv = ["scaling", "predict", str(path), "--metric", metric, "--target", target]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error [{code} ")
    assert words in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_cli_level_outside_zero_one_is_a_data_error(runs_csv, capsys):
    argv = ["scaling", "predict", str(runs_csv), "--metric", "loss", "--target", "1e9:2e10"]
    assert main([*argv, "--level", "90"]) == 1
    assert capsys.readouterr().err.startswith("error [1005 ")


def test_table_notes_say_null_when_there_is_no_answer(monkeypatch, runs_csv, capsys):
    from synthos.cascade import loss_law

    monkeypatch.setattr(loss_law, "_minimise", lambda *args: None)
    argv = ["scaling", "predict", str(runs_csv), "--metric", "loss", "--target", "1e9:2e10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split()[:2] == ["1e+09", "2e+10"])
    assert row.split()[2:5] == ["null", "null", "null"]
    assert "no finite optimum" in out
