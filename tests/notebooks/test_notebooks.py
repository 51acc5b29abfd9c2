"""The notebooks in notebooks/: committed without outputs, and executed end to end with
nbclient (a real kernel, the smoke cascade and the sample pair)."""

from __future__ import annotations

import os

import nbformat
import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist_and_are_committed_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "reading_a_report.ipynb"}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def execute(path, tmp_path, monkeypatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    monkeypatch.setenv("SYNTHOS_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    # The kernel imports the package from this checkout, installed or not.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def _text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_runs_detection_the_smoke_cascade_and_reads_its_report(tmp_path, monkeypatch):
    notebook = execute(ROOT / "notebooks" / "quickstart.ipynb", tmp_path, monkeypatch)
    text = _text(notebook)
    assert "COLLAPSE DETECTED" in text  # the sample candidate is collapsed by construction
    assert "verdict: collapse detected" in text
    assert "test/target_acc at 30,000,000 parameters" in text
    assert "image/png" in str(notebook.cells)  # the scaling fit is shown
    assert "the localizer has not run" in text or "issue_type" in text
    sweeps = list((tmp_path / "logs" / "cascade").iterdir())
    assert len(sweeps) == 1 and (sweeps[0] / "report.html").is_file()


@pytest.mark.slow
def test_reading_a_report_walks_a_detect_report(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHOS_REPORT_DIR", raising=False)
    notebook = execute(ROOT / "notebooks" / "reading_a_report.ipynb", tmp_path, monkeypatch)
    text = _text(notebook)
    assert "schema problems: []" in text
    assert "prediction: null - no cascade was trained" in text
    assert "regions: not run (empty)" in text
    assert "root causes add up to 100.0 %" in text
    assert (tmp_path / "detect" / "report.html").is_file()
