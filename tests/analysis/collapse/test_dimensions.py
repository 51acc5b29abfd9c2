"""Each dimension on real data: a clean split passes, the defect it exists for fails."""

from __future__ import annotations

import pytest

from synthos.analysis.collapse import DIMENSIONS

REFERENCE_DIMENSIONS = [d for d in DIMENSIONS if d != "training_stability"]

# (modality, defect, dimension that must fail)
DEFECTS = [
    ("tabular", "mean_shift", "distribution_fidelity"),
    ("tabular", "shuffle_columns", "correlation_preservation"),
    ("tabular", "shrink_variance", "entropy_stability"),
    ("tabular", "truncate_tails", "tail_preservation"),
    ("tabular", "copy_reference", "memorization"),
    ("tabular", "shrink_variance", "spectral_coherence"),
    ("tabular", "random_labels", "generalization_gap"),
    ("text", "repeat_phrases", "distribution_fidelity"),
    ("text", "shuffle_words", "correlation_preservation"),
    ("text", "repeat_phrases", "entropy_stability"),
    ("text", "common_words_only", "tail_preservation"),
    ("text", "copy_reference_docs", "memorization"),
    ("text", "common_words_only", "spectral_coherence"),
    ("text", "shuffle_words", "generalization_gap"),
    ("time_series", "scale_steps", "distribution_fidelity"),
    ("time_series", "smooth_series", "correlation_preservation"),
    ("time_series", "smooth_series", "entropy_stability"),
    ("time_series", "clip_steps", "tail_preservation"),
    ("time_series", "copy_reference_stretch", "memorization"),
    ("time_series", "smooth_series", "spectral_coherence"),
    ("time_series", "smooth_series", "generalization_gap"),
]


@pytest.mark.parametrize("modality", ["tabular", "text", "time_series"])
def test_clean_split_passes_every_dimension(detected, modality):
    result = detected(modality, "clean")
    assert result.dataset["modality"] == modality
    assert not result.collapse_detected, result.summary()
    for name in REFERENCE_DIMENSIONS:
        dim = result.dimension(name)
        assert dim.evaluated and dim.passed, (name, dim.score, dim.evidence)
    assert result.severity == "none"
    assert result.root_causes == [] and result.collapse_type is None


@pytest.mark.parametrize(("modality", "defect", "dimension"), DEFECTS)
def test_injected_defect_fails_its_dimension(detected, modality, defect, dimension):
    result = detected(modality, defect)
    dim = result.dimension(dimension)
    assert dim.evaluated and dim.passed is False, (dim.score, dim.threshold)
    assert dim.score < result.dimension(dimension).threshold
    assert result.collapse_detected
    assert result.severity != "none"
    assert abs(sum(c["percentage"] for c in result.root_causes) - 100.0) < 0.05


@pytest.mark.parametrize(
    ("modality", "defect", "collapse_type"),
    [
        ("tabular", "copy_reference", "memorization"),
        ("tabular", "shuffle_columns", "correlation_loss"),
        ("tabular", "mean_shift", "distribution_shift"),
        ("tabular", "shrink_variance", "mode_collapse"),
        ("time_series", "smooth_series", "structure_loss"),
        ("text", "shuffle_words", "correlation_loss"),
    ],
)
def test_collapse_type_names_the_defect(detected, modality, defect, collapse_type):
    assert detected(modality, defect).collapse_type == collapse_type


def test_copies_are_counted_over_every_row(detected):
    evidence = detected("tabular", "copy_reference").dimension("memorization").evidence
    assert evidence["exact_copy_rate"] == 1.0
    assert evidence["rows_hashed"]["candidate"] == 284
    clean = detected("tabular", "clean").dimension("memorization").evidence
    assert clean["exact_copy_rate"] == 0.0


def test_evidence_is_plain_json(detected):
    import json

    result = detected("text", "clean")
    json.dumps(result.to_report(), allow_nan=False)
    assert result.sample_sizes["candidate_sample"] == 500
    assert result.sample_sizes["reference_sample"] + result.sample_sizes["holdout_sample"] == 1000
