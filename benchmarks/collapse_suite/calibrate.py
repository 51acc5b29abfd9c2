"""Threshold calibration from the suite's clean controls, checked on held-out splits.

    python -m benchmarks.collapse_suite.calibrate            # full suite, writes thresholds
    python -m benchmarks.collapse_suite.calibrate --dry-run  # print, write nothing
    python -m benchmarks.collapse_suite.calibrate --quick    # the subset; never writes
    python -m benchmarks.collapse_suite.calibrate --results RUN_DIR/results.json  # reuse scores

Procedure (the same for every dimension; nothing is tuned per case):

1. Score every case of the suite with the detector (or reuse the scores of a full run's
   results.json). Dimension scores do not depend on the thresholds, so one pass serves both
   calibration and check.
2. Calibration split: the clean controls of the splits in CALIBRATION_SEEDS (the even seeds of
   every base dataset). Held-out split: the clean controls and defects of the odd seeds.
3. Per dimension d, over the calibration controls where d is evaluated:
   threshold_d = Q_alpha(scores_d) - (MARGIN_POINTS + MARGIN_SPREAD x sd(scores_d)),
   with alpha = FPR_BUDGET / (number of dimensions evaluated on the suite): a Bonferroni
   split of the 5 % false-positive budget of the verdict ("any dimension fails") over the
   dimensions. The margin allows for controls the calibration split did not contain.
   Clipped to [0, 100].
4. The same on each modality's calibration controls alone: a modality's statistics have
   their own spread on real data (series far wider than tables), so where a modality has
   at least MIN_CONTROLS controls for a dimension its own threshold is written
   (`thresholds_by_modality`, which the detector prefers). The all-modality thresholds
   stay as the fallback, and stand for a modality whose Q_alpha is 100 (every calibration
   control at the ceiling: nothing there says where its tail lies).
5. A dimension with fewer than MIN_CONTROLS calibration controls (training_stability: the
   suite has no cascade) keeps its current threshold, and the file says so.
6. Check: the verdict rule of the detector (collapse when any evaluated dimension is below its
   threshold) with the new thresholds on the held-out split gives its FPR and FNR, recorded
   with the thresholds.

Defect cases are not used to set any threshold; they only measure the result.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.collapse_suite.case import CLEAN
from benchmarks.collapse_suite.catalog import CALIBRATION_SEEDS, build_cases, quick_cases
from benchmarks.collapse_suite.report import GOAL_FPR, case_record
from benchmarks.collapse_suite.run import score_all

MARGIN_POINTS = 5.0
MARGIN_SPREAD = 0.5
MIN_CONTROLS = 10
#: The top of every dimension's score.
CEILING = 100.0
PROCEDURE = (
    "benchmarks/collapse_suite/calibrate.py: per dimension (and per modality where it has at "
    "least 10 controls), the alpha-quantile of its scores on the clean controls of the "
    "calibration splits (even seeds of every base dataset), alpha = 0.05 / number of "
    "evaluated dimensions, minus (5 + 0.5 x their standard deviation) points; a modality "
    "whose quantile is 100 keeps the all-modality threshold; dimensions without calibration "
    "controls keep their previous value"
)


@dataclass(frozen=True)
class DimensionCalibration:
    name: str
    controls: int
    quantile: float | None
    spread: float | None
    threshold: float
    calibrated: bool


def _scored(records: list[dict]) -> list[dict]:
    return [r for r in records if not r["synthos"]["error"]]


def _is_clean(record: dict) -> bool:
    return record["family"] == CLEAN


def calibrate(
    records: list[dict],
    dimensions: tuple[str, ...],
    current: dict[str, float],
    seeds: frozenset[int] | None = CALIBRATION_SEEDS,
) -> list[DimensionCalibration]:
    """New thresholds from the calibration split's clean controls (see the module docstring).
    `records` are per-case records as in results.json (`report.case_record`); `seeds`
    None takes every clean control."""
    controls = [
        r for r in _scored(records) if _is_clean(r) and (seeds is None or r["seed"] in seeds)
    ]
    per_dimension = {
        name: np.array(
            [r["synthos"]["scores"][name] for r in controls if name in r["synthos"]["scores"]]
        )
        for name in dimensions
    }
    evaluated = [name for name, scores in per_dimension.items() if len(scores) >= MIN_CONTROLS]
    alpha = GOAL_FPR / max(1, len(evaluated))
    out = []
    for name, scores in per_dimension.items():
        if name not in evaluated:
            out.append(DimensionCalibration(name, len(scores), None, None, current[name], False))
            continue
        quantile = float(np.quantile(scores, alpha))
        spread = float(scores.std(ddof=1))
        threshold = float(np.clip(quantile - (MARGIN_POINTS + MARGIN_SPREAD * spread), 0, 100))
        out.append(
            DimensionCalibration(name, len(scores), quantile, spread, round(threshold, 2), True)
        )
    return out


Thresholds = tuple[dict[str, float], dict[str, dict[str, float]]]


def threshold_of(thresholds: Thresholds, modality: str, name: str) -> float:
    general, by_modality = thresholds
    return by_modality.get(modality, {}).get(name, general[name])


def verdict(record: dict, thresholds: Thresholds) -> bool:
    """The detector's rule: collapse when any evaluated dimension is below its threshold."""
    return any(
        score < threshold_of(thresholds, record["modality"], name)
        for name, score in record["synthos"]["scores"].items()
    )


def check(records: list[dict], thresholds: Thresholds, seeds: set[int]) -> dict:
    """FPR and FNR of the verdict with `thresholds` on the cases of `seeds`."""
    chosen = [r for r in _scored(records) if r["seed"] in seeds]
    clean = [r for r in chosen if _is_clean(r)]
    defects = [r for r in chosen if not _is_clean(r)]
    false_alarms = [r["case_id"] for r in clean if verdict(r, thresholds)]
    misses = [r["case_id"] for r in defects if not verdict(r, thresholds)]
    return {
        "controls": len(clean),
        "defects": len(defects),
        "fpr": len(false_alarms) / len(clean) if clean else None,
        "fnr": len(misses) / len(defects) if defects else None,
        "false_alarms": false_alarms,
        "misses": misses,
    }


def by_modality(
    records: list[dict], dimensions: tuple[str, ...], general: dict[str, float]
) -> dict[str, list[DimensionCalibration]]:
    """The procedure on each modality's controls alone (step 4). Where a modality's
    Q_alpha is the ceiling of the score (every calibration control at 100), its controls
    say nothing about where its tail lies, and the all-modality threshold stands."""
    out = {}
    for modality in sorted({r["modality"] for r in records}):
        dims = calibrate([r for r in records if r["modality"] == modality], dimensions, general)
        out[modality] = [
            replace(d, threshold=general[d.name], calibrated=False)
            if d.calibrated and d.quantile is not None and d.quantile >= CEILING
            else d
            for d in dims
        ]
    return out


def tabular_with_real(
    records: list[dict], real_tables: Path, general: dict[str, float]
) -> list[DimensionCalibration]:
    """Tabular thresholds from the suite's tabular calibration controls together with every
    clean case of the real tables (`real_tables` results), the ceiling rule as above."""
    real = json.loads(real_tables.read_text())["cases"]
    suite = [
        r
        for r in records
        if r["modality"] == "tabular" and _is_clean(r) and r["seed"] in CALIBRATION_SEEDS
    ]
    from synthos.analysis.collapse.config import DIMENSIONS

    dims = calibrate(suite + real, DIMENSIONS, general, seeds=None)
    return [
        replace(d, threshold=general[d.name], calibrated=False)
        if d.calibrated and d.quantile is not None and d.quantile >= CEILING
        else d
        for d in dims
    ]


def _statistics(dims: list[DimensionCalibration]) -> dict[str, dict]:
    return {
        d.name: {
            "controls": d.controls,
            "quantile": d.quantile,
            "sd": d.spread,
            "threshold": d.threshold,
            "calibrated": d.calibrated,
        }
        for d in dims
    }


def case_records(args: argparse.Namespace) -> list[dict]:
    """Per-case records: read from a results.json, or scored now."""
    if args.results:
        try:
            return json.loads(args.results.read_text())["cases"]
        except (OSError, ValueError, KeyError) as exc:
            raise SystemExit(
                f"--results {args.results}: not a suite results.json ({exc!r}); run "
                "`python -m benchmarks.collapse_suite` first"
            ) from None
    cases = quick_cases(args.cache_dir) if args.quick else build_cases(cache_dir=args.cache_dir)
    return [case_record(row) for row in score_all(cases, sdmetrics=False)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collapse_suite.calibrate")
    parser.add_argument(
        "--quick", action="store_true", help="try the procedure on the --quick subset (no write)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print, do not write thresholds")
    parser.add_argument(
        "--results",
        type=Path,
        help="reuse the dimension scores of a full run's results.json instead of scoring again",
    )
    parser.add_argument("--cache-dir", type=Path, help="where the text corpus is collected")
    parser.add_argument(
        "--real-tables",
        type=Path,
        help="a real_tables results.json: its clean cases join the tabular calibration",
    )
    args = parser.parse_args(argv)
    from synthos.analysis.collapse import CollapseConfig
    from synthos.analysis.collapse.config import DIMENSIONS, THRESHOLDS_FILE

    records = case_records(args)
    config = CollapseConfig()
    dims = calibrate(records, DIMENSIONS, config.thresholds)
    general = {d.name: d.threshold for d in dims}
    modality_dims = by_modality(records, DIMENSIONS, general)
    if args.real_tables:
        modality_dims["tabular"] = tabular_with_real(records, args.real_tables, general)
    own = {
        modality: {d.name: d.threshold for d in values if d.calibrated}
        for modality, values in modality_dims.items()
    }
    thresholds = (general, own)
    seeds = {r["seed"] for r in records}
    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(
            [
                "python -m benchmarks.collapse_suite.calibrate",
                *map(shlex.quote, argv or sys.argv[1:]),
            ]
        ),
        "cases": len(records),
        "dimensions": _statistics(dims),
        "dimensions_by_modality": {m: _statistics(v) for m, v in modality_dims.items()},
        "check_held_out": check(records, thresholds, seeds - CALIBRATION_SEEDS),
        "check_calibration_split": check(records, thresholds, seeds & CALIBRATION_SEEDS),
    }
    print(json.dumps({"thresholds": general, "thresholds_by_modality": own, **record}, indent=1))
    for split in ("check_held_out", "check_calibration_split"):
        record[split]["misses"] = len(record[split]["misses"])
    if not (args.dry_run or args.quick):
        config.thresholds, config.modality_thresholds = general, own
        config.save_thresholds(THRESHOLDS_FILE, procedure=PROCEDURE, calibration=record)
        print(f"wrote {THRESHOLDS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
