"""Fix, then validate again: what the run directory's stage cache saves.

Data: the breast-cancer table split into a 200-row reference and a 369-row candidate whose
rows 0-59 repeat rows 200-259. Three validations, each timed (wall seconds per stage):

1. `validate` of the candidate in a new run directory (retraining on: tier 1 of the
   `--profile` cascade, 3 seeds, for the candidate, the duplicate-free fix and its random
   control);
2. the baseline: `validate` of the fixed dataset in a *fresh* run directory (nothing to
   reuse: what a user pays without the cache);
3. `validate` of the fixed dataset in the first run directory (the fix's detection and
   tier-1 retraining were measured in step 1 and are reused).

Printed: per validation, wall seconds of each stage, the stages reused and computed, the
risk score and retrained metric; then the ratio of 2 to 3, and whether both give the same
report figures (they must: reuse may not change a result).

    OMP_NUM_THREADS=1 python benchmarks/validate_reuse.py [--profile quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_case(directory: Path) -> tuple[Path, Path]:
    from synthos.datamodules.sample_data import _table_frame

    frame = _table_frame("breast_cancer")
    order = np.random.default_rng(3).permutation(len(frame))
    reference, candidate = frame.iloc[order[:200]], frame.iloc[order[200:]].reset_index(drop=True)
    candidate.iloc[:60] = candidate.iloc[200:260].to_numpy()
    paths = directory / "candidate.parquet", directory / "reference.parquet"
    candidate.to_parquet(paths[0], index=False)
    reference.to_parquet(paths[1], index=False)
    return paths


def timed(candidate, reference, run_dir: Path, profile: str) -> dict:
    from synthos.analysis.recommend import RecommendConfig
    from synthos.validate import ValidateOptions, validate

    options = ValidateOptions(
        recommend=RecommendConfig(
            measure_impact=True, profile=profile, only=("drop_exact_duplicates",)
        )
    )
    started = time.perf_counter()
    result = validate(candidate, reference, run_dir=run_dir, options=options)
    timings = result.report["timings"]
    summary = result.report.get("recommendation_summary") or {}
    return {
        "run_dir": str(run_dir),
        "seconds": round(time.perf_counter() - started, 2),
        "stages": {k: timings[k] for k in timings if k.startswith("validate_")},
        "reuse": result.report["validation_run"]["reuse"],
        "risk_score": result.report["risk_score"],
        "retrained_metric": summary.get("current_metric"),
        "fixed": [r["fixed_dataset_path"] for r in result.report["recommendations"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="validate_reuse_"))
    out.mkdir(parents=True, exist_ok=True)
    candidate, reference = write_case(out)
    first = timed(candidate, reference, out / "run", args.profile)
    (fixed,) = first["fixed"]
    fresh = timed(fixed, reference, out / "fresh", args.profile)
    reused = timed(fixed, reference, out / "run", args.profile)
    same = all(fresh[k] == reused[k] for k in ("risk_score", "retrained_metric"))
    rows = {"first": first, "fixed_fresh_run_dir": fresh, "fixed_same_run_dir": reused}
    for name, row in rows.items():
        print(f"{name:<22} {row['seconds']:8.2f} s  stages {row['stages']}  reuse {row['reuse']}")
        print(f"{'':<22} risk {row['risk_score']}  retrained metric {row['retrained_metric']}")
    ratio = fresh["seconds"] / max(reused["seconds"], 1e-9)
    print(f"fresh / reused: {ratio:.1f}x; same figures: {same}")
    payload = {"rows": rows, "ratio": ratio, "same_figures": same}
    (out / "validate_reuse.json").write_text(json.dumps(payload, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
