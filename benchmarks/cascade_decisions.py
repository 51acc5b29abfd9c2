"""Decisions: does the cascade rank datasets in the order larger models trained on them do?

One real base table (scikit-learn's digits) is split once into a training pool and a real
reference; six candidate datasets are derived from the pool: clean, 10 % and 30 % of the
labels flipped, heavy duplication (a quarter of the rows, each four times), half synthetic
(half the rows replaced by draws from per-class independent marginals) and collapsed
(synthetic rows with the per-class spread shrunk to a third). For each candidate: the quick
cascade, and a held-out model 4x its largest tier trained by the same protocol
(`cascade_holdout`), both evaluated on held-out rows of the same real reference. Pairwise
decision accuracy: over every pair of candidates whose held-out models differ, is the order
of the cascade's predictions the order of the measured metric? Beside it, the baseline the
DataDecide study found hard to beat: ranking by the largest tier's mean.

    python benchmarks/cascade_decisions.py --out /tmp/decisions
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from cascade_holdout import compare, measured, predicted, train_cascade, train_heldout, write_json

TARGET = "target"
REFERENCE_ROWS = 600


def base_split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The digits table (pixel counts 0-16, the digit last) as (pool, reference)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype(int), columns=[f"p{i}" for i in range(64)])
    frame[TARGET] = [f"d{label}" for label in digits.target]
    order = np.random.default_rng(seed).permutation(len(frame))
    reference = frame.iloc[order[:REFERENCE_ROWS]].reset_index(drop=True)
    return frame.iloc[order[REFERENCE_ROWS:]].reset_index(drop=True), reference


def flipped(pool: pd.DataFrame, share: float, rng) -> pd.DataFrame:
    out = pool.copy()
    rows = rng.choice(len(out), size=round(share * len(out)), replace=False)
    labels = sorted(out[TARGET].unique())
    for row in rows:
        others = [label for label in labels if label != out.at[row, TARGET]]
        out.at[row, TARGET] = rng.choice(others)
    return out


def duplicated(pool: pd.DataFrame, rng) -> pd.DataFrame:
    keep = pool.iloc[rng.choice(len(pool), size=len(pool) // 4, replace=False)]
    return pd.concat([keep] * 4, ignore_index=True).sample(frac=1.0, random_state=0)


def synthetic_rows(pool: pd.DataFrame, n: int, spread: float, rng) -> pd.DataFrame:
    """Per class, each pixel drawn independently around its class mean (correlations gone),
    its deviation scaled by `spread`, rounded and clipped to the pixel range."""
    classes = pool[TARGET].to_numpy()
    picked = rng.choice(len(pool), size=n, replace=True)
    rows = []
    for index in picked:
        same = pool[classes == classes[index]].drop(columns=TARGET)
        donor = same.iloc[rng.integers(0, len(same), size=same.shape[1]), :].to_numpy()
        values = np.diag(donor)  # each pixel from an independent row of the class
        values = same.mean().to_numpy() + spread * (values - same.mean().to_numpy())
        rows.append([*np.clip(np.rint(values), 0, 16).astype(int), classes[index]])
    return pd.DataFrame(rows, columns=pool.columns)


def candidates(pool: pd.DataFrame, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    half = len(pool) // 2
    keep = pool.iloc[rng.choice(len(pool), size=len(pool) - half, replace=False)]
    return {
        "clean": pool,
        "label_noise_10": flipped(pool, 0.10, rng),
        "label_noise_30": flipped(pool, 0.30, rng),
        "duplicated": duplicated(pool, rng),
        "half_synthetic": pd.concat(
            [keep, synthetic_rows(pool, half, 1.0, rng)], ignore_index=True
        ).sample(frac=1.0, random_state=1),
        "collapsed": synthetic_rows(pool, len(pool), 1 / 3, rng),
    }


def write_tables(out: Path) -> tuple[dict[str, Path], Path]:
    pool, reference = base_split()
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    reference_path = data / "reference.parquet"
    reference.to_parquet(reference_path, index=False)
    paths = {}
    for name, frame in candidates(pool).items():
        paths[name] = data / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths, reference_path


def pairwise(rows: list[dict], key: str) -> dict:
    """Share of the pairs with different measured metrics that `key` orders the same way."""
    agree = total = 0
    for a, b in itertools.combinations(rows, 2):
        if a[key] is None or b[key] is None or a["actual"] == b["actual"]:
            continue
        total += 1
        agree += (a[key] > b[key]) == (a["actual"] > b["actual"])
    return {"pairs": total, "agree": agree, "accuracy": agree / total if total else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", help="comma-separated candidate names (default: all)")
    args = parser.parse_args(argv)
    paths, reference = write_tables(args.out)
    names = args.only.split(",") if args.only else list(paths)
    rows = []
    for name in names:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
        data = [
            "data=tabular",
            f"data.path={paths[name]}",
            f"data.reference_path={reference}",
            f"data.target_column={TARGET}",
            "data.val_fraction=0.2",
            "data.test_fraction=0.5",
            "data.batch_size=32",
        ]
        work = args.out / name
        work.mkdir(parents=True, exist_ok=True)
        sweep = train_cascade(data, work, f"decide-{name}", args.profile)
        actual = measured(train_heldout(data, work, f"heldout-{name}", args.profile, "resonance"))
        rows.append(compare(name, predicted(sweep, actual), actual))
        write_json(args.out / "decisions.json", {"rows": rows})
    summary = {
        "prediction": pairwise(rows, "predicted"),
        "baseline_largest_tier_mean": pairwise(rows, "baseline"),
    }
    write_json(args.out / "decisions.json", {"rows": rows, "summary": summary})
    print("| candidate | actual | predicted [interval] | largest-tier mean |\n|---|---|---|---|")
    for r in rows:
        interval = (
            "-"
            if r["predicted"] is None
            else (f"{r['predicted']:.4f} [{r['lower']:.4f}, {r['upper']:.4f}]")
        )
        print(f"| {r['dataset']} | {r['actual']:.4f} | {interval} | {r['baseline']:.4f} |")
    print(
        f"\npairwise decision accuracy: prediction {summary['prediction']}, "
        f"largest-tier mean {summary['baseline_largest_tier_mean']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
