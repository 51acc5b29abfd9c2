"""`synthos detect --signatures`, `synthos signatures add|list|outcome` and
`synthos prescreen`, run through the command's entry point as a user runs them."""

from __future__ import annotations

import json

import pytest

from synthos.analysis.signatures import SignatureLibrary
from synthos.analysis.signatures.outcomes import LIBRARY_ENV
from synthos.cli import main
from tests.analysis.signatures.conftest import halves, with_duplicates


@pytest.fixture
def files(table, tmp_path):
    ref, hold = halves(table, 3)
    paths = {
        "reference": tmp_path / "reference.parquet",
        "clean": tmp_path / "clean.parquet",
        "copied": tmp_path / "copied.csv",
    }
    ref.to_parquet(paths["reference"], index=False)
    hold.to_parquet(paths["clean"], index=False)
    with_duplicates(hold, 0.3, 3).to_csv(paths["copied"], index=False)
    return paths


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_validations_grow_the_library_and_fill_signature_matches(files, tmp_path, capsys):
    library = tmp_path / "lib.h5"
    code, out, _ = run(
        capsys, "detect", "--candidate", files["copied"], "--reference", files["reference"],
        "--out", tmp_path / "detect", "--signatures", library, "--no-plot",
    )  # fmt: skip
    assert code == 0 and "signature" in out
    report = json.loads((tmp_path / "detect" / "report.json").read_text())
    assert report["signature_matches"] == []  # the library was empty
    snapshot = SignatureLibrary(library).read()
    assert len(snapshot) == 1 and snapshot.has_relative[0]
    stored = snapshot.outcome(0)
    assert stored["collapse_detected"] == report["collapse_detected"]
    assert stored["collapse_type"] == report["collapse_type"]
    assert stored["dimension_scores"]["memorization"] == next(
        d["score"] for d in report["dimensions"] if d["name"] == "memorization"
    )

    code, out, _ = run(
        capsys, "signatures", "add", "--library", library, "--report",
        tmp_path / "detect" / "report.json", "--reference", files["reference"],
    )  # fmt: skip
    assert code == 0 and "added" in out and snapshot.ids[0] in out
    code, out, _ = run(capsys, "signatures", "list", "--library", library, "--json")
    listed = json.loads(out)
    assert [r["provenance"]["source"] for r in listed] == ["validation", "validation"]

    signature_id = listed[0]["signature_id"]
    code, out, _ = run(
        capsys, "signatures", "outcome", "--library", library, signature_id,
        "--metric", "test/acc", "--measured", "0.75",
    )  # fmt: skip
    assert code == 0
    assert SignatureLibrary(library).read().outcome(0)["measured"] == {
        "metric": "test/acc",
        "value": 0.75,
    }

    code, out, _ = run(
        capsys, "prescreen", files["copied"], "--reference", files["reference"],
        "--library", library, "--json", "--threads", "1",
    )  # fmt: skip
    screened = json.loads(out)
    assert code == 0 and screened["space"] == "relative"
    assert screened["matches"][0]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert screened["pre_risk"] == (100.0 if report["collapse_detected"] else 0.0)


def test_the_library_comes_from_the_environment(files, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(LIBRARY_ENV, raising=False)
    code, _, err = run(capsys, "prescreen", files["clean"])
    assert code == 1 and err.startswith("error [1001 DATA_NOT_FOUND]") and LIBRARY_ENV in err
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "missing.h5"))
    code, _, err = run(capsys, "prescreen", files["clean"])
    assert code == 1 and "signature library not found" in err
    code, _, _ = run(capsys, "signatures", "list")
    assert code == 1


def test_bad_reports_and_arguments_are_one_line_errors(files, tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = run(
        capsys, "signatures", "add", "--library", tmp_path / "lib.h5",
        "--report", tmp_path / "broken.json", "--candidate", files["clean"],
    )  # fmt: skip
    assert code == 1 and err.startswith("error [1002 DATA_FORMAT]")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    (tmp_path / "nameless.json").write_text("{}")
    code, _, err = run(
        capsys, "signatures", "add", "--library", tmp_path / "lib.h5",
        "--report", tmp_path / "nameless.json",
    )  # fmt: skip
    assert code == 1 and "names no dataset" in err
    code, _, err = run(
        capsys, "prescreen", files["clean"], "--library", tmp_path / "lib.h5", "--top-k", "0"
    )
    assert code == 1 and "--top-k" in err


def test_the_cascade_aggregation_adds_its_signature_when_a_library_is_set(
    files, tmp_path, monkeypatch
):
    from synthos.cascade.aggregate import run_collapse_stage
    from synthos.report import empty_report, write_report

    library = tmp_path / "from_env.h5"
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    job = {"job": "t1v0", "tier": 1, "variant": 0, "status": "completed", "metrics": {}}
    (sweep / "cascade_results.json").write_text(json.dumps({"jobs": [job]}))
    # The aggregation writes the cascade's report before detection adds to it.
    write_report(sweep, empty_report("sweep", {"path": str(files["clean"])}))
    monkeypatch.delenv(LIBRARY_ENV, raising=False)
    run_collapse_stage(sweep, str(files["clean"]), str(files["reference"]))
    assert not library.exists()
    monkeypatch.setenv(LIBRARY_ENV, str(library))
    done = run_collapse_stage(sweep, str(files["copied"]), str(files["reference"]))
    assert done["status"] == "completed"
    report = json.loads((sweep / "report.json").read_text())
    assert report["signature_matches"] == []
    assert len(SignatureLibrary(library).read()) == 1
    run_collapse_stage(sweep, str(files["clean"]), str(files["reference"]))
    report = json.loads((sweep / "report.json").read_text())
    assert len(report["signature_matches"]) == 1
    assert len(SignatureLibrary(library).read()) == 2


def test_detect_writes_its_report_when_the_library_is_unusable(files, tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not a library")
    code, _, err = run(
        capsys, "detect", "--candidate", files["clean"], "--out", tmp_path / "out",
        "--signatures", junk, "--no-plot",
    )  # fmt: skip
    assert code == 0 and "not added" in err and "DATA_CORRUPT" in err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["signature_matches"] == [] and report["collapse_detected"] is not None
