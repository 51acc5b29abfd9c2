"""`synthos validate`: a fixed dataset re-validated in the same run directory reuses the
stages whose inputs did not change and shows before / after side by side."""

from __future__ import annotations

import json
import shutil

import pytest

from synthos.analysis.localize import LocalizeConfig
from synthos.analysis.recommend import RecommendConfig
from synthos.cli import main
from synthos.errors import DataError
from synthos.stage_cache import content_digest
from synthos.validate import ValidateOptions, validate
from tests.analysis.localize import cases

OPTIONS = ValidateOptions(recommend=RecommendConfig(only=("drop_exact_duplicates",)))


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """A table with duplicated rows, validated; then its duplicate-free fix, twice."""
    out = tmp_path_factory.mktemp("validate")
    case = cases.duplicated_table()
    candidate, reference = out / "candidate.parquet", out / "reference.parquet"
    case.candidate.to_parquet(candidate, index=False)
    case.reference.to_parquet(reference, index=False)
    run = out / "run"
    first = validate(candidate, reference, run_dir=run, options=OPTIONS)
    fixed = first.report["recommendations"][0]["fixed_dataset_path"]
    fixed_digest = content_digest(fixed)
    second = validate(fixed, reference, run_dir=run, options=OPTIONS)
    third = validate(fixed, reference, run_dir=run, options=OPTIONS)
    return first, second, third, fixed, fixed_digest


def test_first_validation_computes_every_stage(validated):
    first, *_ = validated
    assert first.stage_status == {
        "detect": "computed",
        "localize": "computed",
        "recommend": "computed",
    }
    assert first.before_after is None and first.number == 1
    assert first.report["collapse_detected"] is True
    assert (first.directory / "row_scores.parquet").is_file()
    html = (first.directory / "report.html").read_text()
    assert 'id="before-after"' in html and "No earlier validation" in html


def test_fixed_dataset_reuses_its_measured_detection(validated):
    """The recommender already ran the detector on the fixed dataset: re-validating it reuses
    that detection; the rows changed, so the localizer runs again."""
    first, second, _, fixed, fixed_digest = validated
    assert second.stage_status["detect"] == "reused"
    assert second.stage_status["localize"] == "computed"
    measured = first.report["recommendations"][0]["risk_impact"]["expected"]
    assert second.report["risk_score"] == measured
    assert content_digest(fixed) == fixed_digest  # the fix it came from is untouched


def test_before_after_side_by_side(validated):
    first, second, *_ = validated
    comparison = second.before_after
    assert comparison["before"]["directory"] == str(first.directory)
    changes = {row["name"]: row for row in comparison["changes"]}
    risk = changes["risk_score"]
    assert risk["before"] == first.report["risk_score"] > risk["after"]
    assert risk["better"] is True
    memorization = next(r for r in comparison["dimensions"] if r["name"] == "memorization")
    assert memorization["passed_before"] is False and memorization["passed_after"] is True
    saved = json.loads((second.directory / "report.json").read_text())
    assert saved["before_after"]["changes"][0]["name"] == "risk_score"
    assert "Before / after" in (second.directory / "report.md").read_text()


def test_unchanged_inputs_reuse_everything(validated):
    first, second, third, *_ = validated
    assert third.stage_status == {"detect": "reused", "localize": "reused", "recommend": "reused"}
    assert third.report["risk_score"] == second.report["risk_score"]
    assert third.report["recommendations"] == second.report["recommendations"]
    # Re-validating the same data compares it with the data before it, not with itself.
    assert third.before_after["before"]["directory"] == str(first.directory)
    assert (third.directory.parent.parent / "latest").resolve() == third.directory.resolve()


def test_changed_settings_recompute(validated, tmp_path):
    first, *_ = validated
    run = tmp_path / "run"  # a copy: the other tests' run directory stays as it was
    shutil.copytree(first.directory.parent.parent, run, symlinks=True)
    candidate = first.report["dataset"]["path"]
    options = ValidateOptions(recommend=None, localize=LocalizeConfig(flag_score=0.8))
    again = validate(candidate, run_dir=run, options=options)
    assert again.stage_status == {"detect": "computed", "localize": "computed"}
    assert again.number == 4


def test_failed_validation_leaves_no_directory(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(DataError):
        validate(tmp_path / "missing.parquet", run_dir=run, options=OPTIONS)
    assert list((run / "validations").iterdir()) == []
    assert not (run / "latest").exists()


def test_cli_prints_stages_and_before_after(validated, capsys):
    first, _, _, fixed, _ = validated
    run = first.directory.parent.parent
    reference = str(run.parent / "reference.parquet")
    args = ["validate", "--candidate", fixed, "--reference", reference, "--out", str(run)]
    assert main([*args, "--only", "drop_exact_duplicates"]) == 0
    printed = capsys.readouterr().out
    assert "stages       detect reused, localize reused, recommend reused" in printed
    assert f"before       {first.directory}" in printed
    assert "risk_score" in printed and "better" in printed


@pytest.mark.slow
def test_fixed_dataset_reuses_its_retraining(tmp_path, monkeypatch):
    """With retraining, the fix's tier-1 models trained during the first validation are the
    second validation's current models; paths relative to the working directory work."""
    monkeypatch.chdir(tmp_path)
    case = cases.duplicated_table()
    case.candidate.to_parquet("candidate.parquet", index=False)
    case.reference.to_parquet("reference.parquet", index=False)
    common = ["--reference", "reference.parquet", "--out", "run", "--measure-impact"]
    common += ["--profile", "smoke", "--only", "drop_exact_duplicates"]
    assert main(["validate", "--candidate", "candidate.parquet", *common]) == 0
    first = json.loads((tmp_path / "run/latest/report.json").read_text())
    (rec,) = first["recommendations"]
    assert rec["metric_impact"]["metric"] == "test/target_acc"
    fixed = rec["fixed_dataset_path"]
    assert main(["validate", "--candidate", fixed, *common]) == 0
    second = json.loads((tmp_path / "run/latest/report.json").read_text())
    assert second["validation_run"]["reuse"]["retrain:reused"] == 1
    metric = next(c for c in second["before_after"]["changes"] if c["name"] == "retrained_metric")
    assert metric["before"] == pytest.approx(rec["metric_impact"]["current"])
    assert metric["after"] == pytest.approx(rec["metric_impact"]["expected"])
