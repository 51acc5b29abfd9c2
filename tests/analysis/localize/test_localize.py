"""The localizer on small injected cases: each evidence source finds its rows, the combined
score and regions say where they are, and the files it writes."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthos.analysis.localize import ROW_SCORES_FILE, LocalizeConfig, localize
from synthos.analysis.localize.combine import combine
from synthos.analysis.localize.evidence import Evidence
from synthos.analysis.localize.pvalues import q_values, ratio_pvalues, upper_tail_pvalues
from synthos.analysis.localize.regions import find_regions, runs
from synthos.errors import DataError

from . import cases


@pytest.fixture(scope="module")
def table_case():
    case = cases.table()
    return case, localize(case.candidate, case.reference)


@pytest.fixture(scope="module")
def text_case(tmp_path_factory):
    case = cases.text(tmp_path_factory.mktemp("text"))
    return case, localize(case.candidate, case.reference, modality="text")


def test_duplicates_and_copies_are_found_with_precision_one(table_case):
    case, result = table_case
    for issue in ("duplicate", "memorized"):
        flagged = result.flagged_rows(issue)
        assert set(flagged) == set(case.rows[issue]), issue


def test_flipped_labels_rank_above_clean_rows(table_case):
    case, result = table_case
    label = result.column("score_label_disagreement")
    injected = set(np.concatenate(list(case.rows.values())).tolist())
    clean = np.array([i for i in range(result.rows) if i not in injected])
    flips = case.rows["label_noise"]
    above = (label[flips][:, None] > label[clean][None, :]).mean()
    assert above > 0.8  # AUROC of the flips against the clean rows (two flips agree with the model)
    assert np.mean(label[flips] > np.quantile(label[clean], 0.95)) >= 0.75


def test_shifted_rows_are_out_of_distribution_with_their_columns(table_case):
    case, result = table_case
    shifted = case.rows["out_of_distribution"]
    assert set(shifted) <= set(result.flagged_rows("out_of_distribution"))
    region = next(r for r in result.regions if r["row_start"] == 60 and r["kind"] == "range")
    assert region["row_end"] == 62 and region["issue_type"] == "out_of_distribution"
    assert set(region["affected_columns"]) <= set(case.candidate.columns[:2])


def test_regions_merge_adjacent_rows_and_report_schema(table_case):
    _, result = table_case
    duplicates = [r for r in result.regions if r["issue_type"] == "duplicate"]
    ranges = {(r["row_start"], r["row_end"]) for r in duplicates if r["kind"] == "range"}
    assert (10, 17) in ranges and (200, 207) in ranges
    for region in result.regions:
        assert set(region) >= {
            "region_id",
            "row_start",
            "row_end",
            "issue_type",
            "impact_score",
            "affected_columns",
        }
        assert 0 <= region["impact_score"] <= 1


def test_clean_splits_flag_almost_nothing():
    frame = cases.table().reference
    flagged = 0
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(frame))
        clean = localize(frame.iloc[order[:140]], frame.iloc[order[140:]])
        flagged += clean.flagged_rows().size
    assert flagged <= 0.02 * 3 * 140


def test_junk_documents_duplicates_and_copies_in_text(text_case):
    case, result = text_case
    assert set(case.rows["low_quality"]) <= set(result.flagged_rows("low_quality"))
    assert set(result.flagged_rows("duplicate")) == set(case.rows["duplicate"])
    # the corpus holds real near copies too (docstrings written from one template): any
    # other flagged copy sits far closer to one reference document than to the next
    copies = result.flagged_rows("memorized")
    assert set(case.rows["memorized"]) <= set(copies)
    ratio = result.column("reference_copy_ratio")
    assert all(ratio[i] < 0.01 for i in copies if i not in case.rows["memorized"])


def test_copied_stretch_of_a_series(tmp_path):
    case = cases.series(tmp_path)
    result = localize(case.candidate, case.reference, modality="time_series")
    span = case.rows["memorized"]
    flagged = result.flagged_rows("memorized")
    assert flagged.size and set(flagged) <= set(range(span[0] - 1, span[-1] + 2))
    assert np.mean(np.isin(span, flagged)) > 0.8
    assert any(r["issue_type"] == "memorized" and r["kind"] == "range" for r in result.regions)


def test_without_reference_says_which_evidence_was_used():
    case = cases.table()
    result = localize(case.candidate)
    used = {e["name"] for e in result.evidence}
    skipped = {s["name"]: s["reason"] for s in result.skipped}
    assert "reference_copies" not in used and "no reference" in skipped["reference_copies"]
    assert "cascade_models" in skipped
    assert set(case.rows["duplicate"]) <= set(result.flagged_rows("duplicate"))


def test_row_scores_parquet_and_report(table_case, tmp_path):
    _, result = table_case
    report_path = result.write_report(tmp_path)
    table = pq.read_table(tmp_path / ROW_SCORES_FILE)
    assert table.num_rows == result.rows
    assert table.column_names[:4] == ["row", "score", "issue_type", "flagged"]
    scores = table.column("score").to_numpy()
    assert np.all((scores >= 0) & (scores <= 1))
    report = json.loads(report_path.read_text())
    assert report["regions"] == result.regions
    assert report["localization"]["row_scores_path"].endswith(ROW_SCORES_FILE)
    assert report["dimensions"] == [] and report["recommendations"] == []


def test_bad_input_is_a_data_error(tmp_path):
    missing = tmp_path / "missing.parquet"
    with pytest.raises(DataError) as error:
        localize(str(missing))
    assert error.value.code.category == "data"
    with pytest.raises(ValueError, match="flag_score"):
        LocalizeConfig(flag_score=1.5)


def test_p_values_against_a_real_null():
    rng = np.random.default_rng(0)
    null = rng.exponential(size=5000)
    fresh = rng.exponential(size=20000)
    p = upper_tail_pvalues(fresh, null)
    assert abs(np.mean(p < 0.05) - 0.05) < 0.01
    assert upper_tail_pvalues(np.array([50.0]), null)[0] < 1e-10
    ratios = rng.uniform(0.3, 1, size=2000)
    assert ratio_pvalues(np.array([0.0]), ratios)[0] == 0.0
    assert ratio_pvalues(np.array([0.0]), np.r_[ratios, np.zeros(20)])[0] == pytest.approx(
        20 / 2020
    )


def test_q_values_and_combined_scores():
    p = np.array([0.001, 0.01, 0.02, 0.5, 0.9, np.nan])
    q = q_values(p)
    assert np.isnan(q[-1]) and q[0] == pytest.approx(0.005)
    assert np.all(np.diff(q[:5]) >= 0)
    quiet = Evidence("quiet", "out_of_distribution", np.linspace(0.01, 1, 100))
    loud = Evidence("loud", "duplicate", np.r_[np.zeros(5), np.ones(95)])
    scores = combine([quiet, loud], 100, 0.9)
    assert set(np.flatnonzero(scores.flagged)) == set(range(5))
    assert set(scores.issue_type[:5]) == {"duplicate"}


def test_runs_cut_at_gaps():
    assert [list(r) for r in runs(np.array([1, 2, 3, 7, 8, 20]), 0)] == [[1, 2, 3], [7, 8], [20]]
    assert [list(r) for r in runs(np.array([1, 3, 4]), 1)] == [[1, 3, 4]]
    evidence = [Evidence("e", "duplicate", np.r_[np.ones(3), np.zeros(3), np.ones(4)])]
    regions = find_regions(combine(evidence, 10, 0.9), evidence, LocalizeConfig())
    assert [(r["row_start"], r["row_end"], r["kind"]) for r in regions] == [(3, 5, "range")]
