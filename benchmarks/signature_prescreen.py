"""Signature library and pre-screen, measured on the collapse suite.

1. Leave-one-base-out: every case of the collapse suite (clean controls and defects of 12
   real base datasets, `benchmarks/collapse_suite`) is fingerprinted once and stored in a
   library (`seed_library`, a real HDF5 file). For each base, an index is built from the
   signatures of every *other* base and the held-out base's cases are pre-screened:
   AUROC of the pre-risk for defective vs clean, pooled over all bases, and the accuracy of
   the likely collapse type on the defective cases. Two ways: with the case's reference
   (relative space) and on the candidate alone (intrinsic space). Baselines from the same
   fingerprints, in the same run: the duplicate-row share alone (candidate alone) and the
   mean two-sample KS statistic over numeric columns (Jensen-Shannon divergence of the
   unigrams for text) against the reference.
   The library that `synthos signatures seed` builds (the package's own generator on
   bundled data) screens the same cases too, without the signatures of the case's base.
2. Learning curve: the same pooled AUROC when the library holds 1, 2, ... of the other
   bases (random orders); a case with no signature of its modality scores 50.
3. Store durability: signatures written per second, and 100 writer processes killed with
   SIGKILL at random moments while adding batches: after each kill the library must open
   and hold every batch a writer reported committed.
4. Speed: the pre-screen of a 1M-row Parquet file (fingerprint on a 20,000-row sample,
   2 engine threads), wall and CPU seconds, beside the duplicate-share screen in pandas and
   `detect_collapse` without a reference on the same file.

    OMP_NUM_THREADS=1 python benchmarks/signature_prescreen.py [--seeds 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.collapse_suite.bases import ALL_NAMES, load_base  # noqa: E402
from benchmarks.collapse_suite.catalog import cases_for  # noqa: E402
from synthos.analysis.signatures.fingerprint import (  # noqa: E402
    INTRINSIC,
    TWO_SAMPLE,
    Fingerprint,
    FingerprintConfig,
)
from synthos.analysis.signatures.index import LibraryIndex  # noqa: E402
from synthos.analysis.signatures.prescreen import screen  # noqa: E402
from synthos.analysis.signatures.seed import SeedCase, collapse_type_of, seed_library  # noqa: E402
from synthos.analysis.signatures.store import LibrarySnapshot, SignatureLibrary  # noqa: E402

ORDERS = 5
#: Splits per base of the shipped library (the command's default).
SHIPPED_SPLITS = 10


def suite_cases(seeds: int, names: tuple[str, ...] = ALL_NAMES) -> list[SeedCase]:
    out = []
    for name in names:
        for case in cases_for(load_base(name), seeds, (1, 2, 3)):
            out.append(
                SeedCase(
                    name=case.case_id,
                    candidate=case.candidate,
                    reference=case.reference,
                    family=case.family,
                    strength=case.strength,
                    modality=case.modality,
                    base=case.base,
                )
            )
    return out


def fingerprint_of(snapshot: LibrarySnapshot, row: int, with_reference: bool) -> Fingerprint:
    record = snapshot.records[row]["provenance"]
    return Fingerprint(
        modality=str(snapshot.modality[row]),
        intrinsic=snapshot.intrinsic[row],
        relative=snapshot.relative[row] if with_reference else None,
        dataset=record["dataset"],
    )


def label(snapshot: LibrarySnapshot, row: int) -> dict:
    return snapshot.records[row]["outcome"]["label"]


def bases_of(snapshot: LibrarySnapshot) -> dict[str, list[int]]:
    rows_of = defaultdict(list)
    for row in range(len(snapshot)):
        rows_of[label(snapshot, row)["base"]].append(row)
    return dict(rows_of)


def screened(snapshot: LibrarySnapshot, rows: list[int], index: LibraryIndex) -> dict:
    """The cases at `rows` screened against `index`, with their references (relative
    space) and on the candidate alone (intrinsic space), beside their ground truth."""
    out = {"relative": [], "intrinsic": []}
    for space, results in out.items():
        for row in rows:
            found = screen(fingerprint_of(snapshot, row, space == "relative"), index)
            truth = label(snapshot, row)
            modality = str(snapshot.modality[row])
            results.append(
                {
                    "base": truth["base"],
                    "modality": modality,
                    "family": truth["family"],
                    "strength": truth["strength"],
                    "defective": truth["family"] != "clean",
                    "true_type": collapse_type_of(truth["family"], modality),
                    "pre_risk": found.pre_risk,
                    "likely_type": found.collapse_type,
                    "top1_type": found.matches[0].collapse_type if found.matches else None,
                    "intrinsic": snapshot.intrinsic[row],
                    "relative": snapshot.relative[row],
                }
            )
    return out


def screen_held_out(
    snapshot: LibrarySnapshot, rows_of: dict[str, list[int]], held_out: str, library: list[str]
) -> dict[str, list[dict]]:
    """The held-out base's cases screened against a library of the `library` bases."""
    keep = [r for b in library for r in rows_of[b]]
    index = LibraryIndex(snapshot.subset(np.array(keep, dtype=np.int64)))
    return screened(snapshot, rows_of[held_out], index)


def leave_one_base_out(snapshot: LibrarySnapshot) -> dict[str, list[dict]]:
    """Every base's cases screened against a library of all the other bases."""
    rows_of = bases_of(snapshot)
    merged = {"relative": [], "intrinsic": []}
    for held_out in rows_of:
        part = screen_held_out(snapshot, rows_of, held_out, [b for b in rows_of if b != held_out])
        for space in merged:
            merged[space].extend(part[space])
    return merged


def auroc(scores: list[float], defective: list[bool]) -> float | None:
    if len(set(defective)) < 2:
        return None
    return float(roc_auc_score(defective, scores))


def summarise(results: list[dict]) -> dict:
    risk = [50.0 if r["pre_risk"] is None else r["pre_risk"] for r in results]
    defective = [r["defective"] for r in results]
    bad = [r for r in results if r["defective"]]
    out = {
        "cases": len(results),
        "defective": len(bad),
        "auroc": auroc(risk, defective),
        "type_accuracy": float(np.mean([r["likely_type"] == r["true_type"] for r in bad])),
        "top1_type_accuracy": float(np.mean([r["top1_type"] == r["true_type"] for r in bad])),
        "proceed_fpr": float(
            np.mean([x >= 50 for x, r in zip(risk, results, strict=True) if not r["defective"]])
        ),
        "proceed_fnr": float(
            np.mean([x < 50 for x, r in zip(risk, results, strict=True) if r["defective"]])
        ),
        "by_modality": {},
        "by_family": {},
    }
    for modality in sorted({r["modality"] for r in results}):
        part = [(x, r) for x, r in zip(risk, results, strict=True) if r["modality"] == modality]
        out["by_modality"][modality] = auroc(
            [x for x, _ in part], [r["defective"] for _, r in part]
        )
    for family in sorted({r["family"] for r in results} - {"clean"}):
        part = [
            (x, r)
            for x, r in zip(risk, results, strict=True)
            if r["family"] in (family, "clean")
            and r["modality"] in {q["modality"] for q in results if q["family"] == family}
        ]
        out["by_family"][family] = auroc([x for x, _ in part], [r["defective"] for _, r in part])
    return out


def baselines(results: list[dict]) -> dict:
    """The simplest screens a user could run, on the same cases."""
    names = [f.name for f in INTRINSIC]
    pair = [f.name for f in TWO_SAMPLE]
    duplicate = [r["intrinsic"][names.index("duplicate_rows")] for r in results]
    duplicate = [0.0 if not np.isfinite(x) else x for x in duplicate]
    ks = []
    for r in results:
        key = "unigram_js" if r["modality"] == "text" else "ks_mean"
        value = r["relative"][pair.index(key)]
        ks.append(0.0 if not np.isfinite(value) else float(value))
    defective = [r["defective"] for r in results]
    return {
        "duplicate_share_auroc": auroc(duplicate, defective),
        "mean_ks_auroc": auroc(ks, defective),
    }


def shipped_library(snapshot: LibrarySnapshot, work: Path) -> dict[str, dict]:
    """The library `synthos signatures seed` builds (its own generator on bundled data),
    screening every suite case; signatures of the case's own base are left out (the
    bundled docstrings count as the base of both suite text corpora)."""
    from synthos.analysis.signatures.patterns import known_patterns

    shipped = seed_library(
        SignatureLibrary(work / "shipped.h5"),
        known_patterns(SHIPPED_SPLITS),
        config=FingerprintConfig(threads=1),
    )
    shipped_base = np.array([r["outcome"]["label"]["base"] for r in shipped.records])
    suite = bases_of(snapshot)
    merged = {"relative": [], "intrinsic": []}
    for base, rows in suite.items():
        own = {base} | ({"docstrings"} if base in ("stdlib_docs", "numeric_docs") else set())
        index = LibraryIndex(shipped.subset(np.flatnonzero(~np.isin(shipped_base, list(own)))))
        for space, part in screened(snapshot, rows, index).items():
            merged[space].extend(part)
    return {"signatures": len(shipped), **{k: summarise(v) for k, v in merged.items()}}


def learning_curve(snapshot: LibrarySnapshot, seed: int = 0) -> list[dict]:
    """Pooled AUROC when each held-out base meets the first 1, 2, ... other bases of a
    random order (ORDERS orders, averaged)."""
    rows_of = bases_of(snapshot)
    rng = np.random.default_rng(seed)
    orders = [list(rng.permutation(sorted(rows_of))) for _ in range(ORDERS)]
    curve = []
    for size in range(1, len(rows_of)):
        aurocs = {"relative": [], "intrinsic": []}
        for order in orders:
            merged = {"relative": [], "intrinsic": []}
            for held_out in order:
                chosen = [b for b in order if b != held_out][:size]
                part = screen_held_out(snapshot, rows_of, held_out, chosen)
                for space in merged:
                    merged[space].extend(part[space])
            for space, rows in merged.items():
                aurocs[space].append(summarise(rows)["auroc"])
        curve.append({"bases": size, **{k: float(np.mean(v)) for k, v in aurocs.items()}})
        print(f"  library of {size} bases: {curve[-1]}", flush=True)
    return curve


WRITER = """
import sys, numpy as np
from synthos.analysis.signatures.fingerprint import Fingerprint, INTRINSIC
from synthos.analysis.signatures.store import Outcome, Signature, SignatureLibrary
library = SignatureLibrary(sys.argv[1]); batch = int(sys.argv[2]); writer = sys.argv[3]
rng = np.random.default_rng(int(writer[1:]))
for k in range(1000):
    entries = [
        Signature(f"{writer}-{k}-{i}",
                  Fingerprint("tabular", rng.standard_normal(len(INTRINSIC)), None, {}),
                  Outcome(collapse_detected=False), "durability")
        for i in range(batch)
    ]
    library.add(entries)
    print(f"committed {writer}-{k}", flush=True)
"""


def durability(work: Path, writers: int = 100, batch: int = 20) -> dict:
    from synthos.analysis.signatures.fingerprint import INTRINSIC as FEATURES
    from synthos.analysis.signatures.store import Outcome, Signature

    library = SignatureLibrary(work / "durability.h5")
    rng = np.random.default_rng(0)
    timings = {}
    for size, count in (("single", 1), ("batch_of_100", 100)):
        started = time.perf_counter()
        rounds = 30
        for k in range(rounds):
            entries = [
                Signature(
                    f"speed-{size}-{k}-{i}",
                    Fingerprint("tabular", rng.standard_normal(len(FEATURES)), None, {}),
                    Outcome(collapse_detected=False),
                    "speed",
                )
                for i in range(count)
            ]
            library.add(entries)
        seconds = time.perf_counter() - started
        timings[size] = {
            "writes_per_s": rounds / seconds,
            "signatures_per_s": rounds * count / seconds,
            "library_size_after": len(library.read()),
        }
    committed: set[str] = set()
    lost = unreadable = killed_mid_write = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for w in range(writers):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(library.path), str(batch), f"w{w}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines = [proc.stdout.readline()]  # wait for the first commit (imports done)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        lines += rest.splitlines()
        done = {line.split()[1] for line in lines if line.startswith("committed")}
        committed |= done
        if list(library.path.parent.glob(f".{library.path.name}.*.tmp")):
            killed_mid_write += 1
        try:
            snapshot = library.read()
        except Exception:
            unreadable += 1
            continue
        stored = {"-".join(i.split("-")[:2]) for i in snapshot.ids}
        lost = len(committed - stored)
    return {
        **timings,
        "writers_killed": writers,
        "killed_while_writing": killed_mid_write,
        "unreadable_after_kill": unreadable,
        "committed_batches": len(committed),
        "lost_batches": lost,
        "final_signatures": len(library.read()),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    out = fn()
    return out, time.perf_counter() - wall, _cpu_seconds() - cpu


def speed(work: Path, library: SignatureLibrary) -> dict:
    """The pre-screen of a 1M-row Parquet file (2 engine threads) against the duplicate-share
    screen in pandas and `detect_collapse` without a reference, on the same file."""
    import pandas as pd

    from benchmarks.detect_scale import write_dataset
    from synthos.analysis.collapse import CollapseConfig, detect_collapse
    from synthos.analysis.signatures.prescreen import prescreen

    path = write_dataset(work / "million.parquet", 1_000_000, 20, seed=5)
    index = LibraryIndex(library)
    index.refresh()
    load = os.getloadavg()[0]
    result, ours, ours_cpu = _timed(
        lambda: prescreen(path, library=index, fingerprint_config=FingerprintConfig(threads=2))
    )
    _, pandas_wall, pandas_cpu = _timed(lambda: pd.read_parquet(path).duplicated().mean())
    _, detector, detector_cpu = _timed(
        lambda: detect_collapse(path, config=CollapseConfig(threads=2))
    )
    return {
        "rows": 1_000_000,
        "columns": 20,
        "load_average_at_start": load,
        "prescreen_s": ours,
        "prescreen_cpu_s": ours_cpu,
        "fingerprint_s": result.fingerprint.seconds,
        "sample_rows": result.fingerprint.dataset["sample_rows"],
        "pandas_duplicate_share_s": pandas_wall,
        "pandas_duplicate_share_cpu_s": pandas_cpu,
        "detect_collapse_s": detector,
        "detect_collapse_cpu_s": detector_cpu,
        "pre_risk": result.pre_risk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--bases", nargs="+", default=list(ALL_NAMES), help="base datasets")
    parser.add_argument("--writers", type=int, default=100, help="writers killed")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="signature-bench-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cases = suite_cases(args.seeds, tuple(args.bases))
    library = SignatureLibrary(work / "suite.h5")
    seconds = time.perf_counter()
    snapshot = seed_library(
        library,
        cases,
        config=FingerprintConfig(threads=1),
        source="collapse_suite",
        progress=lambda n, c: (
            print(f"  {n}/{len(cases)} {c.name}", flush=True) if n % 50 == 0 else None
        ),
    )
    seconds = time.perf_counter() - seconds
    print(f"fingerprinted {len(snapshot)} cases in {seconds:.0f} s", flush=True)
    lobo = leave_one_base_out(snapshot)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "command": " ".join(sys.argv),
        "cases": len(snapshot),
        "fingerprint_seconds_per_case": seconds / len(snapshot),
        "leave_one_base_out": {space: summarise(rows) for space, rows in lobo.items()},
        "baselines": baselines(lobo["relative"]),
    }
    print(json.dumps(report, indent=2), flush=True)
    report["shipped_library"] = shipped_library(snapshot, work)
    print(json.dumps(report["shipped_library"], indent=2), flush=True)
    report["learning_curve"] = learning_curve(snapshot)
    report["durability"] = durability(work, args.writers)
    print(json.dumps(report["durability"], indent=2), flush=True)
    if not args.skip_speed:
        report["speed"] = speed(work, library)
        print(json.dumps(report["speed"], indent=2), flush=True)
    report["total_seconds"] = time.perf_counter() - started
    (out / "signature_prescreen.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'signature_prescreen.json'}")


if __name__ == "__main__":
    main()
