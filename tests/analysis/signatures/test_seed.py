"""The bundled patterns do what they claim, and seeding stores each with its outcome."""

from __future__ import annotations

import numpy as np
import pytest

from synthos.analysis.signatures import SignatureLibrary, collapse_type_of, seed_library
from synthos.analysis.signatures.patterns import bases, known_patterns, split
from synthos.analysis.signatures.seed import families


@pytest.fixture(scope="module")
def wine_cases():
    return {case.name: case for case in known_patterns(4, names=("wine",))}


def test_every_tabular_family_at_three_strengths_plus_clean_splits(wine_cases):
    found = {}
    for case in wine_cases.values():
        found.setdefault(case.family, set()).add(case.strength)
    assert found.pop("clean") == {0}
    assert len(found) == 10 and all(strengths == {1, 2, 3} for strengths in found.values())
    assert all(
        case.modality == "tabular" and case.reference is not None for case in wine_cases.values()
    )


def by_family(cases, family, strength):
    return next(c for c in cases.values() if c.family == family and c.strength == strength)


def test_defects_change_the_data_as_documented(wine_cases):
    duplicated = by_family(wine_cases, "exact_duplicates", 3).candidate
    assert duplicated.duplicated().mean() == pytest.approx(0.3, abs=0.03)
    memorised = by_family(wine_cases, "memorized_copies", 2)
    reference_rows = set(map(tuple, memorised.reference.to_numpy()))
    copied = np.mean([tuple(row) in reference_rows for row in memorised.candidate.to_numpy()])
    assert copied == pytest.approx(0.15, abs=0.02)
    clipped = by_family(wine_cases, "tail_truncation", 3)
    column = "alcohol"
    low, high = clipped.reference[column].quantile([0.1, 0.9])
    assert clipped.candidate[column].between(low - 1e-9, high + 1e-9).all()
    modes = by_family(wine_cases, "mode_collapse", 3)
    assert len(modes.candidate) < 0.75 * len(modes.reference)
    shrunk = by_family(wine_cases, "variance_shrinkage", 3).candidate
    clean = next(c for c in wine_cases.values() if c.family == "clean").candidate
    assert shrunk[column].std() < 0.6 * clean[column].std()


def test_series_splits_keep_time_order_and_smoothing_smooths():
    cases = list(known_patterns(4, names=("elnino",)))
    smooth = next(c for c in cases if c.family == "smoothing" and c.strength == 3)
    assert smooth.modality == "time_series"
    assert smooth.candidate["date"].is_monotonic_increasing
    assert (
        np.abs(np.diff(smooth.candidate["sst"])).mean()
        < 0.6 * np.abs(np.diff(smooth.reference["sst"])).mean()
    )
    ref, hold = split(next(bases(("elnino",))), 0)
    assert len(ref) + len(hold) <= 732 and ref["date"].is_monotonic_increasing
    assert not set(ref["sst"].round(6)) >= set(hold["sst"].round(6))


def test_seeding_stores_each_case_with_its_outcome(wine_cases, tmp_path):
    library = SignatureLibrary(tmp_path / "seeded.h5")
    chosen = [c for c in wine_cases.values() if c.strength in (0, 3)]
    snapshot = seed_library(library, chosen)
    assert len(snapshot) == len(chosen)
    counts = families(snapshot)
    assert counts["clean"] == 4 and counts["exact_duplicates"] == 1
    for record, case in zip(snapshot.records, chosen, strict=True):
        outcome = record["outcome"]
        assert outcome["collapse_detected"] == (case.family != "clean")
        assert outcome["collapse_type"] == collapse_type_of(case.family, "tabular")
        assert outcome["label"]["family"] == case.family
        assert record["provenance"]["dataset"]["path"] == case.name
    assert snapshot.has_relative.all()


def test_collapse_types_follow_the_verdict_vocabulary():
    assert collapse_type_of("clean", "tabular") is None
    assert collapse_type_of("near_duplicates", "text") == "memorization"
    assert collapse_type_of("recursive_resampling", "tabular") == "mode_collapse"
    assert collapse_type_of("recursive_resampling", "time_series") == "structure_loss"
    assert collapse_type_of("mean_shift", "tabular") == "distribution_shift"
