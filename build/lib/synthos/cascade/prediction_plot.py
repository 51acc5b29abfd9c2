"""The prediction as a picture: every job's budget points with the law's curve per size and
the target's predicted loss; beside it, the loss-to-metric map with the target's metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthos.cascade.prediction import CascadePrediction, LawPoint, NoPrediction

__all__ = ["plot_prediction"]


def plot_prediction(
    outcome: CascadePrediction | NoPrediction, points: list[LawPoint], path: str | Path
) -> Path:
    """Write a PNG of the law and (when there is one) the metric map."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    has_map = isinstance(outcome, CascadePrediction) and outcome.metric_map is not None
    fig = Figure(figsize=(12 if has_map else 7, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    law_axes = fig.add_subplot(1, 2 if has_map else 1, 1)
    _law_panel(law_axes, outcome, points)
    if has_map:
        _map_panel(fig.add_subplot(1, 2, 2), outcome, points)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _law_panel(ax, outcome, points: list[LawPoint]) -> None:
    sizes = sorted({p.params for p in points})
    for index, size in enumerate(sizes):
        mine = [p for p in points if p.params == size]
        colour = f"C{index % 10}"
        ax.scatter(
            [p.tokens for p in mine],
            [p.loss for p in mine],
            s=14,
            alpha=0.6,
            color=colour,
            label=f"N={size:,} ({len({p.job for p in mine})} jobs)",
        )
        if isinstance(outcome, CascadePrediction):
            tokens = np.geomspace(min(p.tokens for p in mine) / 2, max(p.tokens for p in mine) * 2)
            curve = outcome.law.predict(np.full(tokens.size, size), tokens, level=outcome.level)
            ax.plot(tokens, [c.predicted for c in curve], color=colour, lw=1)
    if isinstance(outcome, CascadePrediction):
        loss = outcome.loss
        ax.errorbar(
            [outcome.target_tokens],
            [loss.predicted],
            yerr=[[loss.predicted - loss.lower], [loss.upper - loss.predicted]],
            fmt="*",
            color="black" if not outcome.degenerate else "gray",
            markersize=12,
            capsize=5,
            label=f"target N={outcome.target_params:.3g}, D={outcome.target_tokens:.3g}: "
            f"{loss.predicted:.4g} [{loss.lower:.4g}, {loss.upper:.4g}]",
        )
        title = f"Loss law {outcome.law.formula}"
        if outcome.degenerate:
            title += f"\nDEGENERATE: {outcome.reason}"
    else:
        title = f"No prediction: {outcome.reason}"
    ax.set_xscale("log")
    ax.set_xlabel("training tokens D")
    ax.set_ylabel("held-out loss")
    ax.set_title(title, fontsize=8, wrap=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _map_panel(ax, outcome: CascadePrediction, points: list[LawPoint]) -> None:
    scored = [p for p in points if p.metric is not None]
    ax.scatter([p.loss for p in scored], [p.metric for p in scored], s=14, alpha=0.6)
    lows = [p.loss for p in scored] + [outcome.loss.lower]
    highs = [p.loss for p in scored] + [outcome.loss.upper]
    grid = np.linspace(min(lows), max(highs), 200)
    ax.plot(grid, outcome.metric_map(grid), color="C3", lw=1, label="loss-to-metric map")
    value = outcome.value
    ax.errorbar(
        [outcome.loss.predicted],
        [value.predicted],
        yerr=[[value.predicted - value.lower], [value.upper - value.predicted]],
        fmt="*",
        color="black",
        markersize=12,
        capsize=5,
        label=f"target: {value.predicted:.4g} [{value.lower:.4g}, {value.upper:.4g}]",
    )
    ax.set_xlabel("held-out loss")
    ax.set_ylabel(outcome.headline.point_key)
    ax.set_title("Metric from loss (fitted on the cascade's budget points)", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
