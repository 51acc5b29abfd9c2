"""The row localizer against cleanlab's Datalab on the collapse suite's row-level defects.

    pip install -e '.[bench]'
    python benchmarks/localize_vs_cleanlab.py [--split heldout|tuning|all] [--seeds 2]
        [--out benchmarks/localize_results]

Cases: every family of the collapse suite that marks defective rows (exact and near
duplicates, memorised copies, label noise, repetition, correlation breaking) and the
localizer's own row-level families (`benchmarks/localize_defects.py`: shifted rows, junk
documents, noisy series segments), at strengths 1-3 and `--seeds` splits per strength, on
every base dataset. The base datasets are split once, before any result was seen: the
tuning bases (breast_cancer, elnino, stdlib_docs) were the only ones looked at while the
method was developed; the held-out bases are the rest, and the results quoted are theirs.

Both methods see the same rows. Synthos: `localize(candidate, reference)`, its combined
score ("synthos") and the score of the source that matches the family ("synthos source").
cleanlab: `Datalab.find_issues` given the localizer's own features (its embedding of every
row; series: each step's window of standardised increments) and, for tables with a class
label, the localizer's own out-of-fold predicted probabilities. Run once on the candidate
alone and, with a reference, once more on candidate + reference rows (outlier and near
duplicate issues, the candidate rows' scores kept: how a user would look for copies or
out-of-support rows with it); per case the better of the two runs counts for cleanlab. Its
score is 1 - the quality score of the issue that matches the family ("cleanlab"), and
1 - the smallest of its label, outlier and near-duplicate scores ("cleanlab any").

Truth: the case's defective rows. Exact and near duplicates cannot be told from the rows
they copy by content, so for those families the truth is the whole group (copies and their
sources); the copies-only figures are reported beside them. Measures per case: average
precision (AUPRC) and precision at k = number of true rows; means over cases per modality
and family.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.collapse_suite.bases import ALL_NAMES, load_base  # noqa: E402
from benchmarks.collapse_suite.case import Case  # noqa: E402
from benchmarks.collapse_suite.families import DEFECTS, defects_for  # noqa: E402
from benchmarks.collapse_suite.split import split_base  # noqa: E402
from benchmarks.localize_defects import ROW_DEFECTS, duplicate_sources  # noqa: E402

TUNING_BASES = ("breast_cancer", "elnino", "stdlib_docs")
#: family -> (cleanlab issue, Synthos source per modality)
FAMILIES: dict[str, tuple[str, dict[str, str]]] = {
    "exact_duplicates": (
        "near_duplicate",
        {
            "tabular": "near_duplicates",
            "text": "near_duplicates",
            "time_series": "repeated_stretches",
        },
    ),
    "near_duplicates": (
        "near_duplicate",
        {
            "tabular": "near_duplicates",
            "text": "near_duplicates",
            "time_series": "repeated_stretches",
        },
    ),
    "memorized_copies": (
        "near_duplicate",
        {
            "tabular": "reference_copies",
            "text": "reference_copies",
            "time_series": "copied_stretches",
        },
    ),
    "label_noise": ("label", {"tabular": "label_disagreement"}),
    "repetition": ("outlier", {"text": "low_quality_text"}),
    "junk_documents": ("outlier", {"text": "low_quality_text"}),
    "shifted_rows": ("outlier", {"tabular": "out_of_support"}),
    "correlation_breaking": ("outlier", {"tabular": "out_of_support"}),
    "noisy_segments": ("outlier", {"time_series": "out_of_support"}),
}
GROUP_TRUTH = ("exact_duplicates", "near_duplicates")
SPLITS = 30


def build_cases(names: tuple[str, ...], seeds: int) -> list[Case]:
    cases = []
    for name in names:
        base = load_base(name)
        splits: dict[int, object] = {}
        defects = [*defects_for(base), *(d for d in ROW_DEFECTS if d.modality == base.modality)]
        defects = [d for d in defects if base.modality in FAMILIES.get(d.family, ("", {}))[1]]
        for defect in defects:
            if defect.modality == "tabular" and defect.family == "correlation_breaking":
                strengths = (1,)  # at 60-100 % of rows nothing is left to rank against
            else:
                strengths = (1, 2, 3)
            index = DEFECTS.index(defect) if defect in DEFECTS else 100 + ROW_DEFECTS.index(defect)
            for strength in strengths:
                for i in range(seeds):
                    seed = (index + strength + 10 * i) % SPLITS
                    split = splits.setdefault(seed, split_base(base, seed))
                    key = [seed, index, strength] + ([i] if i else [])
                    injected = defect.inject(
                        split, base, defect.levels[strength - 1], np.random.default_rng(key)
                    )
                    cases.append(
                        Case(
                            case_id=f"{name}/{defect.family}/{strength}/s{seed}",
                            base=name,
                            modality=base.modality,
                            family=defect.family,
                            strength=strength,
                            level=float(defect.levels[strength - 1]),
                            seed=seed,
                            reference=split.reference,
                            candidate=injected.candidate,
                            expected_failing=frozenset(),
                            defective_rows=injected.defective_rows,
                        )
                    )
    return cases


def auprc(truth: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(truth, score))


def precision_at_k(truth: np.ndarray, score: np.ndarray, seed: int = 0) -> float:
    """Precision of the k highest scores, k = true rows (ties broken at random, seeded)."""
    k = int(truth.sum())
    jitter = np.random.default_rng(seed).random(len(score))
    order = np.lexsort((jitter, -score))
    return float(truth[order[:k]].mean())


@dataclass
class Scored:
    synthos: np.ndarray
    source: np.ndarray
    cleanlab: list[np.ndarray]
    cleanlab_any: np.ndarray
    seconds: dict[str, float]


def score_case(case: Case) -> Scored:
    from synthos.analysis.localize import LocalizeConfig, localize

    config = LocalizeConfig(seed=0)
    started = time.perf_counter()
    result = localize(case.candidate, case.reference, modality=case.modality, config=config)
    synthos_s = time.perf_counter() - started
    issue, sources = FAMILIES[case.family]
    source = result.column(f"score_{sources[case.modality]}")
    started = time.perf_counter()
    features, reference_features, proba, labels = shared_inputs(case, config)
    runs = [cleanlab_scores(features, proba, labels)]
    if reference_features is not None:
        both = np.vstack([features, reference_features])
        runs.append(cleanlab_scores(both, None, None, ("outlier", "near_duplicate")))
    cleanlab_s = time.perf_counter() - started
    matched = [1.0 - run[issue][: len(features)] for run in runs if issue in run]
    first = runs[0]
    any_issue = 1.0 - np.min(
        [first[k] for k in ("label", "outlier", "near_duplicate") if k in first], axis=0
    )
    return Scored(
        result.scores,
        source,
        matched,
        any_issue,
        {"synthos": synthos_s, "cleanlab": cleanlab_s},
    )


def shared_inputs(case: Case, config):
    """The localizer's features of every candidate row (and reference row), and its
    out-of-fold probabilities of the label (tables with a class label)."""
    from synthos.analysis.collapse import features as cf
    from synthos.analysis.collapse.dimensions.memorization import segment_steps
    from synthos.analysis.localize.embeddings import embed
    from synthos.analysis.localize.labels import cross_validated_predictions, label_target
    from synthos.analysis.localize.rows import load_rows

    view = load_rows(case.candidate, case.reference, modality=case.modality, config=config)
    if case.modality == "time_series":
        steps = segment_steps(len(view.cmp.numeric_columns))
        windows = cf.series_windows(view.full, "candidate", length=steps)
        index = np.minimum(np.arange(view.rows), len(windows) - 1)
        reference = cf.series_windows(view.cmp, cf.FULL_REFERENCE, length=steps)
        return view.to_file_order(windows[index]), reference, None, None
    emb = embed(view)
    proba = labels = None
    target = label_target(view)
    if target is not None and view.cmp.kinds[target] == "categorical":
        predictions = cross_validated_predictions(view, config)
        proba = predictions.probabilities
        labels = np.searchsorted(predictions.classes, predictions.given)
    return emb.candidate, emb.reference, proba, labels


def cleanlab_scores(features, proba, labels, issues=None) -> dict[str, np.ndarray]:
    from cleanlab import Datalab

    data = pd.DataFrame({"label": labels if labels is not None else np.zeros(len(features))})
    lab = Datalab(data=data, label_name="label" if labels is not None else None, verbosity=0)
    kwargs = {"features": np.asarray(features, dtype=np.float64)}
    if proba is not None:
        kwargs["pred_probs"] = proba
    if issues is not None:
        kwargs["issue_types"] = {name: {} for name in issues}
    lab.find_issues(**kwargs)
    found = lab.get_issues()
    return {
        name: found[f"{name}_score"].to_numpy(dtype=float)
        for name in ("label", "outlier", "near_duplicate")
        if f"{name}_score" in found.columns
    }


def evaluate(case: Case, scored: Scored) -> dict:
    n = len(case.candidate)
    copies = np.zeros(n, dtype=bool)
    copies[case.defective_rows] = True
    truth = copies.copy()
    if case.family in GROUP_TRUTH:
        truth[duplicate_sources(case)] = True
    record = {
        "case": case.case_id,
        "base": case.base,
        "modality": case.modality,
        "family": case.family,
        "strength": case.strength,
        "rows": n,
        "true_rows": int(truth.sum()),
        "seconds": scored.seconds,
    }
    methods = {
        "synthos": scored.synthos,
        "synthos_source": scored.source,
        "cleanlab_any": scored.cleanlab_any,
    }
    for name, score in methods.items():
        record[name] = {"auprc": auprc(truth, score), "p_at_k": precision_at_k(truth, score)}
    runs = [{"auprc": auprc(truth, s), "p_at_k": precision_at_k(truth, s)} for s in scored.cleanlab]
    record["cleanlab"] = max(runs, key=lambda r: r["auprc"]) if runs else None
    if case.family in GROUP_TRUTH:
        record["copies_only"] = {
            "synthos": auprc(copies, scored.synthos),
            "cleanlab": max((auprc(copies, s) for s in scored.cleanlab), default=None),
        }
    return record


def summarise(records: list[dict]) -> list[dict]:
    frame = pd.json_normalize(records)
    rows = []
    for (modality, family), group in frame.groupby(["modality", "family"], sort=True):
        row = {"modality": modality, "family": family, "cases": len(group)}
        for method in ("synthos", "synthos_source", "cleanlab", "cleanlab_any"):
            for measure in ("auprc", "p_at_k"):
                column = f"{method}.{measure}"
                row[column] = float(group[column].mean()) if column in group else None
        if "copies_only.synthos" in group and family in GROUP_TRUTH:
            row["copies_only.synthos"] = float(group["copies_only.synthos"].mean())
            row["copies_only.cleanlab"] = float(group["copies_only.cleanlab"].mean())
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| modality | family | cases | Synthos AUPRC | cleanlab AUPRC | Synthos P@k | cleanlab P@k "
        "| Synthos source AUPRC | cleanlab any AUPRC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:

        def f(key, row=r):
            value = row.get(key)
            return "-" if value is None or value != value else f"{value:.3f}"

        lines.append(
            f"| {r['modality']} | {r['family']} | {r['cases']} | {f('synthos.auprc')} | "
            f"{f('cleanlab.auprc')} | {f('synthos.p_at_k')} | {f('cleanlab.p_at_k')} | "
            f"{f('synthos_source.auprc')} | {f('cleanlab_any.auprc')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("heldout", "tuning", "all"), default="heldout")
    parser.add_argument("--seeds", type=int, default=2, help="splits per family and strength")
    parser.add_argument("--bases", nargs="+", help="only these base datasets")
    parser.add_argument("--families", nargs="+", help="only these families")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "localize_results")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    names = tuple(args.bases or ALL_NAMES)
    if args.split == "tuning":
        names = tuple(n for n in names if n in TUNING_BASES)
    elif args.split == "heldout":
        names = tuple(n for n in names if n not in TUNING_BASES)
    cases = build_cases(names, args.seeds)
    if args.families:
        cases = [c for c in cases if c.family in args.families]
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"cases_{args.split}.jsonl"
    done = {}
    if partial.is_file():  # a run that stopped resumes after its last finished case
        for line in partial.read_text().splitlines():
            record = json.loads(line)
            done[record["case"]] = record
    records = []
    for i, case in enumerate(cases, start=1):
        record = done.get(case.case_id) or evaluate(case, score_case(case))
        if case.case_id not in done:
            with partial.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        records.append(record)
        print(
            f"[{i}/{len(cases)}] {case.case_id}: Synthos {record['synthos']['auprc']:.3f}, "
            f"cleanlab {record['cleanlab']['auprc'] if record['cleanlab'] else float('nan'):.3f}",
            flush=True,
        )
    rows = summarise(records)
    payload = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "split": args.split,
        "bases": names,
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "seconds": round(time.time() - started, 1),
        "summary": rows,
        "cases": records,
    }
    (args.out / f"results_{args.split}.json").write_text(json.dumps(payload, indent=1))
    text = table(rows)
    (args.out / f"results_{args.split}.md").write_text(text + "\n")
    print(text)
    return 0


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
