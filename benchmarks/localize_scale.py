"""How long the localizer takes on a million rows, beside the collapse detector on the same
data in the same run.

    python benchmarks/localize_scale.py [--rows 1000000] [--reference-rows 100000]
        [--columns 20] [--threads 2] [--out DIR]

Data (seeded): a table of `--columns` numeric columns drawn from a mixture of correlated
Gaussians, two categorical columns and a class label depending on them; the candidate gets
1 % exact duplicates, 1 % near duplicates, 0.5 % copies of reference rows, 1 % flipped labels
and 0.5 % rows shifted by 6 sds on two columns. Both are written as Parquet, then timed:
`synthos.analysis.localize.localize(candidate, reference)` (data evidence on every row, no
cascade) and, as the baseline, `synthos.analysis.collapse.detect_collapse` on the same
files (the detector hashes every row and samples the rest). Printed: wall seconds of each,
their ratio, peak resident memory, and the AUPRC of the localizer's score for each injected
issue against the clean rows (a sanity check that speed was not bought with blindness).
Timings on a shared machine are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARES = {
    "duplicate": 0.01,
    "near": 0.01,
    "memorized": 0.005,
    "label_noise": 0.01,
    "shifted": 0.005,
}


def make_table(rows: int, columns: int, rng: np.random.Generator) -> pd.DataFrame:
    """`rows` rows of one fixed distribution (its shape does not depend on `rng`)."""
    shape = np.random.default_rng(12345)
    centres = shape.normal(scale=3.0, size=(4, columns))
    mixing = shape.normal(size=(columns, columns)) / np.sqrt(columns)
    component = rng.integers(0, 4, size=rows)
    values = centres[component] + rng.normal(size=(rows, columns)) @ mixing
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(columns)])
    frame["region"] = np.array(["north", "south", "east", "west"])[component]
    frame["channel"] = rng.choice(["web", "store", "phone"], size=rows, p=[0.6, 0.3, 0.1])
    score = values[:, 0] - values[:, 1] + (component == 2) * 2 + rng.normal(scale=0.5, size=rows)
    frame["label"] = np.where(score > 0, "yes", "no")
    return frame


def inject(candidate: pd.DataFrame, reference: pd.DataFrame, rng: np.random.Generator):
    n = len(candidate)
    picks = rng.permutation(n)
    at, truth = 0, {}
    for name, share in SHARES.items():
        count = int(share * n)
        truth[name] = np.sort(picks[at : at + count])
        at += count
    pool = picks[at:]
    numeric = [c for c in candidate.columns if c.startswith("x")]
    sources = rng.choice(pool, size=len(truth["duplicate"]), replace=False)
    candidate.iloc[truth["duplicate"]] = candidate.iloc[sources].to_numpy()
    truth["duplicate"] = np.sort(np.r_[truth["duplicate"], sources])
    sources = rng.choice(pool, size=len(truth["near"]), replace=False)
    near = candidate.iloc[sources].copy()
    near[numeric] += 0.01 * rng.normal(size=(len(near), len(numeric)))
    candidate.iloc[truth["near"]] = near.to_numpy()
    truth["near"] = np.sort(np.r_[truth["near"], sources])
    copies = rng.choice(len(reference), size=len(truth["memorized"]), replace=False)
    candidate.iloc[truth["memorized"]] = reference.iloc[copies].to_numpy()
    flips = truth["label_noise"]
    candidate.loc[flips, "label"] = np.where(candidate.loc[flips, "label"] == "yes", "no", "yes")
    for row in truth["shifted"]:
        for column in rng.choice(numeric, size=2, replace=False):
            candidate.at[row, column] += 6 * reference[column].std()
    return candidate, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write results.json here")
    args = parser.parse_args(argv)

    from sklearn.metrics import average_precision_score

    from synthos.analysis.collapse import CollapseConfig, detect_collapse
    from synthos.analysis.localize import LocalizeConfig, localize

    rng = np.random.default_rng(0)
    work = Path(tempfile.mkdtemp(prefix="synthos-localize-scale-"))
    reference = make_table(args.reference_rows, args.columns, rng)
    candidate, truth = inject(make_table(args.rows, args.columns, rng), reference, rng)
    cand_path, ref_path = work / "candidate.parquet", work / "reference.parquet"
    candidate.to_parquet(cand_path, index=False)
    reference.to_parquet(ref_path, index=False)
    del candidate

    started = time.perf_counter()
    detect_collapse(
        str(cand_path),
        str(ref_path),
        config=CollapseConfig(threads=args.threads, model_threads=args.threads),
    )
    detect_s = time.perf_counter() - started
    started = time.perf_counter()
    config = LocalizeConfig(threads=args.threads, model_threads=args.threads)
    result = localize(str(cand_path), str(ref_path), config=config)
    localize_s = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    scores = result.scores
    injected = np.unique(np.concatenate(list(truth.values())))
    clean = np.setdiff1d(np.arange(len(scores)), injected)
    quality = {}
    for name, rows in truth.items():
        keep = np.r_[rows, clean]
        labels = np.r_[np.ones(len(rows), bool), np.zeros(len(clean), bool)]
        quality[name] = round(float(average_precision_score(labels, scores[keep])), 3)
    payload = {
        "rows": args.rows,
        "reference_rows": args.reference_rows,
        "columns": args.columns + 3,
        "threads": args.threads,
        "localize_seconds": round(localize_s, 1),
        "detect_collapse_seconds": round(detect_s, 1),
        "ratio_localize_over_detect": round(localize_s / detect_s, 2),
        "peak_rss_gib": round(peak_gib, 2),
        "localize_timings": result.timings,
        "auprc_by_injected_issue": quality,
        "rows_flagged": int(result.flagged_rows().size),
    }
    print(json.dumps(payload, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "localize_scale.json").write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
