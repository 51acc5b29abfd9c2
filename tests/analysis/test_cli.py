"""`synthos diversity` end to end, in a subprocess as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import SEGMENTS, planted_table

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "synthos.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "planted.parquet"
    pq.write_table(planted_table(), path)
    return path


def test_diversity_end_to_end(dataset: Path, tmp_path: Path):
    out = tmp_path / "report"
    proc = _run(
        "diversity",
        str(dataset),
        "--out",
        str(out),
        "--sample-size",
        "500",
        "--seed",
        "3",
        "--columns",
        "segment",
        "x",
        "y",
        "z",
        "--strata-columns",
        "segment",
    )
    assert proc.returncode == 0, proc.stderr
    assert "entropy" in proc.stdout and "sample" in proc.stdout
    assert str(out / "diversity.json") in proc.stdout
    report = json.loads((out / "diversity.json").read_text())
    assert report["dataset"]["rows"] == sum(SEGMENTS.values())
    assert report["rare_pattern_percentage"] == pytest.approx(0.5)
    assert report["sample"]["size"] == 500 and report["sample"]["seed"] == 3
    assert [c["name"] for c in report["columns"]] == ["segment", "x", "y", "z"]
    sample = pq.read_table(out / "sample.parquet")
    assert sample.num_rows == 500
    assert "rare" in sample.column("segment").to_pylist()
    assert (out / "strata.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_one_line_with_the_code(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    proc = _run("diversity", str(empty), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error [1004 DATA_EMPTY]: ")
    assert str(empty) in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_usage_errors(dataset: Path, tmp_path: Path):
    proc = _run("diversity", str(dataset))  # no --out
    assert proc.returncode == 2 and "--out" in proc.stderr
    proc = _run("diversity", str(dataset), "--out", str(tmp_path / "o"), "--sample-size", "0")
    assert proc.returncode == 2 and "sample_size" in proc.stderr
