"""Noise allowances that decide what counts: effective sizes, moment shifts, target dependence,
levels of a stationary series, mode bins, piles on a clipped boundary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthos.analysis.collapse import score_dimension
from synthos.analysis.collapse.dimensions.tail_preservation import _piles
from synthos.analysis.collapse.stats import (
    MomentErrors,
    effective_size,
    joint_mean_shift,
    mean_size,
    moment_shift,
)


def _ar(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + rng.normal()
    return out


def test_autocorrelated_values_count_for_fewer_draws():
    white = effective_size(np.random.default_rng(0).normal(size=4000))
    slow = effective_size(_ar(4000, 0.9, 1))
    assert 0.8 * 4000 < white <= 4000
    # AR(1) with phi 0.9: n (1 - phi) / (1 + phi) ~ 210 independent draws
    assert 100 < slow < 400


def test_a_seasonal_cycle_does_not_count_against_a_mean():
    """Whole cycles add nothing to the error of a mean: the long-run variance sees their
    negative autocorrelations cancel the positive ones, Geyer's positive stretch does not."""
    t = np.arange(2400)
    seasonal = 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(11).normal(size=t.size)
    assert effective_size(seasonal) < 0.5 * t.size
    assert mean_size(seasonal) > 0.9 * t.size
    # without a cycle both count a slow AR(1) near n (1 - phi) / (1 + phi) ~ 210 draws
    assert 100 < mean_size(_ar(4000, 0.9, 1)) < 400


def test_moment_shift_sees_a_moved_or_rescaled_sample_but_not_noise():
    rng = np.random.default_rng(2)
    ref, same = rng.normal(size=3000), rng.normal(size=3000)
    assert moment_shift(same, ref, 3.0)["mean_excess"] == 0.0
    assert moment_shift(same, ref, 3.0)["scale_excess"] == 0.0
    assert moment_shift(same + 0.3, ref, 3.0)["mean_excess"] > 0.1
    assert moment_shift(1.3 * same, ref, 3.0)["scale_excess"] > 0.1
    # the same shift is within noise when the values are 100 times fewer draws' worth
    assert moment_shift(same + 0.3, ref, 3.0, MomentErrors((30, 30)))["mean_excess"] == 0.0


def test_flipped_labels_break_the_target_dependence(table_pair):
    cand, ref = table_pair
    clean = score_dimension("correlation_preservation", cand, ref)
    assert clean.evidence["target_dependence"]["score"] == 100.0
    flipped = cand.copy()
    target = flipped.columns[-1]
    rows = np.random.default_rng(4).choice(len(flipped), len(flipped) // 4, replace=False)
    labels = sorted(flipped[target].unique())
    flipped.loc[rows, target] = [
        labels[(labels.index(v) + 1) % len(labels)] for v in flipped.loc[rows, target]
    ]
    dim = score_dimension("correlation_preservation", flipped, ref)
    dependence = dim.evidence["target_dependence"]
    assert dependence["candidate"] > dependence["holdout"] + 0.15
    assert dependence["relative_gap"] > 0 and dim.score < 60


def _series(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"t": np.arange(values.size), "value": values})


def test_level_shift_of_a_stationary_series_is_seen():
    ref, cand = _ar(2000, 0.8, 5), _ar(1000, 0.8, 6)
    clean = score_dimension("distribution_fidelity", _series(cand), _series(ref))
    assert "value (level)" in clean.evidence["columns"], "levels of a stationary series compared"
    assert clean.score == 100.0, clean.evidence
    moved = score_dimension(
        "distribution_fidelity", _series(cand + ref.std()), _series(ref), modality="time_series"
    )
    level = moved.evidence["columns"]["value (level)"]
    assert level["mean_excess"] > 0 and moved.score < 50
    # increments do not move with the level: the level comparison is what sees it
    assert moved.evidence["columns"]["value"]["score"] == 100.0


def test_a_drifting_series_is_judged_against_its_own_drift():
    """Two stretches of a trending series differ in level; a candidate stretch that differs
    no more than the reference's own two do is not a shift."""
    trend = np.arange(4500) * 0.05
    series = _ar(4500, 0.5, 7) + trend
    ref, cand = _series(series[:3000]), _series(series[3000:])
    dim = score_dimension("distribution_fidelity", cand, ref, modality="time_series")
    assert dim.evidence["columns"]["value (level)"]["score"] == 100.0, dim.evidence
    assert "levels (joint mean)" not in dim.evidence["columns"]  # levels not stationary
    assert dim.score == 100.0


def test_a_small_shift_shared_by_many_columns_adds_up():
    rng = np.random.default_rng(8)
    ref, same = rng.normal(size=(400, 20)), rng.normal(size=(400, 20))
    moved = same + 0.15
    assert joint_mean_shift(same, ref, 3.0)["mean_excess"] == 0.0
    assert joint_mean_shift(moved, ref, 3.0)["mean_excess"] > 0.1
    # most columns' own tests do not see a 0.15 sd shift at 400 rows a side
    seen = sum(moment_shift(moved[:, j], ref[:, j], 3.0)["mean_excess"] > 0 for j in range(20))
    assert seen <= 8
    assert joint_mean_shift(moved[:, :1], ref[:, :1], 3.0) is None  # one column: its own test


def test_a_forecaster_trained_on_the_candidate_is_tested_window_by_window():
    """One channel: each test window's error is its own (one channel's predictions must
    not broadcast against the targets). Increments with the opposite dynamics forecast
    real steps far worse; another stretch of the same process does not."""
    ref = np.cumsum(_ar(1200, 0.8, 21))
    same, opposite = np.cumsum(_ar(600, 0.8, 22)), np.cumsum(_ar(600, -0.8, 23))
    clean = score_dimension("generalization_gap", _series(same), _series(ref))
    assert clean.evidence["transfer"]["relative_gap"] < 0.05 and clean.passed, clean.evidence
    flipped = score_dimension("generalization_gap", _series(opposite), _series(ref))
    transfer = flipped.evidence["transfer"]
    assert transfer["train_synthetic_test_real"] > 2 * transfer["train_real_test_real"]
    assert transfer["relative_gap"] > 0.5 and not flipped.passed


def test_a_calm_stretch_of_a_regime_switching_series_is_not_lost_diversity():
    """Increments switch between calm and turbulent blocks; a real stretch with more calm
    blocks is narrower, as any stretch of such a series may be. Entropy and spread allow
    for it as distribution_fidelity does (spread of the log sd over blocks), while a
    shrunken copy of the whole reference is still seen."""
    rng = np.random.default_rng(31)

    def stretch(scales: list[float]) -> np.ndarray:
        return np.cumsum(np.concatenate([rng.normal(scale=s, size=100) for s in scales]))

    ref = stretch([0.5, 2.0] * 5)
    calm = score_dimension(
        "entropy_stability", _series(stretch([0.5, 0.5, 2, 0.5, 0.5])), _series(ref)
    )
    column = calm.evidence["statistics"]["value"]
    assert column["std_ratio"] < 0.7 and column["score"] > 90, column
    shrunk = score_dimension(
        "entropy_stability", _series(0.4 * stretch([0.5, 2.0] * 3)), _series(ref)
    )
    assert shrunk.evidence["statistics"]["value"]["score"] < 50


def _table(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(values, columns=[f"x{j}" for j in range(values.shape[1])])


def test_a_spread_change_shared_by_many_columns_adds_up():
    rng = np.random.default_rng(9)
    ref, same = rng.normal(size=(400, 12)), rng.normal(size=(400, 12))
    clean = score_dimension("distribution_fidelity", _table(same), _table(ref))
    assert clean.evidence["columns"]["numeric columns (joint spread)"]["mean_excess"] == 0.0
    wider = score_dimension("distribution_fidelity", _table(1.15 * same), _table(ref))
    joint = wider.evidence["columns"]["numeric columns (joint spread)"]
    assert joint["mean_excess"] > 0 and joint["score"] < 80
    # few columns' own spread tests see a 15 % wider spread at 400 rows a side
    own = [wider.evidence["columns"][f"x{j}"]["scale_excess"] > 0 for j in range(12)]
    assert sum(own) <= 4


def _clean_and_collapsed(sample, rows: int, whole, collapsed):
    """entropy_stability of a clean sample (`sample(rows, whole)`) and of a collapsed one
    (`sample(rows, collapsed)`) against one reference drawn like the clean sample (drawn
    first, then the clean sample, then the collapsed one)."""
    ref = _table(sample(rows, whole))
    clean = score_dimension("entropy_stability", _table(sample(rows, whole)), ref)
    return clean, score_dimension("entropy_stability", _table(sample(rows, collapsed)), ref)


def test_a_dropped_mode_shrinks_the_spread_along_its_axis():
    """Two clusters along one direction of correlated columns; the candidate keeps only the
    larger one: its spread along that axis collapses, no single column shows it as clearly."""
    rng = np.random.default_rng(10)

    def sample(n: int, minor_share: float) -> np.ndarray:
        major = rng.random(n) >= minor_share
        direction = np.where(major, 0.0, 2.5)[:, None] * np.ones((1, 6)) / np.sqrt(6)
        return rng.normal(size=(n, 6)) + direction

    clean, collapsed = _clean_and_collapsed(sample, 600, 0.25, 0.0)
    assert clean.evidence["principal_axes"]["deficit"] == 0.0
    assert clean.passed, clean.evidence
    axes = collapsed.evidence["principal_axes"]
    assert axes["deficit"] > 0 and axes["axes"][0]["std_ratio"] < 0.9
    assert collapsed.score < 90


def test_a_dropped_mode_empties_its_bins():
    """Eight clusters at the corners of a cube; the candidate lacks one of them (an eighth
    of the mass). Each column keeps its spread, the principal axis toward the missing
    corner loses some; the mode bins see a bin emptied, the clearest sign of the three."""
    rng = np.random.default_rng(12)
    corners = np.array([[x, y, z] for x in (-3, 3) for y in (-3, 3) for z in (-3, 3)])

    def sample(n: int, kept: int) -> np.ndarray:
        return corners[rng.integers(0, kept, size=n)] + rng.normal(size=(n, 3))

    clean, collapsed = _clean_and_collapsed(sample, 800, 8, 7)
    assert clean.evidence["modes"]["lost_mass"] == 0.0
    assert clean.passed, clean.evidence
    modes = collapsed.evidence["modes"]
    assert modes["depleted_bins"] >= 1 and modes["lost_mass"] > 0.05
    assert not collapsed.passed
    assert collapsed.evidence["principal_axes"]["score"] > collapsed.score
    column_scores = [c["score"] for c in collapsed.evidence["statistics"].values()]
    assert min(column_scores) > collapsed.score


def test_a_wider_spread_is_not_a_lost_mode():
    """A cloud 1.25 times wider empties its central bin beyond noise too, by moving rows
    off the reference's support: the support part's lost precision explains that mass
    (a widening is distribution_fidelity's business), while a dropped mode keeps its
    precision (above)."""
    rng = np.random.default_rng(13)
    ref = rng.normal(size=(800, 3))
    wider = score_dimension(
        "entropy_stability", _table(1.25 * rng.normal(size=(800, 3))), _table(ref)
    )
    modes = wider.evidence["modes"]
    assert modes["lost_mass"] > 0.03 and modes["explained_by_lost_precision"] > 0.03, modes
    assert modes["unexplained_lost_mass"] < 0.5 * modes["lost_mass"] and wider.passed


def test_the_candidate_is_compared_with_every_reference_row(table_pair):
    """The holdout is compared with the rest of the reference; the candidate with all of it
    (the noise allowance shrinks with the rows)."""
    cand, ref = table_pair
    dim = score_dimension("distribution_fidelity", cand, ref)
    column = next(c for c in ref.columns if pd.api.types.is_float_dtype(ref[c]))
    assert dim.evidence["columns"][column]["effective_sizes"] == [len(cand), len(ref)]


def test_a_joint_finding_is_not_averaged_away_by_passing_columns():
    rng = np.random.default_rng(12)
    ref, cand = rng.normal(size=(400, 20)), rng.normal(size=(400, 20)) + 0.15
    dim = score_dimension("distribution_fidelity", _table(cand), _table(ref))
    joint = dim.evidence["columns"]["numeric columns (joint mean)"]
    assert joint["score"] < 90
    assert dim.score <= joint["score"]


def _tail_losses(dim) -> dict[str, float]:
    """Losses of every column part's tail masses and of its boundary piles, apart."""
    out = {"masses": 0.0, "piles": 0.0}
    for part in dim.evidence["parts"].values():
        for name, point in part["tails"].items():
            kind = "piles" if name.startswith("pile") else "masses"
            out[kind] = max(out[kind], point["loss"] or 0.0)
    return out


def test_a_tail_clipped_onto_one_value_is_lost():
    """Clipping at the reference's 2 % and 98 % quantiles leaves too little mass beyond
    any tail cut to be seen at 300 rows, but piles 2 % of the rows on each boundary value
    where a real sample holds one or two."""
    rng = np.random.default_rng(14)
    ref = rng.normal(size=(600, 3))
    clean = score_dimension("tail_preservation", _table(rng.normal(size=(300, 3))), _table(ref))
    lo, hi = np.quantile(ref, [0.02, 0.98], axis=0)
    clipped = np.clip(rng.normal(size=(300, 3)), lo, hi)
    dim = score_dimension("tail_preservation", _table(clipped), _table(ref))
    assert _tail_losses(clean) == {"masses": 0.0, "piles": 0.0} and clean.score == 100.0
    losses = _tail_losses(dim)
    assert losses["masses"] == 0.0 and losses["piles"] > 0.3, losses
    assert dim.evidence["pooled"]["tails"]["piles"]["loss"] > 0.5
    assert dim.score < 60


def test_real_point_masses_on_the_boundary_are_no_pile():
    """Amounts are zero for half the rows, a rounded column has a few rows on its largest
    value: as many rows as a sample of the reference holds there pass."""
    rng = np.random.default_rng(15)

    def sample(n: int) -> pd.DataFrame:
        amount = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2.0, 3.0, n))
        return pd.DataFrame({"amount": amount, "rounded": np.round(rng.normal(size=n), 1)})

    dims = [score_dimension("tail_preservation", sample(300), sample(600)) for _ in range(5)]
    assert all(_tail_losses(d)["piles"] == 0.0 for d in dims)
    piles = dims[0].evidence["parts"]["amount"]["tails"]["pile_at_min"]
    assert piles["candidate_rows"] > 100 and piles["expected_rows"] > 100


def test_expected_rows_on_the_extreme_match_sampling():
    rng = np.random.default_rng(16)
    ref = np.round(rng.normal(size=200), 1)
    draws = rng.choice(ref, size=(20_000, 80))
    at_max = (draws == draws.max(axis=1, keepdims=True)).sum(axis=1)
    at_min = (draws == draws.min(axis=1, keepdims=True)).sum(axis=1)
    piles = _piles(draws[0], ref)
    assert piles["max"]["expected"] == pytest.approx(at_max.mean(), rel=0.03)
    assert piles["min"]["expected"] == pytest.approx(at_min.mean(), rel=0.03)
    # conservative: at least the sampling variance
    assert piles["max"]["variance"] >= at_max.var()
    assert piles["min"]["variance"] >= at_min.var()


def test_a_clipped_series_piles_on_its_boundary():
    """Levels of a drifting series are not compared as tail masses, but a stretch whose
    peaks are cut off at one value is no real stretch."""
    t = np.arange(900)
    rng = np.random.default_rng(17)
    level = 0.01 * t + np.sin(2 * np.pi * t / 50) + 0.3 * rng.normal(size=t.size)
    frame = pd.DataFrame({"t": pd.date_range("2000-01-01", periods=t.size), "y": level})
    ref, cand = frame.iloc[:600].reset_index(drop=True), frame.iloc[600:].reset_index(drop=True)
    clean = score_dimension("tail_preservation", cand, ref, modality="time_series")
    clipped = cand.assign(y=cand["y"].clip(upper=cand["y"].quantile(0.95)))
    dim = score_dimension("tail_preservation", clipped, ref, modality="time_series")
    assert _tail_losses(clean)["piles"] == 0.0
    pile = dim.evidence["parts"]["y (level)"]["tails"]["pile_at_max"]
    assert pile["candidate_rows"] >= 15 and pile["loss"] > 0.5
    assert dim.score < 50


def test_a_common_value_left_as_the_extreme_is_no_pile():
    """Ages in steps of five: the reference holds the rare youngest step, the candidate
    does not (a random split put all six rows on one side); its youngest step holds its
    ordinary share, not a pile. The same share clipped onto a value the reference holds
    once is a pile."""
    from synthos.analysis.collapse.dimensions.tail_preservation import pile_point

    rng = np.random.default_rng(0)
    steps = np.array([22.0, 27.0, 32.0, 37.0, 42.0, 47.0, 52.0, 57.0])
    ref = np.r_[np.full(6, 17.5), rng.choice(steps, 294)]
    cand = rng.choice(steps, 300)
    low = _piles(cand, ref)["min"]
    assert low["value"] == 22.0
    found = pile_point(low["candidate_rows"], low["expected"], low["variance"], 2.5)
    assert found["loss"] == 0.0
    clipped = np.r_[np.full(40, 19.0), rng.normal(40, 8, 260).clip(19.5)]
    reference = np.r_[[19.0], rng.normal(40, 8, 299)]
    pile = _piles(clipped, reference)["min"]
    assert pile_point(pile["candidate_rows"], pile["expected"], pile["variance"], 2.5)["loss"] > 0.5
