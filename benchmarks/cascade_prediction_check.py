"""Held-out larger models: does the cascade predict a model 4x its largest tier?

For each dataset: the quick cascade, then one model with 4x the parameters (without
embeddings) of the largest tier, trained by the same protocol at its own budget
(`cascade_holdout`); the cascade then predicts that size and budget, and the prediction is
compared with what the held-out model measured, beside the simplest baseline: the mean of
the largest tier. Datasets: two texts (the stdlib docstrings; a synthetic trigram candidate
against real docstrings) and two tables (the breast-cancer synthetic candidate against the
real table; the digits table), at least one of each with a reference.

    python benchmarks/cascade_prediction_check.py --out /tmp/check
    python benchmarks/cascade_prediction_check.py --datasets text,digits --out /tmp/check

Results: OUT/check.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cascade_holdout import compare, measured, predicted, train_cascade, train_heldout, write_json

#: name -> data overrides of `train.py` (tables other than the sample are written first).
DATASETS = {
    "text": ["data=text_sample"],
    "text_pair": ["data=text_pair"],
    "tabular_pair": ["data=tabular_pair"],
    "digits": None,
}


def data_overrides(name: str, data_dir: Path) -> list[str]:
    if DATASETS[name] is not None:
        return DATASETS[name]
    from synthos.datamodules.sample_data import TABLE_TARGET, sample_table

    path = sample_table(data_dir, name)
    return ["data=tabular_sample", f"data.path={path}", f"data.target_column={TABLE_TARGET[name]}"]


def check(name: str, out: Path, profile: str) -> dict:
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    data = data_overrides(name, out / "data")
    started = time.time()
    sweep = train_cascade(data, work, f"check-{name}", profile)
    family = "resonance"
    heldout = measured(train_heldout(data, work, f"heldout-{name}", profile, family))
    row = compare(name, predicted(sweep, heldout), heldout)
    row["minutes"] = round((time.time() - started) / 60, 1)
    return row


def summarize(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["error_prediction"] is not None]
    mae = sum(r["error_prediction"] for r in scored) / max(1, len(scored))
    base = [r["error_baseline"] for r in rows if r["error_baseline"] is not None]
    mae_base = sum(base) / max(1, len(base))
    return {
        "datasets": len(rows),
        "predicted": len(scored),
        "covered": sum(bool(r["covered"]) for r in scored),
        "mae_prediction": mae,
        "mae_baseline": mae_base,
        "ratio": mae / mae_base if mae_base else None,
        "closer_than_baseline": sum(r["error_prediction"] < r["error_baseline"] for r in scored),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| dataset | metric | held-out N / D | actual | predicted [90 % interval] | covered "
        "| largest-tier mean | err pred | err base | loss actual / predicted | minutes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        size = f"{r['heldout_params']:,} / {r['heldout_tokens']:,}"
        if r["predicted"] is None:
            pred, err, loss = f"none: {r['unavailable']}", "-", f"{r['actual_loss']:.4f} / -"
        else:
            flag = " degenerate" if r["degenerate"] else ""
            pred = f"{r['predicted']:.4f} [{r['lower']:.4f}, {r['upper']:.4f}]{flag}"
            err = f"{r['error_prediction']:.4f}"
            loss = f"{r['actual_loss']:.4f} / {r['loss']['predicted']:.4f}"
        lines.append(
            f"| {r['dataset']} | {r['metric']} | {size} | {r['actual']:.4f} | {pred} "
            f"| {'yes' if r['covered'] else 'no'} | {r['baseline']:.4f} | {err} "
            f"| {r['error_baseline']:.4f} | {loss} | {r['minutes']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {sorted(DATASETS)}")
    rows = []
    for name in names:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
        rows.append(check(name, args.out, args.profile))
        write_json(args.out / "check.json", {"rows": rows})
    summary = summarize(rows)
    write_json(args.out / "check.json", {"rows": rows, "summary": summary})
    print(table(rows))
    print(
        f"\ncovered {summary['covered']}/{summary['predicted']}; closer than the baseline "
        f"{summary['closer_than_baseline']}/{summary['predicted']}; mean abs error "
        f"{summary['mae_prediction']:.4f} vs baseline {summary['mae_baseline']:.4f} "
        f"(ratio {summary['ratio']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
