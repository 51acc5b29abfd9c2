"""report.md and report.html: the report a person opens, rendered from a run directory.

Both come from the same `RunContents` through Jinja2 templates (`templates/`). The HTML page
is self-contained: inline CSS, pictures as base64 PNG, no script and no network request, so
it opens the same from a laptop, a CI artifact or an air-gapped cluster.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from synthos.fileio import atomic_write_text
from synthos.report import figures
from synthos.report.run_contents import RunContents, load_run

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
#: Section ids of the HTML page, in order (the browser test looks for each).
SECTIONS = (
    "verdict",
    "dimensions",
    "prediction",
    "loss-curves",
    "row-scores",
    "regions",
    "recommendations",
    "before-after",
    "signature-matches",
    "timings",
)


@dataclass(frozen=True)
class ReportDocuments:
    markdown: Path
    html: Path


def write_documents(run_dir: str | Path) -> ReportDocuments:
    """Render report.md and report.html into `run_dir` from what it holds (atomically, so a
    reader never opens half a page)."""
    contents = load_run(run_dir)
    markdown = atomic_write_text(contents.run_dir / MARKDOWN_FILE, render_markdown(contents))
    html = atomic_write_text(contents.run_dir / HTML_FILE, render_html(contents))
    return ReportDocuments(markdown=markdown, html=html)


def render_markdown(contents: RunContents) -> str:
    return _environment().get_template("report.md.j2").render(**_context(contents))


def render_html(contents: RunContents) -> str:
    context = _context(contents)
    context["images"] = _images(contents)
    return _environment().get_template("report.html.j2").render(**context)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("synthos.report", "templates"),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * float(v):.0f}%"
    return env


def format_number(value: Any, digits: int = 4) -> str:
    """A number for people: `digits` significant digits, thousands separators for integers,
    'n/a' for a missing value."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _context(contents: RunContents) -> dict[str, Any]:
    report = contents.report
    return {
        "report": report,
        "run_dir": str(contents.run_dir),
        "cascade": contents.cascade,
        "jobs": (contents.cascade or {}).get("jobs") or [],
        "loss_curves": contents.loss_curves,
        "row_scores": contents.row_scores,
        "has_scaling_plot": contents.scaling_plot is not None,
        "ran": {key: contents.stage_ran(key) for key in _OPTIONAL_STAGES},
        "verdict": _verdict(report),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "sections": SECTIONS,
    }


_OPTIONAL_STAGES = ("regions", "recommendations", "signature_matches")


def _verdict(report: dict[str, Any]) -> str:
    if report["collapse_detected"] is None:
        return "not run"
    return "collapse detected" if report["collapse_detected"] else "no collapse detected"


def _images(contents: RunContents) -> dict[str, str]:
    """data: URIs of the pictures the page shows (only those with something to draw)."""
    images = {}
    if contents.report["dimensions"]:
        images["dimensions"] = figures.dimensions_chart(contents.report["dimensions"])
    if contents.scaling_plot is not None:
        images["scaling"] = contents.scaling_plot.read_bytes()
    if contents.loss_curves:
        images["loss_curves"] = figures.loss_curves_chart(contents.loss_curves)
    if contents.row_scores is not None and contents.row_scores.scores:
        images["row_scores"] = figures.row_scores_chart(contents.row_scores.scores)
    return {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in images.items()
    }
