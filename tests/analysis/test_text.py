"""Text columns: length buckets counted by the engine, topic clusters, the rare topic."""

from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import pytest

from synthos.analysis import DiversityResult, analyze_diversity

from .conftest import TOPICS, topic_table


@pytest.fixture(scope="module")
def topics() -> tuple[pa.Table, np.ndarray, DiversityResult]:
    table, labels = topic_table()
    result = analyze_diversity(table, columns=["body"], sample_size=300, seed=0)
    return table, labels, result


def _topic_of(text: str) -> str:
    words = set(text.split())
    found = {t for t, vocab in TOPICS.items() if words & set(vocab)}
    assert len(found) == 1, text
    return found.pop()


def test_text_column_is_detected(topics):
    _, _, result = topics
    assert [(c["name"], c["kind"]) for c in result.columns] == [("body", "text")]
    body = result.columns[0]
    assert body["length_min"] >= 5 * 3 and body["length_max"] > body["length_mean"]


def test_length_buckets_are_exact(topics):
    table, _, result = topics
    lengths = np.array([len(t) for t in table.column("body").to_pylist()])
    buckets = collections.Counter(np.floor(np.log2(lengths + 1)).astype(int).tolist())
    assert result.strata["dimensions_names"] == ["body:length"]
    got = {s["key"]["body:length"]: s["rows"] for s in result.strata["strata"]}
    expected = {f"{2**b - 1}-{2 ** (b + 1) - 2} chars": c for b, c in buckets.items()}
    assert got == expected
    marginal = {lv["level"]: lv["rows"] for lv in result.marginals["body"]["levels"]}
    assert marginal == expected


def test_topic_clusters_match_the_planted_topics(topics):
    _, labels, result = topics
    summary = result.text_clusters["body"]
    clusters = summary["clusters"]
    assert summary["k"] == len(clusters) == 4
    counts = collections.Counter(labels.tolist())
    by_topic = {_topic_of(c["example"]): c for c in clusters}
    assert set(by_topic) == set(TOPICS)
    for topic, cluster in by_topic.items():
        assert cluster["sampled_rows"] == counts[topic]  # every text in its topic's cluster
    rare = [c for c in clusters if c["rare"]]
    assert [_topic_of(c["example"]) for c in rare] == ["astro"]
    assert summary["metrics"]["rare_groups"] == 1
    # the row clusters over the one text column see the same four topics
    assert result.cluster_count == 4


def test_sample_keeps_the_rare_topic(topics):
    _, _, result = topics
    sample = result.sample_table
    topics_in_sample = collections.Counter(_topic_of(t) for t in sample.column("body").to_pylist())
    assert topics_in_sample["astro"] >= 1
    constraint = [c for c in result.sample["constraints"] if c["kind"] == "rare_text_cluster"]
    assert len(constraint) == 1 and constraint[0]["drawn"] >= constraint[0]["required"] >= 1
    assert sample.num_rows == 300


def test_identifier_strings_are_skipped():
    n = 2000
    table = pa.table(
        {
            "uid": [f"user{i:07d}" for i in range(n)],
            "city": [f"city{i % 120}" for i in range(n)],  # many levels, repeated
            "v": np.arange(n, dtype=float),
        }
    )
    r = analyze_diversity(table, sample_size=100, max_clusters=3)
    kinds = {c["name"]: c["kind"] for c in r.columns}
    assert kinds == {"uid": "skip", "city": "categorical", "v": "numeric"}
    levels = r.marginals["city"]["levels"]
    assert any(lv["level"] == "<other>" for lv in levels)  # capped to max_levels
    assert sum(lv["rows"] for lv in levels) <= n
    assert r.marginals["city"]["metrics"]["groups"] == 50
