"""LocalizeProblems and GenerateRecommendations on a real mTLS server equal the library on the
same input; bad input is a clear ErrorInfo."""

from __future__ import annotations

import grpc
import numpy as np
import pyarrow.parquet as pq
import pytest
from google.protobuf.json_format import MessageToDict

from synthos.analysis.localize import LocalizeConfig, localize
from synthos.analysis.recommend import RecommendConfig, recommend
from synthos.datamodules.sample_data import _table_frame
from synthos.errors import ErrorCode
from tests.serve.test_rpcs import failure_of


@pytest.fixture(scope="module")
def pair(data_root):
    """A candidate with 40 rows duplicated, and a reference, inside the server's data root."""
    frame = _table_frame("breast_cancer")
    order = np.random.default_rng(5).permutation(len(frame))
    reference, candidate = frame.iloc[order[:250]], frame.iloc[order[250:]].reset_index(drop=True)
    candidate.iloc[:40] = candidate.iloc[100:140].to_numpy()
    folder = data_root / "localize"
    folder.mkdir(exist_ok=True)
    candidate.to_parquet(folder / "candidate.parquet", index=False)
    reference.to_parquet(folder / "reference.parquet", index=False)
    return str(folder / "candidate.parquet"), str(folder / "reference.parquet")


def test_localize_problems_equals_the_library(client, pair):
    candidate, reference = pair
    response = client.localize_problems(candidate, reference, include_row_scores=True)
    expected = localize(candidate, reference, config=LocalizeConfig(threads=1))
    assert response.error.code == 0
    local = expected.to_report()["regions"]
    assert [r.region_id for r in response.regions] == [r["region_id"] for r in local]
    for got, want in zip(response.regions, local, strict=True):
        assert (got.row_start, got.row_end) == (want["row_start"], want["row_end"])
        assert got.issue_type == want["issue_type"]
        assert list(got.affected_columns) == want["affected_columns"]
        assert got.impact_score == pytest.approx(want["impact_score"])
    scores = np.array([r.score for r in response.row_scores])
    assert [r.row for r in response.row_scores] == list(range(expected.rows))
    assert np.allclose(scores, expected.scores)
    assert [r.issue_type for r in response.row_scores] == list(expected.issue_types)
    stored = pq.read_table(response.row_scores_path)
    assert np.allclose(stored.column("score").to_numpy(), expected.scores)
    assert set(range(40)) <= set(expected.flagged_rows("duplicate"))


def test_row_scores_stay_on_the_server_unless_asked(client, pair):
    response = client.localize_problems(pair[0], pair[1], max_regions=2)
    assert len(response.row_scores) == 0 and response.row_scores_path
    assert 0 < len(response.regions) <= 2


def test_generate_recommendations_equals_the_library(client, pair, tmp_path):
    candidate, reference = pair
    response = client.generate_recommendations(candidate, reference, max_recommendations=4)
    expected = recommend(
        candidate,
        reference,
        out_dir=tmp_path,
        config=RecommendConfig(max_recommendations=4),
        localize_config=LocalizeConfig(threads=1),
    ).to_report()["recommendations"]
    assert response.error.code == 0
    assert [r.category for r in response.recommendations] == [r["category"] for r in expected]
    for served, local in zip(response.recommendations, expected, strict=True):
        assert served.priority == local["priority"]
        assert served.affected_rows == local["affected_rows"]
        assert served.impact.current == pytest.approx(local["impact"]["current"])
        assert served.impact.expected == pytest.approx(local["impact"]["expected"])
        measured = MessageToDict(served.measurements)
        assert measured["risk_impact"]["control"]["values"] == pytest.approx(
            local["risk_impact"]["control"]["values"]
        )
        assert served.fixed_dataset_path.endswith(".parquet")
        assert (
            pq.read_table(served.fixed_dataset_path).num_rows
            == pq.read_table(local["fixed_dataset_path"]).num_rows
        )
    # The best single fix of a duplicated table drops the duplicates (the top fixes applied
    # together may rank above it).
    single = [r.category for r in response.recommendations if r.category != "combined_top_fixes"]
    assert single[0] in ("drop_exact_duplicates", "drop_near_duplicates")


def test_bad_requests_are_clear_errors(client, pair, data_root):
    missing = failure_of(client.localize_problems, str(data_root / "nothing.parquet"))
    assert missing.status == grpc.StatusCode.NOT_FOUND
    assert missing.error.code == int(ErrorCode.DATA_NOT_FOUND) and missing.error.correlation_id
    negative = failure_of(client.localize_problems, pair[0], max_regions=-1)
    assert negative.status == grpc.StatusCode.INVALID_ARGUMENT and "max_regions" in (
        negative.error.message
    )
    corrupt = failure_of(client.generate_recommendations, str(data_root / "corrupt.parquet"))
    assert corrupt.status == grpc.StatusCode.FAILED_PRECONDITION
    assert corrupt.error.code == int(ErrorCode.DATA_CORRUPT)
    profile = failure_of(client.generate_recommendations, pair[0], profile="enormous")
    assert profile.status == grpc.StatusCode.INVALID_ARGUMENT and "profile" in profile.error.message
    unknown = failure_of(client.localize_problems, pair[0], validation_id="v-nope")
    assert unknown.status == grpc.StatusCode.NOT_FOUND
    outside = failure_of(client.localize_problems, "/etc/passwd")
    assert outside.status == grpc.StatusCode.PERMISSION_DENIED
