"""Memorization against real data's own duplication: natural repeats are not copies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthos.analysis.collapse import detect_collapse, score_dimension


def _categorical_rows(n: int, seed: int) -> pd.DataFrame:
    """Three low-cardinality columns: about 60 possible rows, so repeats are the norm."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "black"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "size": rng.choice(["s", "m", "l"], n),
            "grade": rng.choice(list("abcde"), n),
        }
    )


def test_natural_repeats_of_a_larger_candidate_are_not_memorization():
    cand, ref = _categorical_rows(5000, 1), _categorical_rows(1000, 2)
    dim = score_dimension("memorization", cand, ref)
    assert dim.passed, dim.evidence
    evidence = dim.evidence
    assert evidence["matched_duplicate_rate"]["rows"] == 1000  # compared at equal size
    assert evidence["exact_duplicate_rate"] > 0.9  # every row repeats...
    assert evidence["exact_copy_rate"] > 0.9  # ...and meets a reference twin, as real rows do


def test_copied_reference_rows_fail_with_exact_copies(table_pair):
    cand, ref = table_pair
    mixed = pd.concat([cand.iloc[:150], ref.iloc[:100]], ignore_index=True)
    dim = score_dimension("memorization", mixed, ref)
    assert dim.passed is False
    assert dim.evidence["worst"] in ("exact_copies", "near_copies")
    assert dim.evidence["exact_copy_rate"] == 100 / 250


def test_denser_rows_are_not_near_copies(detected):
    """A shrunken variance brings rows closer to everything alike: distance ratios, not raw
    distances, tell a copy."""
    dim = detected("tabular", "shrink_variance").dimension("memorization")
    assert dim.passed, dim.evidence


def test_series_copies_are_judged_on_windows(detected):
    dim = detected("time_series", "copy_reference_stretch").dimension("memorization")
    assert "exact_copy_rate" not in dim.evidence
    assert dim.evidence["worst"] == "copied_segments"
    assert dim.evidence["series_segments"]["copied_steps"]["candidate"] > 0.9


def _ar_series(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = np.zeros(n)
    for t in range(1, n):
        values[t] = 0.7 * values[t - 1] + rng.normal()
    return pd.DataFrame({"t": np.arange(n), "value": values})


def test_series_stretches_pasted_within_the_candidate_are_repeats():
    ref, cand = _ar_series(1200, 1), _ar_series(600, 2)
    clean = score_dimension("memorization", cand, ref, modality="time_series")
    assert clean.evidence["excess"]["repeated_segments"] == 0.0, clean.evidence
    assert clean.evidence["excess"]["copied_segments"] == 0.0, clean.evidence
    pasted = cand.copy()
    for start in (100, 250, 400):  # three 24-step stretches repeat the first one
        pasted.loc[start : start + 23, "value"] = cand["value"].to_numpy()[10:34]
    dim = score_dimension("memorization", pasted, ref, modality="time_series")
    assert dim.evidence["worst"] == "repeated_segments"
    assert dim.evidence["series_segments"]["repeated_steps"]["candidate"] > 0.1
    assert dim.score < clean.score


def test_small_candidates_do_not_fail_on_noise(table_pair):
    cand, ref = table_pair
    result = detect_collapse(cand.iloc[:3], ref)
    assert not result.collapse_detected, result.summary()
    assert not result.dimension("entropy_stability").evaluated
