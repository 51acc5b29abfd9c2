"""How good is the cascade's ETA? Replays a finished sweep's progress.jsonl record by record
and compares, at every record, two estimates of when the last model ends with when it did:

* baseline: the `estimated_completion` every progress record carries (this model's
  remaining time at its rate, plus the models still to start times the mean duration of
  finished models), what the terminal showed before the live board;
* board: `synthos.cascade.board.CascadeBoard.eta`, which prices each tier by its seconds per
  step, extrapolating tiers that have not started by their compute per step.

The error is (estimated - actual end) / actual remaining time, so -0.5 means the estimate
said half the remaining time when it was not. Printed per number of models finished, with the
share of records where each estimate had already passed more than a minute before the end.

    python benchmarks/cascade_eta.py logs/cascade/<validation id> [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from synthos.callbacks.jsonl import read_jsonl
from synthos.cascade.board import CascadeBoard, tier_plans
from synthos.config_schema import register_configs

END_EVENTS = ("model_finished", "model_failed")


def _time(record: dict) -> float:
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def replay(sweep_dir: Path) -> list[dict]:
    """One row per record after the first: models done, the actual remaining seconds and
    both estimates' relative errors (None where an estimate had none)."""
    register_configs()
    config = OmegaConf.load(sweep_dir / "multirun.yaml")
    records = read_jsonl(sweep_dir / "progress.jsonl")
    if not records:
        raise SystemExit(f"no progress records in {sweep_dir}")
    end = max(_time(r) for r in records if r.get("event") in END_EVENTS)
    board = CascadeBoard(tier_plans(config.cascade), started=_time(records[0]))
    rows = []
    for record in records:
        now = _time(record)
        board.update(record)
        remaining = end - now
        if remaining <= 0:
            continue
        baseline = record.get("estimated_completion")
        estimate = board.eta(now)
        rows.append(
            {
                "models_done": board.models_done,
                "remaining_s": remaining,
                "baseline_error": None
                if baseline is None
                else (datetime.fromisoformat(baseline).timestamp() - end) / remaining,
                "board_error": None if estimate is None else (estimate - end) / remaining,
                "baseline_passed": baseline is not None
                and datetime.fromisoformat(baseline).timestamp() < end - 60,
                "board_passed": estimate is not None and estimate < end - 60,
            }
        )
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    summary = []
    for done in sorted({r["models_done"] for r in rows}):
        mine = [r for r in rows if r["models_done"] == done]
        row = {"models_done": done, "records": len(mine)}
        for name in ("baseline", "board"):
            errors = [r[f"{name}_error"] for r in mine if r[f"{name}_error"] is not None]
            row[f"{name}_median_error"] = statistics.median(errors) if errors else None
            row[f"{name}_passed_share"] = sum(r[f"{name}_passed"] for r in mine) / len(mine)
        summary.append(row)
    return summary


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the per-record rows here")
    args = parser.parse_args(argv)
    rows = replay(args.sweep_dir)
    summary = summarise(rows)
    print(
        "| models done | records | baseline median error | baseline passed | board median "
        "error | board passed |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for s in summary:
        print(
            f"| {s['models_done']} | {s['records']} | {_fmt(s['baseline_median_error'])} | "
            f"{s['baseline_passed_share']:.0%} | {_fmt(s['board_median_error'])} | "
            f"{s['board_passed_share']:.0%} |"
        )
    for name in ("baseline", "board"):
        errors = [abs(r[f"{name}_error"]) for r in rows if r[f"{name}_error"] is not None]
        passed = sum(r[f"{name}_passed"] for r in rows) / len(rows)
        median = statistics.median(errors) if errors else None
        print(
            f"{name}: median |error| {_fmt(median)} over {len(errors)} records; "
            f"passed more than a minute early at {passed:.0%} of {len(rows)} records"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
