"""Calibrate the detector's thresholds on the suite: score its cases (or reuse a run's
scores), then hand them to the library's procedure (`synthos.analysis.collapse.calibration`,
also `synthos calibrate RESULTS.json`), which sets the thresholds from the clean controls of
the even seeds and checks them on the odd ones.

    python -m benchmarks.collapse_suite.calibrate            # full suite, writes thresholds
    python -m benchmarks.collapse_suite.calibrate --dry-run  # print, write nothing
    python -m benchmarks.collapse_suite.calibrate --quick    # the subset; never writes
    python -m benchmarks.collapse_suite.calibrate --results RUN_DIR/results.json \
        [--real-tables benchmarks/collapse_suite/results-real/results.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks.collapse_suite.catalog import build_cases, quick_cases
from benchmarks.collapse_suite.report import case_record
from benchmarks.collapse_suite.run import score_all
from synthos.analysis.collapse.calibration import calibrate_thresholds
from synthos.analysis.collapse.config import THRESHOLDS_FILE


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
    cases = quick_cases() if args.quick else build_cases()
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
    parser.add_argument(
        "--real-tables",
        type=Path,
        help="a real_tables results.json: its clean cases join the tabular calibration",
    )
    args = parser.parse_args(argv)
    extra = json.loads(args.real_tables.read_text())["cases"] if args.real_tables else []
    command = " ".join(
        ["python -m benchmarks.collapse_suite.calibrate", *map(shlex.quote, argv or sys.argv[1:])]
    )
    found = calibrate_thresholds(case_records(args), extra_controls=extra, command=command)
    print(
        json.dumps(
            {"thresholds": found.general, "by_modality": found.by_modality, **found.record},
            indent=1,
        )
    )
    if not (args.dry_run or args.quick):
        for split in ("check_held_out", "check_calibration_split"):
            found.record[split]["misses"] = len(found.record[split]["misses"])
        print(f"wrote {found.save(THRESHOLDS_FILE)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
