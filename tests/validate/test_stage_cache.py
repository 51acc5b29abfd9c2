"""The stage cache: keys follow file contents and settings, entries are whole or absent."""

from __future__ import annotations

import shutil

import pytest

from synthos.stage_cache import StageCache, content_digest


def test_digest_follows_contents_not_paths(tmp_path):
    first = tmp_path / "a.csv"
    first.write_text("x,y\n1,2\n")
    copy = tmp_path / "b.csv"
    shutil.copy(first, copy)
    assert content_digest(first) == content_digest(copy)
    copy.write_text("x,y\n1,3\n")
    assert content_digest(first) != content_digest(copy)
    assert content_digest(None) == "none"
    assert content_digest("s3://bucket/data.parquet") is None
    assert content_digest(tmp_path / "missing.csv") is None


def test_directory_digest_ignores_logs(tmp_path):
    (tmp_path / "part-0.csv").write_text("x\n1\n")
    before = content_digest(tmp_path)
    (tmp_path / "train.log").write_text("epoch 1\n")
    assert content_digest(tmp_path) == before
    (tmp_path / "part-1.csv").write_text("x\n2\n")
    assert content_digest(tmp_path) != before


def test_cached_computes_once_per_key(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    cache = StageCache(tmp_path / "cache")
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    key = cache.key("stage", {"k": 1}, {"data": data})
    assert cache.cached("stage", key, compute) == {"value": 1}
    again = StageCache(tmp_path / "cache")  # a later run reads what an earlier one stored
    assert again.cached("stage", again.key("stage", {"k": 1}, {"data": data}), compute) == {
        "value": 1
    }
    other = again.key("stage", {"k": 2}, {"data": data})
    assert again.cached("stage", other, compute) == {"value": 2}
    assert [r["status"] for r in again.log] == ["reused", "computed"]
    assert len(calls) == 2


def test_uncacheable_input_is_logged_and_computed(tmp_path):
    cache = StageCache(tmp_path / "cache")
    key = cache.key("stage", {}, {"candidate": "s3://bucket/x.parquet"})
    assert key is None
    assert cache.cached("stage", key, lambda: {"v": 1}) == {"v": 1}
    assert cache.log == [
        {
            "stage": "stage",
            "key": "",
            "status": "not cached",
            "reason": "not a local file: candidate",
        }
    ]
    assert not (tmp_path / "cache").exists()


def test_failed_write_leaves_no_entry(tmp_path):
    cache = StageCache(tmp_path / "cache")
    key = cache.key("stage", {}, {})

    def broken(path):
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.put("stage", key, {"v": 1}, {"part.bin": broken})
    assert cache.get("stage", key) is None
    assert list((tmp_path / "cache" / "stage").iterdir()) == []
