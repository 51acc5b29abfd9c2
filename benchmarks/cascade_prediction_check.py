"""Honest check of the cascade's prediction against a model it never saw.

For each dataset it trains one held-out model larger than every tier (Resonance NN, d_model
192, 6 blocks: about 3x the quick profile's largest tier; the tier-3 data budget and steps),
then runs the quick cascade on the same data with `cascade.target_params` set to that
model's parameter count, and compares:

* the cascade's prediction (scaling law over the 18 models, bootstrap interval);
* the simplest baseline: the mean of the largest tier;

with the held-out model's actual test metric (test/loss for text, test/target_acc for
tables: train on the dataset, test on held-out rows; for `tabular_pair` the rows are real
while the training rows are the collapsed synthetic candidate). It prints one row per
dataset, the mean absolute error of each and their ratio (prediction / baseline; < 1 means
the cascade beats the baseline), and the interval's coverage.

    python benchmarks/cascade_prediction_check.py                       # text, tabular_pair, digits
    python benchmarks/cascade_prediction_check.py --datasets text,breast_cancer --out /tmp/check

Every run is a subprocess of `train.py` exactly as a user runs it; results go to
OUT/check.json. On 2 CPU cores each dataset takes about 10-15 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: name -> the data overrides of `train.py`; bundled tables other than the default one are
#: written first and passed by path (see `data_overrides`).
DATASETS = {
    "text": ["data=text_sample"],
    "breast_cancer": ["data=tabular_sample"],
    "tabular_pair": ["data=tabular_pair"],
    "digits": [],
    "wine": [],
    "diabetes": [],
}


def data_overrides(name: str, data_dir: Path) -> list[str]:
    if DATASETS[name]:
        return DATASETS[name]
    from synthos.datamodules.sample_data import TABLE_TARGET, sample_table

    path = sample_table(data_dir, name)
    return ["data=tabular_sample", f"data.path={path}", f"data.target_column={TABLE_TARGET[name]}"]


HELDOUT_MODEL = ["model=resonance_mini", "model.net.d_model=192", "model.net.n_layers=6"]


def _tier3_budget(profile: str) -> list[str]:
    """The trainer settings of the profile's largest tier, for the held-out model."""
    import yaml

    tiers = yaml.safe_load((ROOT / "conf" / "cascade" / f"{profile}.yaml").read_text())
    top = tiers["cascade"]["tiers"][-1]
    out = [
        "trainer.max_epochs=-1",
        "trainer.check_val_every_n_epoch=null",
        "trainer.num_sanity_val_steps=0",
        "trainer.enable_progress_bar=false",
        "test=true",
        f"data.train_fraction={top['data_fraction']}",
    ]
    out += [f"trainer.{k}={v}" for k, v in top["trainer"].items()]
    return out


def _run(cmd: list[str], log: Path) -> float:
    started = time.time()
    env = {**os.environ, "WANDB_MODE": "disabled"}
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")
    return time.time() - started


def check_dataset(name: str, profile: str, out: Path, data_dir: Path) -> dict:
    data = data_overrides(name, data_dir)
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    common = ["trainer=cpu", "logger=csv", f"paths.data_dir={data_dir}"]
    heldout_dir = work / "heldout"
    heldout_s = _run(
        [
            sys.executable,
            "train.py",
            *data,
            *HELDOUT_MODEL,
            *common,
            *_tier3_budget(profile),
            f"paths.log_dir={work}",
            f"hydra.run.dir={heldout_dir}",
            "resume=false",
        ],
        work / "heldout.log",
    )
    heldout = json.loads((heldout_dir / "metrics.json").read_text())
    if heldout.get("status") != "completed":
        raise RuntimeError(f"held-out model on {name} did not complete: {heldout.get('error')}")
    cascade_s = _run(
        [
            sys.executable,
            "train.py",
            f"+cascade={profile}",
            *data,
            *common,
            f"paths.log_dir={work}",
            f"cascade.validation_id=check-{name}",
            f"cascade.target_params={heldout['parameters']}",
        ],
        work / "cascade.log",
    )
    sweep = work / "cascade" / f"check-{name}"
    results = json.loads((sweep / "cascade_results.json").read_text())
    metric = results["metric"]
    actual = float(heldout["metrics"][metric])
    pred = results["prediction"]
    baseline = results["baseline_largest_tier_mean"]
    return {
        "dataset": name,
        "metric": metric,
        "heldout_params": heldout["parameters"],
        "largest_tier_params": max(j["parameters"] or 0 for j in results["jobs"]),
        "models_completed": results["models_completed"],
        "actual": actual,
        "predicted": pred["predicted"],
        "lower": pred["lower"],
        "upper": pred["upper"],
        "level": pred["level"],
        "degenerate": pred["degenerate"],
        "reason": pred.get("reason"),
        "covered": pred["lower"] <= actual <= pred["upper"],
        "baseline": baseline,
        "error_prediction": abs(pred["predicted"] - actual),
        "error_baseline": abs(baseline - actual) if baseline is not None else None,
        "seconds": {"heldout": round(heldout_s, 1), "cascade": round(cascade_s, 1)},
        "sweep_dir": str(sweep),
    }


def summarize(rows: list[dict]) -> dict:
    pred = [r["error_prediction"] for r in rows]
    base = [r["error_baseline"] for r in rows if r["error_baseline"] is not None]
    mae_pred = sum(pred) / len(pred)
    mae_base = sum(base) / len(base) if base else math.nan
    return {
        "datasets": len(rows),
        "covered": sum(r["covered"] for r in rows),
        "mae_prediction": mae_pred,
        "mae_baseline_largest_tier_mean": mae_base,
        "ratio_prediction_to_baseline": mae_pred / mae_base if mae_base else math.nan,
        "prediction_closer": sum(
            r["error_baseline"] is not None and r["error_prediction"] < r["error_baseline"]
            for r in rows
        ),
    }


def table(rows: list[dict]) -> str:
    head = (
        "| dataset | metric | held-out params | actual | predicted [interval] | covered "
        "| baseline | err pred | err base | minutes |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        minutes = (r["seconds"]["heldout"] + r["seconds"]["cascade"]) / 60
        flag = " (degenerate)" if r["degenerate"] else ""
        lines.append(
            f"| {r['dataset']} | {r['metric']} | {r['heldout_params']:,} | {r['actual']:.4f} "
            f"| {r['predicted']:.4f} [{r['lower']:.4f}, {r['upper']:.4f}]{flag} "
            f"| {'yes' if r['covered'] else 'no'} | {r['baseline']:.4f} "
            f"| {r['error_prediction']:.4f} | {r['error_baseline']:.4f} | {minutes:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="text,tabular_pair,digits")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "prediction_check")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {sorted(DATASETS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        print(f"[{time.strftime('%H:%M:%S')}] {name}: held-out model, then the cascade", flush=True)
        rows.append(check_dataset(name, args.profile, args.out, args.out / "data"))
        (args.out / "check.json").write_text(json.dumps({"rows": rows}, indent=2))
    summary = summarize(rows)
    (args.out / "check.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    print(table(rows))
    print(
        f"\ninterval ({rows[0]['level']:.0%}) covered the actual metric on "
        f"{summary['covered']}/{summary['datasets']} datasets; prediction closer than the "
        f"baseline on {summary['prediction_closer']}/{summary['datasets']}\n"
        f"mean abs error: prediction {summary['mae_prediction']:.4f}, baseline (largest-tier "
        f"mean) {summary['mae_baseline_largest_tier_mean']:.4f}, ratio "
        f"{summary['ratio_prediction_to_baseline']:.3f}\n"
        f"results: {args.out / 'check.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
