"""`synthos detect` end to end, in a subprocess as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from synthos.analysis.collapse import DIMENSIONS

REPORT_KEYS = {
    "schema_version",
    "validation_id",
    "dataset",
    "dimensions",
    "overall_score",
    "collapse_detected",
    "risk_score",
    "severity",
    "collapse_type",
    "root_causes",
    "prediction",
    "prediction_unavailable",
    "regions",
    "recommendations",
    "signature_matches",
    "timings",
}


def _detect(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "synthos.cli", "detect", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_detect_writes_report_plot_and_summary(tmp_path, table_pair):
    cand, ref = table_pair
    cand = cand.copy()
    cand.iloc[:, :-1] = cand.iloc[:, :-1] * 0.5 + ref.iloc[:, :-1].mean() * 0.5
    cand.to_csv(tmp_path / "cand.csv", index=False)
    ref.to_parquet(tmp_path / "ref.parquet")
    out = tmp_path / "out"
    proc = _detect(
        "--candidate", tmp_path / "cand.csv", "--reference", tmp_path / "ref.parquet", "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert set(report) == REPORT_KEYS
    assert [d["name"] for d in report["dimensions"]] == list(DIMENSIONS)
    assert report["collapse_detected"] is True and report["severity"] != "none"
    assert report["prediction"] is None and report["regions"] == []
    assert "no cascade" in report["prediction_unavailable"]
    assert report["dataset"]["modality"] == "tabular" and report["dataset"]["rows"] == 284
    assert 0 <= report["risk_score"] <= 100
    assert (out / "dimensions.png").stat().st_size > 10_000
    assert "COLLAPSE DETECTED" in proc.stdout
    assert "training_stability" in proc.stdout and "not evaluated" in proc.stdout
    assert "FAIL" in proc.stdout and str(out / "report.json") in proc.stdout


def test_detect_keeps_earlier_stages_fields(tmp_path, table_pair):
    from synthos.report import empty_report, write_report
    from tests.report.conftest import prediction_fields

    out = tmp_path / "out"
    earlier = empty_report("v1", {"path": "x"})
    earlier["prediction"] = {**prediction_fields()["prediction"], "predicted": 1.5}
    earlier["timings"] = {"cascade": 12.0}
    write_report(out, earlier)
    table_pair[0].to_parquet(tmp_path / "cand.parquet")
    proc = _detect("--candidate", tmp_path / "cand.parquet", "--out", out, "--no-plot")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["prediction"]["predicted"] == 1.5 and report["validation_id"] == "v1"
    assert report["timings"]["cascade"] == 12.0 and "collapse_detection" in report["timings"]
    assert not (out / "dimensions.png").exists()


def test_bad_input_is_one_error_line(tmp_path):
    proc = _detect("--candidate", tmp_path / "missing.csv", "--out", tmp_path / "out")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error [1001 DATA_NOT_FOUND]")
    assert "Traceback" not in proc.stderr


def test_empty_candidate_exit_code(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    proc = _detect("--candidate", tmp_path / "empty.csv", "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error [1004 DATA_EMPTY]") and "Traceback" not in proc.stderr


def test_detect_reads_metadata_and_roles(tmp_path, table_pair):
    cand, ref = table_pair
    cand = cand.assign(row_key=range(10_000, 10_000 + len(cand)))
    ref = ref.assign(row_key=range(len(ref)))
    cand.to_csv(tmp_path / "cand.csv", index=False)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    meta = tmp_path / "meta.yaml"
    meta.write_text("roles:\n  row_key: key\n")
    out = tmp_path / "out"
    done = _detect(
        "--candidate", tmp_path / "cand.csv", "--reference", tmp_path / "ref.csv",
        "--metadata", meta, "--role", "mean radius=categorical", "--out", out, "--no-plot",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    roles = json.loads((out / "report.json").read_text())["dataset"]["column_roles"]
    assert roles["row_key"] == {"role": "key", "reason": f"given by {meta}", "set_by": "metadata"}
    assert roles["mean radius"]["set_by"] == "user"
    bad = _detect(
        "--candidate", tmp_path / "cand.csv", "--reference", tmp_path / "ref.csv",
        "--role", "nope=key", "--out", out, "--no-plot",
    )  # fmt: skip
    assert bad.returncode == 1
    assert "error [1003 DATA_SCHEMA]" in bad.stderr and "'nope'" in bad.stderr
