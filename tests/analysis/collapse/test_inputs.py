"""What the detector compares: missing inputs, self-comparison, mismatched schemas."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.analysis.collapse import DIMENSIONS, CollapseConfig, detect_collapse, score_dimension
from synthos.errors import DataError, ErrorCode

ALONE = {"memorization"}  # evaluated from the candidate alone


def test_without_reference_only_memorization_is_evaluated(table_pair):
    cand, _ = table_pair
    result = detect_collapse(cand)
    for dim in result.dimensions:
        if dim.name in ALONE:
            assert dim.evaluated and dim.passed
        else:
            assert not dim.evaluated
            assert dim.score is None and dim.passed is None
            assert dim.evidence["reason"]
    assert [d.name for d in result.dimensions] == list(DIMENSIONS)
    assert "no reference" in result.dimension("distribution_fidelity").evidence["reason"]
    assert "cascade" in result.dimension("training_stability").evidence["reason"]


def test_without_reference_duplicates_still_fail(table_pair):
    cand, _ = table_pair
    doubled = pd.concat([cand, cand.iloc[:100]], ignore_index=True)
    dim = detect_collapse(doubled).dimension("memorization")
    assert dim.passed is False
    assert dim.evidence["exact_duplicate_rate"] == pytest.approx(100 / len(doubled), abs=1e-6)


def test_same_path_is_no_reference(tmp_path, table_pair):
    path = tmp_path / "data.parquet"
    table_pair[0].to_parquet(path)
    result = detect_collapse(path, str(path))
    assert "same path" in result.notes["self_comparison"]
    assert not result.dimension("distribution_fidelity").evaluated
    assert "candidate itself" in result.dimension("distribution_fidelity").evidence["reason"]
    assert "self_comparison" in result.dimension("memorization").evidence["inputs"]


def test_identical_content_in_another_format_is_no_reference(tmp_path, table_pair):
    cand = table_pair[0]
    cand.to_csv(tmp_path / "copy.csv", index=False)
    shuffled = cand.sample(frac=1.0, random_state=0)  # row order does not hide a copy
    result = detect_collapse(shuffled, tmp_path / "copy.csv")
    assert "identical content" in result.notes["self_comparison"]
    assert result.sample_sizes["reference_rows"] is None
    assert not result.dimension("generalization_gap").evaluated


def test_a_disjoint_half_is_a_reference(table_pair):
    cand, ref = table_pair
    result = detect_collapse(cand, ref)
    assert "self_comparison" not in result.notes
    assert result.dimension("distribution_fidelity").evaluated


def test_mismatched_schemas_compare_common_columns(table_pair):
    cand, ref = table_pair
    ref = ref.drop(columns=["mean radius"]).assign(extra_ref=1.0)
    cand = cand.assign(extra=3).astype({"mean texture": str})
    cand["mean area"] = ["n/a"] * len(cand)  # type mismatch with no readable number
    result = detect_collapse(cand, ref)
    inputs = result.dimension("distribution_fidelity").evidence["inputs"]
    mismatch = inputs["schema_mismatch"]
    assert mismatch["missing_in_candidate"] == ["extra_ref"]
    assert mismatch["extra_in_candidate"] == ["mean radius", "extra"]
    assert set(mismatch["type_mismatch"]) == {"mean texture", "mean area"}
    assert "mean area" in inputs["incomparable_columns"]
    columns = result.dimension("distribution_fidelity").evidence["columns"]
    assert "mean texture" in columns  # strings that read as numbers are compared
    assert "mean area" not in columns and "mean radius" not in columns
    assert not result.collapse_detected, result.summary()


def test_nothing_in_common_is_a_schema_error():
    with pytest.raises(DataError) as info:
        detect_collapse(pd.DataFrame({"a": [1.0, 2.0]}), pd.DataFrame({"b": [1.0, 2.0]}))
    assert info.value.code == ErrorCode.DATA_SCHEMA


def test_empty_candidate_is_a_data_error(tmp_path, table_pair):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pandas(table_pair[0].iloc[:0], preserve_index=False), path)
    with pytest.raises(DataError) as info:
        detect_collapse(path, table_pair[1])
    assert info.value.code == ErrorCode.DATA_EMPTY
    assert "candidate" in info.value.message


def test_score_dimension_scores_one(table_pair):
    cand, ref = table_pair
    shifted = cand.assign(**{"mean radius": cand["mean radius"] + 5.0})
    dim = score_dimension(
        "distribution_fidelity",
        pa.Table.from_pandas(shifted),
        pa.Table.from_pandas(ref),
        modality="tabular",
    )
    assert dim.name == "distribution_fidelity" and dim.passed is False
    # the column itself, and the mean vector of all numeric columns that it moves
    assert set(dim.evidence["worst_columns"][:2]) == {"mean radius", "numeric columns (joint mean)"}
    with pytest.raises(ValueError):
        score_dimension("nope", cand)


def test_thresholds_file_round_trip(tmp_path):
    config = CollapseConfig(thresholds={"memorization": 80.0})
    assert config.thresholds["memorization"] == 80.0
    assert set(config.thresholds) == set(DIMENSIONS)
    path = config.save_thresholds(tmp_path / "t.json", procedure="test", cases=3)
    loaded = CollapseConfig.from_thresholds_file(path)
    assert loaded.thresholds == config.thresholds
    assert loaded.threshold_procedure == "test"
    with pytest.raises(ValueError):
        CollapseConfig(thresholds={"unknown": 1.0})


def test_modality_thresholds_win_and_round_trip(tmp_path):
    config = CollapseConfig(
        thresholds=dict.fromkeys(DIMENSIONS, 50.0),
        modality_thresholds={"text": {"memorization": 70.0}},
    )
    assert config.threshold("memorization", "text") == 70.0
    assert config.threshold("memorization", "tabular") == 50.0
    assert config.threshold("tail_preservation", "text") == 50.0
    loaded = CollapseConfig.from_thresholds_file(config.save_thresholds(tmp_path / "t.json"))
    assert loaded.threshold("memorization", "text") == 70.0
    assert loaded.threshold("memorization", "time_series") == 50.0
    with pytest.raises(ValueError, match="modality"):
        CollapseConfig(modality_thresholds={"audio": {"memorization": 1.0}})
    with pytest.raises(ValueError, match="dimensions"):
        CollapseConfig(modality_thresholds={"text": {"nope": 1.0}})


def test_a_modality_threshold_decides_the_verdict(table_pair):
    """The data's own modality's threshold decides, not the general one."""
    cand, ref = table_pair
    lenient = CollapseConfig(
        thresholds=dict.fromkeys(DIMENSIONS, 0.0),
        modality_thresholds={"tabular": dict.fromkeys(DIMENSIONS, 0.0)},
    )
    strict = CollapseConfig(
        thresholds=dict.fromkeys(DIMENSIONS, 0.0),
        modality_thresholds={
            "tabular": {"memorization": 100.5},
            "text": {"tail_preservation": 100.5},
        },
    )
    assert not detect_collapse(cand, ref, config=lenient).collapse_detected
    result = detect_collapse(cand, ref, config=strict)
    assert result.failed_dimensions == ["memorization"]
    assert result.dimension("memorization").threshold == 100.5


def test_shipped_thresholds_are_package_data():
    import json
    from importlib.resources import files

    payload = json.loads(files("synthos.analysis.collapse").joinpath("thresholds.json").read_text())
    assert set(payload["thresholds"]) == set(DIMENSIONS)
    assert "procedure" in payload
