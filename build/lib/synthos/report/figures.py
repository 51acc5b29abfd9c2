"""The report's pictures, drawn from report.json and the run directory's records, as PNG
bytes so the HTML report can inline them (no file beside it, no network)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from synthos.report.run_contents import LossCurve

PASS_COLOR, FAIL_COLOR, MISSING_COLOR = "#2c8a3c", "#c9302c", "#9a9a9a"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def dimensions_chart(dimensions: Sequence[dict[str, Any]]) -> bytes:
    """Each dimension's score as a horizontal bar with its threshold as a black tick; a
    dimension that was not evaluated is an empty hatched bar."""
    fig = _figure(8, 0.45 * len(dimensions) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    for row, dim in enumerate(reversed(dimensions)):
        if dim["evaluated"]:
            colour = PASS_COLOR if dim["passed"] else FAIL_COLOR
            ax.barh(row, dim["score"], color=colour, height=0.6)
            ax.text(min(dim["score"] + 1, 92), row, f"{dim['score']:.1f}", va="center", fontsize=8)
        else:
            ax.barh(row, 100, color="none", edgecolor=MISSING_COLOR, hatch="//", height=0.6)
            ax.text(50, row, "not evaluated", va="center", ha="center", fontsize=8)
        threshold = dim["threshold"]
        ax.plot([threshold, threshold], [row - 0.38, row + 0.38], color="black", lw=2)
    ax.set_yticks(range(len(dimensions)))
    ax.set_yticklabels([d["name"] for d in reversed(dimensions)], fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (100 = healthy); black tick: threshold")
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)


def loss_curves_chart(curves: Sequence[LossCurve]) -> bytes:
    """Training loss against step, one panel per tier, one line per model of the tier."""
    tiers = sorted({c.tier for c in curves})
    fig = _figure(3.6 * len(tiers) + 0.6, 3.4)
    first = None
    for index, tier in enumerate(tiers):
        ax = fig.add_subplot(1, len(tiers), index + 1, sharey=first)
        first = first or ax
        for curve in (c for c in curves if c.tier == tier):
            style = "-" if curve.status == "completed" else ":"
            ax.plot(curve.steps, curve.losses, style, lw=1, label=f"{curve.job} ({curve.status})")
        ax.set_title(f"tier {tier}", fontsize=10)
        ax.set_xlabel("optimizer step")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="upper right")
    first.set_ylabel("training loss")
    return _png(fig)


def row_scores_chart(scores: Sequence[float]) -> bytes:
    """Histogram of the per-row impact scores (log counts: problem rows are the thin tail)."""
    fig = _figure(7, 3)
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(list(scores), bins=40, color="#4a6fa5")
    ax.set_yscale("log")
    ax.set_xlabel("row score (higher: more likely a problem row)")
    ax.set_ylabel("rows")
    ax.grid(True, alpha=0.3)
    return _png(fig)
