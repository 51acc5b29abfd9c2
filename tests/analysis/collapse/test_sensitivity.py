"""The smallest detectable effect each dimension reports, from its own noise model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from synthos.analysis.collapse import DIMENSIONS, CollapseConfig, detect_collapse
from synthos.analysis.collapse.marginals import MEAN_SCALE
from synthos.analysis.collapse.sensitivity import needed_excess

THRESHOLD = 70.0


def _config() -> CollapseConfig:
    return CollapseConfig(thresholds=dict.fromkeys(DIMENSIONS, THRESHOLD), modality_thresholds={})


def _gaussian(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])


def _effect(result, dimension: str, name: str) -> float:
    found = {e["effect"]: e for e in result.dimension(dimension).evidence["sensitivity"]}
    return found[name]["value"]


@pytest.fixture(scope="module")
def two_sizes():
    """The same clean comparison at 300 and 3,000 rows a side."""
    return {
        n: detect_collapse(_gaussian(n, 1), _gaussian(n, 2), config=_config()) for n in (300, 3000)
    }


def test_detectable_mean_shift_shrinks_as_one_over_root_n(two_sizes):
    floor = needed_excess(MEAN_SCALE, THRESHOLD)  # the excess the threshold allows
    small = _effect(two_sizes[300], "distribution_fidelity", "mean_shift") - floor
    large = _effect(two_sizes[3000], "distribution_fidelity", "mean_shift") - floor
    # z standard errors of a mean difference: sqrt(1/n + 1/m), ten times the rows
    assert small / large == pytest.approx(math.sqrt(10), rel=0.1)


def test_every_rate_and_spread_tightens_with_more_rows(two_sizes):
    small, large = two_sizes[300], two_sizes[3000]
    for dimension, name in [
        ("distribution_fidelity", "spread_ratio"),
        ("correlation_preservation", "correlation_change"),
        ("memorization", "near_copies"),
        ("generalization_gap", "discriminator_auc"),
        ("spectral_coherence", "eigen_spectrum_change"),
    ]:
        assert _effect(large, dimension, name) < _effect(small, dimension, name), name
    # a narrowing must be smaller to pass unseen: the ratio that passes rises toward 1
    assert _effect(large, "entropy_stability", "spread_ratio") > _effect(
        small, "entropy_stability", "spread_ratio"
    )


def test_a_shift_just_beyond_the_reported_one_fails(two_sizes):
    shift = _effect(two_sizes[300], "distribution_fidelity", "mean_shift")
    cand, ref = _gaussian(300, 1), _gaussian(300, 2)
    moved = cand + 1.15 * shift * ref.std()
    assert detect_collapse(moved, ref, config=_config()).dimension("distribution_fidelity").failed


def test_the_summary_says_what_a_pass_rules_out(two_sizes):
    summary = two_sizes[300].summary()
    line = next(x for x in summary.splitlines() if "distribution_fidelity" in x)
    assert "PASS" in line and "no mean shift above" in line
