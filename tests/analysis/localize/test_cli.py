"""`synthos localize`: files written, one line per error."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from synthos.cli import main

from . import cases


def test_localize_command_writes_scores_and_report(tmp_path, capsys):
    case = cases.table()
    cand, ref = tmp_path / "cand.parquet", tmp_path / "ref.parquet"
    case.candidate.to_parquet(cand, index=False)
    case.reference.to_parquet(ref, index=False)
    out = tmp_path / "out"
    args = ["localize", "--candidate", str(cand), "--reference", str(ref), "--out", str(out)]
    assert main([*args, "--validation-id", "v1"]) == 0
    printed = capsys.readouterr().out
    assert "region r1" in printed and "row_scores.parquet" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["validation_id"] == "v1" and report["regions"]
    assert pq.read_table(out / "row_scores.parquet").num_rows == len(case.candidate)


def test_localize_command_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["localize", "--candidate", str(tmp_path / "no.csv"), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error [1001 DATA_NOT_FOUND]")
    assert main(["localize", "--candidate", "x", "--out", str(out), "--flag-score", "2"]) == 2
