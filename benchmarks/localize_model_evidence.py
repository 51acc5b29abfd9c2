"""Model evidence measured: Captum TracInCP self-influence and the per-row held-out loss of a
cascade's tier-1 models, beside the data evidence and cleanlab, on the same rows.

    python benchmarks/localize_model_evidence.py [--variants 4] [--out DIR]

Cases: label noise and shifted rows (strength 2, two splits each) on held-out base datasets
of the localizer benchmark (wine, penguins). For each case tier 1 of the quick cascade
profile is trained on the candidate (`python train.py +cascade=quick cascade.run_tiers=[1]
cascade.tiers.0.variants=N`, tested on the reference), then `localize(candidate, reference,
cascade)` scores every row with every source. AUPRC per source against the case's defective
rows: tracin_self_influence, model_target_loss, model_loss, the data sources
(label_disagreement, out_of_support), the combined score, and cleanlab's label / outlier
score given the localizer's features and out-of-fold probabilities.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.localize_vs_cleanlab import (  # noqa: E402
    FAMILIES,
    auprc,
    build_cases,
    cleanlab_scores,
    shared_inputs,
)

BASES = ("wine", "penguins")
FAMILIES_MEASURED = ("label_noise", "shifted_rows")
SOURCES = (
    "tracin_self_influence",
    "model_target_loss",
    "model_loss",
    "label_disagreement",
    "out_of_support",
)


def train_tier1(case, work: Path, variants: int) -> Path:
    cand, ref = work / "candidate.parquet", work / "reference.parquet"
    case.candidate.to_parquet(cand, index=False)
    case.reference.to_parquet(ref, index=False)
    target = case.candidate.columns[-1]
    command = [
        sys.executable,
        "train.py",
        "+cascade=quick",
        "trainer=cpu",
        "logger=csv",
        "data=tabular",
        f"data.path={cand}",
        f"data.reference_path={ref}",
        f"data.target_column={target}",
        "cascade.run_tiers=[1]",
        f"cascade.tiers.0.variants={variants}",
        "cascade.localize=false",
        "cascade.validation_id=case",
        f"paths.log_dir={work}",
    ]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return work / "cascade" / "case"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "localize_results")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from synthos.analysis.localize import LocalizeConfig, localize

    cases = [c for c in build_cases(BASES, 2) if c.family in FAMILIES_MEASURED and c.strength == 2]
    records = []
    for case in cases:
        work = Path(tempfile.mkdtemp(prefix="synthos-model-evidence-"))
        started = time.perf_counter()
        sweep = train_tier1(case, work, args.variants)
        trained_s = time.perf_counter() - started
        config = LocalizeConfig(model_rows=len(case.candidate))
        started = time.perf_counter()
        result = localize(
            str(work / "candidate.parquet"), str(work / "reference.parquet"), sweep, config=config
        )
        localize_s = time.perf_counter() - started
        truth = np.zeros(len(case.candidate), dtype=bool)
        truth[case.defective_rows] = True
        record = {"case": case.case_id, "family": case.family, "rows": len(truth)}
        for source in SOURCES:
            record[source] = auprc(truth, result.column(f"score_{source}"))
        record["synthos"] = auprc(truth, result.scores)
        features, _, proba, labels = shared_inputs(case, LocalizeConfig())
        issue = FAMILIES[case.family][0]
        found = cleanlab_scores(features, proba, labels)
        record["cleanlab"] = auprc(truth, 1.0 - found[issue])
        record["seconds"] = {"train_tier1": round(trained_s, 1), "localize": round(localize_s, 1)}
        records.append(record)
        print(json.dumps(record), flush=True)
    summary = {}
    for family in FAMILIES_MEASURED:
        group = [r for r in records if r["family"] == family]
        keys = [*SOURCES, "synthos", "cleanlab"]
        summary[family] = {k: round(float(np.mean([r[k] for r in group])), 3) for k in keys}
        summary[family]["cases"] = len(group)
    print(json.dumps(summary, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"variants": args.variants, "summary": summary, "cases": records}
    (args.out / "model_evidence.json").write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
