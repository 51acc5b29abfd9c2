"""report.md and report.html from a run directory, and `synthos report DIR`."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from synthos.cli import main
from synthos.report.documents import SECTIONS, write_documents
from tests.conftest import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """The parts of a page that decide whether it is self-contained."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("src", "href"):
            if attrs.get(key):
                self.sources.append(attrs[key])


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', html, re.S)
    assert match, f"section {section_id} missing"
    return match.group(1)


def test_full_run_renders_every_section_self_contained(full_run_dir):
    documents = write_documents(full_run_dir)
    html = documents.html.read_text()
    page = _Page()
    page.feed(html)
    assert [i for i in page.ids if i in SECTIONS] == list(SECTIONS)
    # Nothing to fetch: no scripts, no stylesheets, images are inline PNGs, links are anchors.
    assert not page.tags & {"script", "link", "iframe"}
    images = [s for s in page.sources if s.startswith("data:")]
    assert len(images) == 4  # dimensions, scaling fit, loss curves, row scores
    for uri in images:
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == PNG_MAGIC
    assert all(s.startswith(("#", "data:image/png;base64,")) for s in page.sources), page.sources

    assert "Collapse detected" in _section(html, "verdict")
    assert "diversity_loss" in _section(html, "verdict")
    dims = _section(html, "dimensions")
    assert dims.count("FAIL") == 4 and dims.count("PASS") == 3 and "not evaluated" in dims
    prediction = _section(html, "prediction")
    assert "0.8125" in prediction and "[0.75, 0.875]" in prediction and "90%" in prediction
    assert "checkpoint unreadable" in prediction  # the failed job, with its error
    assert "t2v0" in prediction and "1,000" in prediction
    assert "3 models" in _section(html, "loss-curves")
    assert "200 rows scored" in _section(html, "row-scores")
    assert "r-dup-1" in _section(html, "regions") and "100 to 149" in _section(html, "regions")
    recs = _section(html, "recommendations")
    assert recs.index("Drop exact duplicates") < recs.index("Mix in reference rows")  # priority
    assert "sig-recursive-resample" in _section(html, "signature-matches")
    assert "Not run" not in html

    markdown = documents.markdown.read_text()
    assert "**Collapse detected**" in markdown
    assert "| distribution_fidelity | 12.5 | 50 | FAIL |" in markdown
    assert "| training_stability | n/a | 60 | not evaluated |" in markdown
    assert "**0.8125** [0.75, 0.875]" in markdown
    assert "| t1v1 | 1 | 1 | failed |" in markdown
    assert "- duplicate: 19 rows" in markdown
    assert "| 1 | dedup | **Drop exact duplicates**" in markdown


def test_a_run_without_later_stages_says_not_run(bare_run_dir):
    documents = write_documents(bare_run_dir)
    html = documents.html.read_text()
    for section in (
        "dimensions",
        "loss-curves",
        "row-scores",
        "regions",
        "recommendations",
        "signature-matches",
    ):
        assert "Not run." in _section(html, section), section
    assert "no finished job" in _section(html, "prediction")
    assert "data:image" not in html
    markdown = documents.markdown.read_text()
    assert markdown.count("**Not run.**") == 7
    assert "**No prediction.** no finished job" in markdown


def test_a_stage_that_ran_and_found_nothing_is_not_called_not_run(bare_run_dir):
    report = json.loads((bare_run_dir / "report.json").read_text())
    report["timings"] = {"localize": 2.0, "recommend": 9.0, "signatures_prescreen": 0.3}
    (bare_run_dir / "report.json").write_text(json.dumps(report))
    html = write_documents(bare_run_dir).html.read_text()
    assert "found no problem region" in _section(html, "regions")
    assert "proposed no fix" in _section(html, "recommendations")
    assert "no close match" in _section(html, "signature-matches")


def test_text_from_the_data_is_escaped(bare_run_dir):
    report = json.loads((bare_run_dir / "report.json").read_text())
    report["validation_id"] = "<script>alert(1)</script>"
    (bare_run_dir / "report.json").write_text(json.dumps(report))
    html = write_documents(bare_run_dir).html.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_command_writes_both_and_prints_their_paths(full_run_dir, capsys):
    assert main(["report", str(full_run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"html         {full_run_dir / 'report.html'}" in out
    assert (full_run_dir / "report.md").is_file()


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (lambda d: None, "error [1001 DATA_NOT_FOUND]: run directory not found"),
        (lambda d: d.mkdir(), "error [1001 DATA_NOT_FOUND]: no report.json"),
        (
            lambda d: (d.mkdir(), (d / "report.json").write_text('{"schema_version": 1}')),
            "error [1003 DATA_SCHEMA]: report.json breaks its schema",
        ),
    ],
)
def test_report_command_on_bad_input_is_one_clear_line(tmp_path, prepare, expected):
    run_dir = tmp_path / "run"
    prepare(run_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "synthos.cli", "report", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected), proc.stderr
    assert "Traceback" not in proc.stderr
