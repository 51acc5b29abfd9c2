"""Which marginal defect cases the defect's own statistic tells apart from clean data.

    python -m benchmarks.collapse_suite.separability            # reads results/results.json
    python -m benchmarks.collapse_suite.separability --results RUN_DIR/results.json

A mean shift and a change of scale move one known statistic in one known direction: the
mean difference in reference standard deviations, the log ratio of standard deviations
(candidate against reference, averaged over the numeric feature columns). A case is
*separable* when that statistic lies beyond the 95th percentile of the same statistic over
the clean controls of its own base dataset (the verdict's false-positive budget). This
oracle knows the defect and every clean split of the base, which a detector never does: a
miss that is not separable is one the defect's most direct statistic could not flag on that
base within the budget, even knowing the base's clean spread; a separable miss is a
shortfall of the detector. (Tail truncation has no such statistic: clipping leaves values
on the cut, and the detector sees truncations that the mass beyond the cut does not.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.bases import SERIES_NAMES, TABLE_NAMES, TIME_COLUMN, load_base
from benchmarks.collapse_suite.case import CLEAN, Case
from benchmarks.collapse_suite.catalog import SEEDS, cases_for

#: Share of a base's clean controls an oracle statistic may exceed (the verdict's FPR goal).
BUDGET = 0.05


def _features(case: Case, label: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = [
        c
        for c in case.reference.columns
        if c not in (label, TIME_COLUMN) and pd.api.types.is_numeric_dtype(case.reference[c])
    ]
    return case.candidate[columns].astype(float), case.reference[columns].astype(float)


def _spread(reference: pd.DataFrame) -> pd.Series:
    return reference.std().replace(0.0, 1.0)


def mean_shift(cand: pd.DataFrame, ref: pd.DataFrame) -> float:
    return float(((cand.mean() - ref.mean()) / _spread(ref)).mean())


def log_spread_ratio(cand: pd.DataFrame, ref: pd.DataFrame) -> float:
    return float(np.log(cand.std().clip(lower=1e-12) / _spread(ref)).mean())


#: Family -> (statistic, sign): sign x statistic grows with the defect.
ORACLES: dict[str, tuple[Callable[[pd.DataFrame, pd.DataFrame], float], float]] = {
    "mean_shift": (mean_shift, 1.0),
    "scale_shift": (log_spread_ratio, 1.0),
    "variance_shrinkage": (log_spread_ratio, -1.0),
}


def separability(case: Case, controls: list[Case], label: str | None) -> dict:
    """The case's oracle statistic against its base's clean controls."""
    statistic, sign = ORACLES[case.family]

    def value(c: Case) -> float:
        return sign * statistic(*_features(c, label))

    null = np.array([value(c) for c in controls])
    observed = value(case)
    exceeded_by = float(np.mean(null >= observed))
    return {
        "statistic": observed,
        "clean_95th_percentile": float(np.quantile(null, 1.0 - BUDGET)),
        "clean_share_at_least": exceeded_by,
        "separable": exceeded_by < BUDGET,
    }


def oracle_cases(names: tuple[str, ...] = TABLE_NAMES + SERIES_NAMES) -> list[dict]:
    """Separability of every case of the ORACLES families on the named base datasets."""
    wanted = frozenset([CLEAN, *ORACLES])
    out = []
    for name in names:
        base = load_base(name)
        cases = cases_for(base, SEEDS, (1, 2, 3), wanted)
        controls = [c for c in cases if c.is_clean]
        for case in cases:
            if not case.is_clean:
                found = separability(case, controls, base.label)
                out.append({"case_id": case.case_id, "family": case.family, **found})
    return out


def summarise(found: list[dict], detected: dict[str, bool]) -> dict[str, dict]:
    """Per family: cases, separable, and misses split by separability."""
    out: dict[str, dict] = {}
    for row in found:
        family = out.setdefault(
            row["family"],
            {"cases": 0, "separable": 0, "missed_separable": [], "missed_not_separable": []},
        )
        family["cases"] += 1
        family["separable"] += row["separable"]
        if not detected.get(row["case_id"], False):
            key = "missed_separable" if row["separable"] else "missed_not_separable"
            family[key].append(row["case_id"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collapse_suite.separability")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "results.json",
        help="a full run's results.json (the detector's verdicts)",
    )
    args = parser.parse_args(argv)
    try:
        records = json.loads(args.results.read_text())["cases"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"--results {args.results}: not a suite results.json ({exc!r})") from None
    detected = {r["case_id"]: bool(r["synthos"]["collapse_detected"]) for r in records}
    summary = summarise(oracle_cases(), detected)
    print(json.dumps(summary, indent=1))
    print("| family | cases | separable | missed, separable | missed, not separable |")
    print("|---|---:|---:|---:|---:|")
    for family, row in summary.items():
        print(
            f"| {family} | {row['cases']} | {row['separable']} | "
            f"{len(row['missed_separable'])} | {len(row['missed_not_separable'])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
