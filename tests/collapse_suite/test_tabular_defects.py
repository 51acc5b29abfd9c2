"""Table defect injectors do what they claim and say which rows they touched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.collapse_suite import tabular_defects as tabular
from benchmarks.collapse_suite.recursive import resample_table


def _rng(seed=0):
    return np.random.default_rng(seed)


def _changed_rows(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    differs = np.zeros(len(before), dtype=bool)
    for column in before.columns:
        differs |= before[column].to_numpy() != after[column].to_numpy()
    return np.flatnonzero(differs)


def test_split_is_disjoint_and_stratified(split_of):
    base, split = split_of("wine")
    assert len(split.reference) + len(split.holdout) == len(base.frame)
    key = list(base.frame.columns)
    both = split.reference.merge(split.holdout, on=key)
    assert len(both) == 0
    ref_share = split.reference[base.label].value_counts(normalize=True).sort_index()
    hold_share = split.holdout[base.label].value_counts(normalize=True).sort_index()
    assert np.allclose(ref_share, hold_share, atol=0.02)


@pytest.mark.parametrize("q", [0.02, 0.10])
def test_tail_truncation_removes_mass_beyond_reference_quantiles(split_of, q):
    base, split = split_of("breast_cancer")
    injected = tabular.tail_truncation(split, base, q, _rng())
    out = injected.candidate
    for column in tabular.feature_columns(out, base.label):
        lo, hi = np.quantile(split.reference[column], [q, 1 - q], method="inverted_cdf")
        assert out[column].min() >= lo and out[column].max() <= hi
    assert np.array_equal(injected.defective_rows, _changed_rows(split.holdout, out))
    assert len(injected.defective_rows) > 0


def test_exact_duplicates_at_the_stated_rate(split_of):
    base, split = split_of("breast_cancer")
    rate = 0.15
    injected = tabular.exact_duplicates(split, base, rate, _rng())
    out = injected.candidate
    assert len(out) == len(split.holdout)
    assert len(injected.defective_rows) == round(rate * len(out))
    # every defective row is a copy of an untouched row, and nothing else is duplicated
    duplicated = out.duplicated(keep=False)
    assert duplicated[injected.defective_rows].all()
    untouched = np.setdiff1d(np.arange(len(out)), injected.defective_rows)
    assert not out.iloc[untouched].duplicated().any()
    assert out.iloc[untouched].equals(split.holdout.iloc[untouched])


def test_near_duplicates_are_close_but_not_equal(split_of):
    base, split = split_of("breast_cancer")
    injected = tabular.near_duplicates(split, base, 0.1, _rng())
    out = injected.candidate
    features = tabular.feature_columns(out, base.label)
    scale = split.holdout[features].std().to_numpy()
    values = out[features].to_numpy() / scale
    for row in injected.defective_rows:
        distance = np.abs(values - values[row]).max(axis=1)
        distance[row] = np.inf
        assert 0 < distance.min() < 0.1
    assert not out.duplicated().any()


def test_memorized_copies_are_reference_rows(split_of):
    base, split = split_of("wine")
    injected = tabular.memorized_copies(split, base, 0.3, _rng())
    copied = injected.candidate.iloc[injected.defective_rows]
    assert len(copied.merge(split.reference.drop_duplicates())) == len(copied)
    untouched = np.setdiff1d(np.arange(len(split.holdout)), injected.defective_rows)
    assert len(injected.candidate.iloc[untouched].merge(split.reference)) == 0


def test_correlation_breaking_keeps_marginals_and_breaks_dependence(split_of):
    base, split = split_of("breast_cancer")
    injected = tabular.correlation_breaking(split, base, 1.0, _rng())
    out = injected.candidate
    for column in out.columns:
        assert sorted(out[column]) == sorted(split.holdout[column])
    features = tabular.feature_columns(out, base.label)
    before = np.abs(np.corrcoef(split.holdout[features].to_numpy(), rowvar=False))
    after = np.abs(np.corrcoef(out[features].to_numpy(), rowvar=False))
    off = ~np.eye(len(features), dtype=bool)
    assert after[off].mean() < 0.5 * before[off].mean()


def test_label_noise_flips_exactly_the_defective_rows(split_of):
    base, split = split_of("iris")
    injected = tabular.label_noise(split, base, 0.25, _rng())
    assert np.array_equal(injected.defective_rows, _changed_rows(split.holdout, injected.candidate))
    assert len(injected.defective_rows) == round(0.25 * len(split.holdout))


@pytest.mark.parametrize("factor", [0.6, 1.5])
def test_rescaling_multiplies_the_spread(split_of, factor):
    base, split = split_of("iris")
    injected = tabular.variance_shrinkage(split, base, factor, _rng())
    for column in tabular.feature_columns(split.holdout, base.label):
        ratio = injected.candidate[column].std() / split.holdout[column].std()
        assert ratio == pytest.approx(factor, rel=1e-9)


def test_mean_shift_moves_every_feature_by_reference_sds(split_of):
    base, split = split_of("diabetes")
    injected = tabular.mean_shift(split, base, 0.5, _rng())
    for column in tabular.feature_columns(split.holdout, base.label):
        moved = injected.candidate[column].mean() - split.holdout[column].mean()
        assert moved == pytest.approx(0.5 * split.reference[column].std(), rel=1e-6)


def test_integer_columns_stay_integer(split_of):
    base, split = split_of("penguins")
    injected = tabular.variance_shrinkage(split, base, 0.6, _rng())
    assert injected.candidate.dtypes.equals(split.holdout.dtypes)


def test_mode_collapse_drops_rows_and_counts_them(split_of):
    base, split = split_of("digits")
    weak = tabular.mode_collapse(split, base, 1, _rng())
    strong = tabular.mode_collapse(split, base, 3, _rng())
    assert len(strong.candidate) < len(weak.candidate) < len(split.holdout)
    assert weak.removed_rows == len(split.holdout) - len(weak.candidate)
    assert len(weak.defective_rows) == 0


def test_recursive_resampling_shrinks_variance_over_generations(split_of):
    base, split = split_of("digits")
    features = tabular.feature_columns(split.holdout, base.label)

    def variance_ratio(generations):
        ratios = [
            (
                resample_table(split.holdout, generations, _rng(seed), exclude=(base.label,))[
                    features
                ].var()
                / split.holdout[features].var()
            ).median()
            for seed in range(2)
        ]
        return float(np.mean(ratios))

    early, late = variance_ratio(5), variance_ratio(40)
    assert late < early < 1.0
    assert late < 0.6
