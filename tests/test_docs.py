"""The documentation in docs/ stays true to the code it describes."""

from __future__ import annotations

import json
import re

from synthos.analysis.collapse.dimensions import EVALUATORS
from synthos.errors import ErrorCode
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def _table_rows(text: str, first_cell: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(first_cell, cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


def test_threshold_table_matches_thresholds_json():
    thresholds = json.loads(
        (ROOT / "synthos" / "analysis" / "collapse" / "thresholds.json").read_text()
    )
    rows = _table_rows((DOCS / "dimensions.md").read_text(), r"[a-z_]+")
    table = {name: rows[name] for name in EVALUATORS}
    for name, cells in table.items():
        assert float(cells[0]) == thresholds["thresholds"][name], name
        for modality, cell in zip(("tabular", "text", "time_series"), cells[1:], strict=True):
            expected = thresholds["thresholds_by_modality"][modality].get(name)
            assert cell == "(default)" if expected is None else float(cell) == expected, (
                name,
                modality,
            )


def test_error_table_lists_every_code():
    rows = _table_rows((DOCS / "errors.md").read_text(), r"\d{4}")
    assert {int(code): cells[0] for code, cells in rows.items()} == {
        int(code): code.name for code in ErrorCode
    }


def test_readme_links_only_to_documentation_inside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            assert (page.parent / target).exists(), (page.name, target)
