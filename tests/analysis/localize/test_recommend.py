"""The recommender on a duplicated table: fixes tied to the localized rows, their fixed
datasets written and rebuilt from their specs, re-validated against a random control."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from synthos.analysis.localize import localize
from synthos.analysis.recommend import FixSpec, FixStep, RecommendConfig, apply_fix, recommend
from synthos.analysis.recommend.impact import Measured, comparison
from synthos.errors import DataError

from . import cases


@pytest.fixture(scope="module")
def duplicated(tmp_path_factory):
    """A candidate whose rows 0-59 repeat rows 200-259 (a sixth of it duplicated)."""
    case = cases.duplicated_table()
    out = tmp_path_factory.mktemp("recommend")
    cand_path, ref_path = out / "candidate.parquet", out / "reference.parquet"
    case.candidate.to_parquet(cand_path, index=False)
    case.reference.to_parquet(ref_path, index=False)
    result = recommend(str(cand_path), str(ref_path), out_dir=out / "out")
    return cand_path, ref_path, out / "out", result


def test_duplicate_fix_lowers_risk_beyond_random_removal(duplicated):
    _, _, _, result = duplicated
    rec = next(r for r in result.recommendations if r["category"] == "drop_exact_duplicates")
    assert rec["affected_rows"] == 60
    top = result.recommendations[0]["category"]
    assert top in ("drop_exact_duplicates", "drop_near_duplicates")
    risk = rec["risk_impact"]
    assert risk["expected"] < risk["current"]
    assert rec["impact"] == {k: risk[k] for k in ("current", "expected", "improvement")}
    control = risk["control"]
    assert len(control["values"]) == 3 and control["expected"] > risk["expected"]
    assert risk["beats_random_control"] is True
    assert rec["metric_impact"] is None and rec["impact_unavailable"]


def test_fixed_dataset_has_the_schema_and_is_rebuilt_by_its_command(duplicated, tmp_path):
    cand_path, _, _, result = duplicated
    rec = next(r for r in result.recommendations if r["category"] == "drop_exact_duplicates")
    fixed = pq.read_table(rec["fixed_dataset_path"])
    original = pq.read_table(cand_path)
    assert fixed.schema.equals(original.schema)
    assert fixed.num_rows == original.num_rows - 60
    frame = fixed.to_pandas()
    assert not frame.duplicated().any()
    from synthos.cli import main

    out = tmp_path / "again.parquet"
    assert main(["apply-fix", "--spec", rec["spec_path"], "--out", str(out)]) == 0
    assert pq.read_table(out).equals(fixed)
    assert rec["apply_command"].startswith("synthos apply-fix --spec ")


def test_report_carries_recommendations_and_regions(duplicated):
    _, _, out, result = duplicated
    path = result.write_report(out)
    report = json.loads(path.read_text())
    assert [r["priority"] for r in report["recommendations"]] == list(
        range(1, len(report["recommendations"]) + 1)
    )
    assert report["regions"] and report["recommendation_summary"]["current_risk_score"] > 0


def test_apply_fix_steps():
    case = cases.table()
    table = pa_table(case.candidate)
    target = case.candidate.columns[-1]
    spec = FixSpec(
        "unused",
        [
            FixStep("relabel", [0, 1], [str(case.candidate[target][2])] * 2, target),
            FixStep("drop", rows=[1, 5]),
            FixStep("append_candidate", count=3, seed=1),
        ],
    )
    fixed = apply_fix(spec, table)
    assert fixed.num_rows == table.num_rows - 2 + 3
    assert fixed.column(target)[0].as_py() == case.candidate[target][2]
    with pytest.raises(DataError, match="row"):
        apply_fix(FixSpec("unused", [FixStep("drop", rows=[10_000])]), table)
    with pytest.raises(ValueError, match="action"):
        FixStep("burn")


def test_comparison_against_control():
    current = Measured([0.80, 0.81, 0.79])
    better = Measured([0.90, 0.91, 0.89])
    same = Measured([0.80, 0.82, 0.78])
    found = comparison("acc", current, better, same, True, 0.9)
    assert found["improvement"] == pytest.approx(0.1)
    assert found["beats_random_control"] is True
    assert comparison("acc", current, same, better, True, 0.9)["beats_random_control"] is False
    with pytest.raises(ValueError, match="seeds"):
        RecommendConfig(seeds=2)


def test_recommend_needs_the_localization_of_this_candidate(tmp_path):
    case = cases.table()
    other = localize(case.candidate.iloc[:100], case.reference)
    with pytest.raises(DataError, match="rows"):
        recommend(case.candidate, case.reference, out_dir=tmp_path, localization=other)


def pa_table(frame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


@pytest.mark.slow
def test_retrained_impact_with_a_random_control(duplicated, tmp_path):
    """Tier 1 of the smoke cascade retrained on the candidate, the fixed dataset and a random
    control, three seeds each, from the command line."""
    from synthos.cli import main

    cand_path, ref_path, _, _ = duplicated
    out = tmp_path / "measured"
    status = main(
        [
            "recommend",
            "--candidate",
            str(cand_path),
            "--reference",
            str(ref_path),
            "--out",
            str(out),
            "--measure-impact",
            "--profile",
            "smoke",
            "--only",
            "drop_exact_duplicates",
        ]
    )
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    (rec,) = report["recommendations"]
    metric = rec["metric_impact"]
    assert metric["metric"] == "test/target_acc" and metric["higher_is_better"] is True
    assert len(metric["values"]) == 3 and len(metric["current_values"]) == 3
    assert len(metric["control"]["values"]) == 3
    assert all(0 <= v <= 1 for v in metric["values"] + metric["control"]["values"])
    assert isinstance(metric["beats_random_control"], bool)
    assert rec["ranked_by"] == "metric_impact" and rec["impact_unavailable"] is None
    assert rec["risk_impact"]["expected"] < rec["risk_impact"]["current"]
