"""The dimensions plot: each dimension's score as a bar against its threshold."""

from __future__ import annotations

from pathlib import Path

from .result import CollapseResult

PASS_COLOR, FAIL_COLOR, MISSING_COLOR = "#2ca02c", "#d62728", "#bbbbbb"


def plot_dimensions(result: CollapseResult, path: str | Path) -> Path:
    """Write a PNG bar chart of the dimension scores and thresholds to `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dims = result.dimensions
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for i, d in enumerate(dims):
        if d.evaluated:
            color = PASS_COLOR if d.passed else FAIL_COLOR
            ax.bar(i, d.score, color=color, width=0.7)
            ax.text(i, d.score + 1.5, f"{d.score:.0f}", ha="center", fontsize=9)
        else:
            ax.bar(i, 100, color="none", edgecolor=MISSING_COLOR, hatch="//", width=0.7)
            ax.text(i, 50, "not\nevaluated", ha="center", va="center", fontsize=8)
        ax.plot([i - 0.4, i + 0.4], [d.threshold, d.threshold], color="black", linewidth=2)
    ax.set_xticks(range(len(dims)))
    ax.set_xticklabels([d.name.replace("_", "\n") for d in dims], fontsize=8)
    ax.set_ylim(0, 108)
    ax.set_ylabel("score (100 = healthy); black line: threshold")
    verdict = "collapse detected" if result.collapse_detected else "no collapse detected"
    ax.set_title(
        f"{verdict}: overall {result.overall_score}, risk {result.risk_score}, "
        f"severity {result.severity}"
        + (f", type {result.collapse_type}" if result.collapse_type else "")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
