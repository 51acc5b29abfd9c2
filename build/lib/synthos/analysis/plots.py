"""The strata plot: stratum sizes (largest first, rare ones marked) and the Lorenz curve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .strata import lorenz_curve

if TYPE_CHECKING:  # pragma: no cover
    from .diversity import DiversityResult

MAX_BARS = 200


def plot_strata(result: DiversityResult, path: str | Path) -> Path:
    """Write a PNG of the stratum size distribution of `result` to `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    strata = result.strata["strata"]
    counts = np.array([s["rows"] for s in strata], dtype=np.float64)
    rare = np.array([s["rare"] for s in strata], dtype=bool)
    total = float(result.dataset["rows"]) or 1.0
    threshold = result.config["rare_threshold"] * total

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2.2, 1]}
    )
    shown = min(counts.size, MAX_BARS)
    x = np.arange(shown)
    colors = np.where(rare[:shown], "#d62728", "#1f77b4")
    left.bar(x, counts[:shown], color=colors, width=1.0 if shown > 60 else 0.8)
    left.axhline(
        threshold,
        color="#555555",
        linestyle="--",
        linewidth=1,
        label=f"rare threshold ({result.config['rare_threshold']:.0%} of rows)",
    )
    left.set_yscale("log")
    left.set_xlabel(
        "stratum (largest first)"
        + (f"; first {MAX_BARS} of {counts.size}" if counts.size > shown else "")
    )
    left.set_ylabel("rows")
    dims = ", ".join(result.strata["dimensions_names"]) or "(one stratum)"
    left.set_title(f"{counts.size} strata over [{dims}]", fontsize=10)
    if rare.any():
        from matplotlib.patches import Patch

        handles, _ = left.get_legend_handles_labels()
        handles.append(Patch(color="#d62728", label="rare stratum"))
        left.legend(handles=handles, loc="upper right", fontsize=8)
    else:
        left.legend(loc="upper right", fontsize=8)

    lx, ly = lorenz_curve(counts)
    right.plot(lx, ly, color="#1f77b4", label="strata")
    right.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="equal sizes")
    right.set_xlabel("share of strata (smallest first)")
    right.set_ylabel("share of rows")
    right.set_title(
        f"Lorenz curve: gini {result.gini:.3f}, entropy {result.entropy:.3f}", fontsize=10
    )
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
