"""Backtest of the loss law on public language-model runs it never saw.

Data: `../shared/fixtures/scaling_runs/runs.csv` (Gadre et al. 2024: 3 corpora x 4 shapes x
token multipliers 0.25-32; each row is the end of its own cosine-schedule run). Per corpus,
`synthos.cascade.loss_law.fit_loss_law` is fitted on the three smaller shapes (10.6M, 79M
and 154M parameters) and predicts every run of the largest shape (`d=1024_l=24_h=8`, 412M
parameters, 2-263B tokens) from its parameter count and tokens alone. Metric: the C4
validation loss.

Baseline, in the same run: the loss of the largest fitted shape (`d=576_l=24_h=8`) at the
nearest chinchilla multiplier (what a user would guess without a law).

Reported per corpus and overall: mean |relative error| of the law and of the baseline, their
ratio, the 90 % intervals' coverage and median relative width ((upper - lower) / predicted).
N is the parameter count with embeddings (`params`), as in the Chinchilla law the fit
implements (its 20 tokens per parameter count every parameter, as do this fixture's
multipliers); the same figures with `params_no_embed` are printed beside for reference.

A second, post-hoc block (not the goal's figure) repeats the backtest without the runs that
end inside their own warmup: the fixture's warmup is 100 / 400 / 400 / 2000 steps for the
four shapes, so with open_lm's 2048-token context the 79M runs at 0.25x (376 steps) and the
held-out 412M run at 0.25x (1963 steps) stop before their learning rate has peaked; they are
not "end of a cosine schedule" points, which is what the law describes.

    python benchmarks/scaling_backtest.py --out /tmp/scaling_backtest

Writes OUT/backtest.json and OUT/backtest.png (runs, fitted law per shape, held-out
intervals).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time
from pathlib import Path

import numpy as np

from synthos.cascade.loss_law import fit_loss_law
from synthos.fileio import atomic_write, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT.parent / "shared" / "fixtures" / "scaling_runs" / "runs.csv"
HELD_OUT = "d=1024_l=24_h=8"
BASELINE_SHAPE = "d=576_l=24_h=8"
METRIC = "loss_c4_val"
LEVEL = 0.9
N_COLUMNS = ("params", "params_no_embed")
SEQUENCE_LENGTH = 2048
SUBSETS = ("all", "without_warmup_ends")


def ends_in_warmup(row: dict) -> bool:
    steps = float(row["tokens"]) / (float(row["global_bs"]) * SEQUENCE_LENGTH)
    return steps <= float(row["warmup"])


def read_runs(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def baseline(train: list[dict], multiplier: float) -> float:
    """The largest fitted shape's loss at the multiplier nearest (in log) to `multiplier`."""
    pool = [r for r in train if r["model"] == BASELINE_SHAPE]
    best = min(pool, key=lambda r: abs(math.log(float(r["chinchilla_multiplier"]) / multiplier)))
    return float(best[METRIC])


def backtest_corpus(rows: list[dict], n_column: str, n_bootstrap: int, seed: int) -> dict:
    train = [r for r in rows if r["model"] != HELD_OUT]
    test = [r for r in rows if r["model"] == HELD_OUT]
    column = lambda rs, name: np.array([float(r[name]) for r in rs])  # noqa: E731
    started = time.perf_counter()
    fit = fit_loss_law(
        column(train, n_column),
        column(train, "tokens"),
        column(train, METRIC),
        seed=seed,
        n_bootstrap=n_bootstrap,
    )
    predictions = fit.predict(column(test, n_column), column(test, "tokens"), level=LEVEL)
    seconds = time.perf_counter() - started
    runs = []
    for row, pred in zip(test, predictions, strict=True):
        actual = float(row[METRIC])
        base = baseline(train, float(row["chinchilla_multiplier"]))
        runs.append(
            {
                "multiplier": float(row["chinchilla_multiplier"]),
                "params": pred.params,
                "tokens": pred.tokens,
                "actual": actual,
                "predicted": pred.predicted,
                "lower": pred.lower,
                "upper": pred.upper,
                "baseline": base,
                "error": pred.predicted / actual - 1.0,
                "baseline_error": base / actual - 1.0,
                "covered": pred.lower <= actual <= pred.upper,
                "width": (pred.upper - pred.lower) / pred.predicted,
            }
        )
    return {"fit": fit.to_dict(), "runs": runs, "seconds": seconds, "_fit": fit}


def summarise(runs: list[dict]) -> dict:
    mare = float(np.mean([abs(r["error"]) for r in runs]))
    base = float(np.mean([abs(r["baseline_error"]) for r in runs]))
    return {
        "n": len(runs),
        "mare": mare,
        "baseline_mare": base,
        "ratio": base / mare if mare > 0 else None,
        "coverage": float(np.mean([r["covered"] for r in runs])),
        "median_width": float(np.median([r["width"] for r in runs])),
    }


def plot(results: dict, rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = list(results)
    fig, axes = plt.subplots(1, len(corpora), figsize=(5 * len(corpora), 4.2), sharey=True)
    shapes = sorted({r["model"] for r in rows}, key=lambda m: float(_first(rows, m)["params"]))
    colours = dict(zip(shapes, plt.cm.viridis(np.linspace(0, 0.9, len(shapes))), strict=True))
    for ax, corpus in zip(np.atleast_1d(axes), corpora, strict=True):
        fit = results[corpus]["params"]["_fit"]
        for shape in shapes:
            mine = [r for r in rows if r["corpus"] == corpus and r["model"] == shape]
            n = float(mine[0]["params"])
            tokens = np.array([float(r["tokens"]) for r in mine])
            grid = np.geomspace(tokens.min() / 1.5, tokens.max() * 1.5, 60)
            preds = fit.predict(np.full(grid.size, n), grid, level=LEVEL)
            held = shape == HELD_OUT
            ax.plot(grid, [p.predicted for p in preds], color=colours[shape], lw=1.2)
            if held:
                ax.fill_between(
                    grid,
                    [p.lower for p in preds],
                    [p.upper for p in preds],
                    color=colours[shape],
                    alpha=0.2,
                    label="90 % interval (held out)",
                )
            ax.scatter(
                tokens,
                [float(r[METRIC]) for r in mine],
                color=colours[shape],
                marker="x" if held else "o",
                s=28,
                label=f"{shape} ({n / 1e6:.0f}M{', held out' if held else ''})",
            )
        ax.set_xscale("log")
        ax.set_title(corpus)
        ax.set_xlabel("tokens")
    np.atleast_1d(axes)[0].set_ylabel(METRIC)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def _first(rows: list[dict], model: str) -> dict:
    return next(r for r in rows if r["model"] == model)


def print_block(subset: str, results: dict) -> dict:
    """Print one table (per corpus and pooled, for each N column); return the pooled figures."""
    print(f"-- {subset}")
    header = f"{'corpus':<12} {'N':<16} {'n':>2} {'MARE':>7} {'base':>7} {'ratio':>6}"
    print(header + f" {'cover':>6} {'width':>6} {'deg':>4} {'s':>5}  E alpha beta")
    summary = {}
    for n_column in N_COLUMNS:
        pooled = []
        for corpus, by_column in results.items():
            entry = by_column[n_column]
            pooled += entry["runs"]
            entry["summary"] = stats = summarise(entry["runs"])
            params = entry["fit"]["parameters"]
            print(
                _row(corpus, n_column, stats)
                + f" {'yes' if entry['fit']['degenerate'] else 'no':>4} {entry['seconds']:>5.1f}"
                + f"  {params['E']:.3f} {params['alpha']:.3f} {params['beta']:.3f}"
            )
        summary[n_column] = summarise(pooled)
        print(_row("all", n_column, summary[n_column]))
    return summary


def print_goals(stats: dict) -> None:
    """The issue's goals on the headline figures (all runs, N = params)."""
    goals = [
        ("mean |relative error| <= 1.5 %", stats["mare"] <= 0.015, f"{stats['mare']:.2%}"),
        ("coverage 80-100 %", 0.8 <= stats["coverage"] <= 1.0, f"{stats['coverage']:.0%}"),
        ("median width <= 8 %", stats["median_width"] <= 0.08, f"{stats['median_width']:.2%}"),
        ("error >= 5x below the baseline", (stats["ratio"] or 0) >= 5, f"{stats['ratio']:.1f}x"),
    ]
    for text, met, value in goals:
        print(f"goal {text:<34} {value:>8}  {'met' if met else 'MISSED'}")


def _row(name: str, n_column: str, stats: dict) -> str:
    return (
        f"{name:<12} {n_column:<16} {stats['n']:>2} {stats['mare']:>7.2%} "
        f"{stats['baseline_mare']:>7.2%} {stats['ratio']:>6.1f} "
        f"{stats['coverage']:>6.0%} {stats['median_width']:>6.2%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--out", type=Path, default=Path("/tmp/scaling_backtest"))
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = read_runs(args.runs)
    load = os.getloadavg()
    results: dict = {subset: {} for subset in SUBSETS}
    for corpus in sorted({r["corpus"] for r in rows}):
        mine = [r for r in rows if r["corpus"] == corpus]
        kept = [r for r in mine if not ends_in_warmup(r)]
        for subset, chosen in zip(SUBSETS, (mine, kept), strict=True):
            results[subset][corpus] = {
                n_column: backtest_corpus(chosen, n_column, args.bootstrap, args.seed)
                for n_column in N_COLUMNS
            }
    print(f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    summary = {subset: print_block(subset, results[subset]) for subset in SUBSETS}
    print_goals(summary["all"]["params"])
    png = plot(results["all"], rows, args.out / "backtest.png")
    for by_corpus in results.values():
        for by_column in by_corpus.values():
            for entry in by_column.values():
                entry.pop("_fit")
    payload = {"level": LEVEL, "load": load, "summary": summary, "corpora": results}
    print(f"wrote {write_json_atomic(args.out / 'backtest.json', payload)} and {png}")


if __name__ == "__main__":
    main()
