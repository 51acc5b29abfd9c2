"""report.json against its JSON Schema: valid reports pass, each kind of breach is refused
before anything reaches disk, and the schema is the one DESIGN section 9 describes."""

from __future__ import annotations

import copy
import json

import pytest

from synthos.analysis.collapse.config import DIMENSIONS
from synthos.errors import DataError, ErrorCode, SynthosError
from synthos.report import empty_report, read_report, write_report
from synthos.report.validation import report_problems, report_schema
from tests.report.conftest import detection_fields, later_stage_fields, prediction_fields


def full_report() -> dict:
    report = empty_report("v1", {"path": "x.parquet"})
    report.update(detection_fields(), **prediction_fields(), **later_stage_fields())
    return report


def test_every_stage_combination_is_valid():
    assert report_problems(empty_report("v1", {})) == []
    assert report_problems(full_report()) == []
    detection_only = empty_report("v1", {})
    detection_only.update(detection_fields())
    assert report_problems(detection_only) == []


def test_the_schema_requires_exactly_the_keys_every_report_has():
    assert set(report_schema()["required"]) == set(empty_report("v", {}))
    names = report_schema()["$defs"]["dimension"]["properties"]["name"]["enum"]
    assert names == list(DIMENSIONS)


def _break(mutate) -> list[str]:
    report = full_report()
    mutate(report)
    return report_problems(report)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda r: r.pop("regions"), "'regions' is a required property"),
        (lambda r: r.update(schema_version=2), "$.schema_version"),
        (lambda r: r.update(risk_score=101), "$.risk_score"),
        (lambda r: r.update(risk_score=12.5), "$.risk_score"),
        (lambda r: r["dataset"].update(modality="images"), "$.dataset.modality"),
        (lambda r: r["dimensions"][0].update(score=None), "$.dimensions[0].score"),
        (lambda r: r["dimensions"][6].update(score=50.0), "$.dimensions[6].score"),
        (lambda r: r["dimensions"][1].update(name="vibes"), "$.dimensions[1].name"),
        (lambda r: r["dimensions"][2].pop("evidence"), "$.dimensions[2]"),
        (lambda r: r["prediction"].pop("law"), "$.prediction"),
        (lambda r: r["prediction"].update(level=90), "$.prediction"),
        (lambda r: r["root_causes"][0].update(percentage="70%"), "$.root_causes[0].percentage"),
        (lambda r: r["regions"][0].pop("row_start"), "$.regions[0]"),
        (lambda r: r["recommendations"][0]["impact"].pop("expected"), "impact"),
        (lambda r: r["signature_matches"][0].update(similarity="high"), "similarity"),
        (lambda r: r["timings"].update(detect=-1.0), "$.timings.detect"),
    ],
)
def test_each_breach_is_named_with_its_path(mutate, where):
    problems = _break(mutate)
    assert problems, "the schema accepted a broken report"
    assert any(where in line for line in problems), problems


def test_items_of_later_stages_may_carry_more_keys():
    report = full_report()
    report["regions"][0]["evidence"] = {"duplicates": 50}
    report["recommendations"][0]["impact"]["interval"] = [40.0, 56.0]
    report["signature_matches"][0]["outcome"] = {"verdict": "collapse"}
    assert report_problems(report) == []


def test_write_refuses_a_broken_report_and_leaves_the_file_as_it_was(tmp_path):
    write_report(tmp_path, full_report())
    before = (tmp_path / "report.json").read_text()
    with pytest.raises(SynthosError) as raised:
        write_report(tmp_path, {"risk_score": 250})
    assert raised.value.code == ErrorCode.INTERNAL and "$.risk_score" in raised.value.message
    assert (tmp_path / "report.json").read_text() == before
    assert list(tmp_path.iterdir()) == [tmp_path / "report.json"]  # no temporary file left


def test_write_turns_non_finite_numbers_into_null(tmp_path):
    report = full_report()
    report["prediction"]["law"]["fit_quality"]["r2"] = float("nan")
    path = write_report(tmp_path, report)
    assert json.loads(path.read_text())["prediction"]["law"]["fit_quality"]["r2"] is None


def test_read_with_validation_names_the_problem(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(DataError) as missing:
        read_report(path, validate=True)
    assert missing.value.code == ErrorCode.DATA_NOT_FOUND
    path.write_text("{not json")
    with pytest.raises(DataError) as garbled:
        read_report(path, validate=True)
    assert garbled.value.code == ErrorCode.DATA_FORMAT
    broken = copy.deepcopy(full_report())
    broken["dimensions"][0]["threshold"] = "high"
    path.write_text(json.dumps(broken))
    with pytest.raises(DataError) as invalid:
        read_report(path, validate=True)
    assert invalid.value.code == ErrorCode.DATA_SCHEMA
    assert "$.dimensions[0].threshold" in invalid.value.message
