"""Run the collapse benchmark: every case through Synthos' detector and SDMetrics' QualityReport.

    python -m benchmarks.collapse_suite            # full suite (a few minutes on 2 cores)
    python -m benchmarks.collapse_suite --quick    # a subset, under a minute
    python -m benchmarks.collapse_suite --no-sdmetrics

Writes results.json (summary and every case), results.md (the tables) and
auroc_by_family.png into --out (default benchmarks/collapse_suite/results[-quick]).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.collapse_suite import report
from benchmarks.collapse_suite.case import Case
from benchmarks.collapse_suite.catalog import CALIBRATION_SEEDS, build_cases, quick_cases
from benchmarks.collapse_suite.metrics import Scored
from benchmarks.collapse_suite.sdmetrics_scorer import require_sdmetrics
from benchmarks.collapse_suite.sdmetrics_scorer import score_case as score_baseline
from benchmarks.collapse_suite.synthos_scorer import score_case as score_synthos

SUITE_DIR = Path(__file__).resolve().parent


def score_all(cases: list[Case], *, sdmetrics: bool, config=None) -> list[Scored]:
    """Both detectors on every case, with a progress line every 25 cases on stderr."""
    rows = []
    start = time.perf_counter()
    for i, case in enumerate(cases, 1):
        baseline = score_baseline(case) if sdmetrics else None
        rows.append(Scored(case, score_synthos(case, config), baseline))
        if i % 25 == 0 or i == len(cases):
            print(f"  {i}/{len(cases)} cases, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.collapse_suite", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="a subset of bases and strengths")
    parser.add_argument("--no-sdmetrics", action="store_true", help="skip the SDMetrics baseline")
    parser.add_argument("--out", type=Path, help="output directory")
    return parser.parse_args(argv)


def detector_version() -> str:
    """The last commit of the detector package, marked when its files differ from it (the
    working tree may be shared with someone editing the detector)."""
    package = ":/synthos/analysis/collapse"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=SUITE_DIR, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("log", "-1", "--format=%h", "--", package) or "unknown"
    changed = git("status", "--porcelain", "--", package)
    return f"{commit} (with uncommitted changes)" if changed else commit


def environment() -> dict:
    """What the run was measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "detector": detector_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "load_average_at_start": None if load is None else [round(x, 2) for x in load],
    }


def goals_types(records: list[dict]) -> dict:
    from benchmarks.collapse_suite.goals import type_agreement

    return type_agreement(records)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from synthos.analysis.collapse import CollapseConfig
    from synthos.analysis.collapse.config import DIMENSIONS, THRESHOLDS_FILE

    if not args.no_sdmetrics:
        require_sdmetrics()
    out = args.out or SUITE_DIR / ("results-quick" if args.quick else "results")
    out.mkdir(parents=True, exist_ok=True)
    header = environment()
    started = time.perf_counter()
    cases = quick_cases() if args.quick else build_cases()
    header["build_seconds"] = round(time.perf_counter() - started, 1)
    print(f"{len(cases)} cases built in {header['build_seconds']} s", file=sys.stderr)
    rows = score_all(cases, sdmetrics=not args.no_sdmetrics)
    thresholds = json.loads(THRESHOLDS_FILE.read_text())
    config = CollapseConfig()
    header.update(
        command=" ".join(
            ["python -m benchmarks.collapse_suite", *map(shlex.quote, argv or sys.argv[1:])]
        ),
        suite_seconds=round(time.perf_counter() - started, 1),
        thresholds=config.thresholds,
        thresholds_by_modality=config.modality_thresholds,
        thresholds_procedure=thresholds.get("procedure"),
    )
    held_out = {r.case.seed for r in rows} - CALIBRATION_SEEDS
    summary = report.summarise(rows, DIMENSIONS, held_out)
    records = [report.case_record(r) for r in rows]
    if not args.quick:
        from benchmarks.collapse_suite import goals, separability

        oracle = separability.oracle_cases()
        summary["restated_goals"] = goals.restated(records, oracle, summary["errors_held_out"])
    summary["collapse_types"] = goals_types(records)
    report.write_json(out / "results.json", header, summary, rows)
    table = report.markdown(header, summary)
    (out / "results.md").write_text(table)
    report.plot_families(out / "auroc_by_family.png", summary)
    print(table)
    print(f"suite: {header['suite_seconds']} s; results in {out}", file=sys.stderr)
    return 0
