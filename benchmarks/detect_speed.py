"""`synthos detect` on small tables, end to end and as a Python call, against SDMetrics'
QualityReport on the same data in the same run.

Cases: a 1,000-row, 20-column table (15 numeric columns from 5 latent factors, 5
categorical; candidate and reference drawn from one distribution), and SDMetrics' own demo
pairs when sdmetrics is installed (the 215-row single table with its metadata; the 700-row
panel of 100 stores over 7 days, read by Synthos as a panel through its metadata and by
QualityReport as a single table). For each, in fresh child processes (so imports count as
a user pays them):

* CLI: ``python -m synthos.cli detect ... --no-plot``, wall time of the whole process;
* Python call: import time, the first ``detect_collapse`` call and a second (warm) one;
* SDMetrics: ``python -c`` reading both CSVs with pandas and running
  ``QualityReport.generate`` (wall time of the whole process, and of the call).

Wall times on a shared machine are upper bounds; CPU seconds (user + system of the child)
are printed beside them, and the load average at the start.

    OMP_NUM_THREADS=1 python benchmarks/detect_speed.py [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.detect_scale import write_dataset

PYTHON_CALL = """
import json, sys, time
started = time.perf_counter()
from synthos.analysis.collapse import detect_collapse
imported = time.perf_counter()
kwargs = {"metadata": sys.argv[3]} if len(sys.argv) > 3 else {}
detect_collapse(sys.argv[1], sys.argv[2], **kwargs)
first = time.perf_counter()
result = detect_collapse(sys.argv[1], sys.argv[2], **kwargs)
warm = time.perf_counter()
print(json.dumps({"import": imported - started, "first_call": first - imported,
                  "warm_call": warm - first, "collapse_detected": result.collapse_detected,
                  "failed": result.failed_dimensions}))
"""

SDMETRICS_CALL = """
import json, sys, time
import pandas as pd
from sdmetrics.reports.single_table import QualityReport
real, synthetic = pd.read_csv(sys.argv[2]), pd.read_csv(sys.argv[1])
if len(sys.argv) > 3:
    metadata = next(iter(json.load(open(sys.argv[3]))["tables"].values()))
else:
    metadata = {"columns": {c: {"sdtype": "numerical" if real[c].dtype.kind in "if"
                                else "categorical"} for c in real.columns}}
started = time.perf_counter()
report = QualityReport()
report.generate(real, synthetic, metadata, verbose=False)
print(json.dumps({"call": time.perf_counter() - started, "score": report.get_score()}))
"""


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-2000:]}")
    return wall, cpu, done.stdout


def cases(work: Path) -> dict[str, tuple[Path, Path, Path | None]]:
    """name -> (candidate CSV, reference CSV, metadata or None)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = {}
    for role, seed in (("candidate", 1), ("reference", 2)):
        parquet = write_dataset(work / f"{role}.parquet", 1000, 20, seed)
        pacsv.write_csv(pq.read_table(parquet), work / f"{role}.csv")
    out["table_1000x20"] = (work / "candidate.csv", work / "reference.csv", None)
    try:
        import sdmetrics
    except ImportError:
        return out
    demos = Path(sdmetrics.__file__).parent / "demos"
    single, series = demos / "single_table", demos / "timeseries"
    out["sdmetrics_student_placements"] = (
        single / "student_placements_synthetic.csv",
        single / "student_placements_real.csv",
        single / "metadata.json",
    )
    out["sdmetrics_timeseries_panel"] = (
        series / "timeseries_synthetic.csv",
        series / "timeseries_real.csv",
        series / "metadata.json",
    )
    return out


def measure(name: str, paths: tuple[Path, Path, Path | None], work: Path, repeats: int) -> dict:
    cand, ref, meta = paths
    extra = [str(meta)] if meta else []
    cli = [sys.executable, "-m", "synthos.cli", "detect", "--candidate", str(cand)]
    cli += ["--reference", str(ref), "--out", str(work / f"out_{name}"), "--no-plot"]
    cli += ["--metadata", str(meta)] if meta else []
    runs: dict[str, list] = {"cli": [], "python": [], "sdmetrics": []}
    for _ in range(repeats):
        wall, cpu, _ = timed(cli)
        runs["cli"].append({"wall": wall, "cpu": cpu})
        wall, cpu, out = timed([sys.executable, "-c", PYTHON_CALL, str(cand), str(ref), *extra])
        runs["python"].append({"wall": wall, "cpu": cpu, **json.loads(out.splitlines()[-1])})
        try:
            wall, cpu, out = timed(
                [sys.executable, "-c", SDMETRICS_CALL, str(cand), str(ref), *extra]
            )
            runs["sdmetrics"].append({"wall": wall, "cpu": cpu, **json.loads(out.splitlines()[-1])})
        except RuntimeError as exc:
            runs["sdmetrics_error"] = str(exc)[-300:]

    def median(part: str, key: str) -> float | None:
        values = [r[key] for r in runs[part] if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    summary = {
        "cli_wall": median("cli", "wall"),
        "cli_cpu": median("cli", "cpu"),
        "python_import": median("python", "import"),
        "python_first_call": median("python", "first_call"),
        "python_warm_call": median("python", "warm_call"),
        "sdmetrics_wall": median("sdmetrics", "wall"),
        "sdmetrics_cpu": median("sdmetrics", "cpu"),
        "sdmetrics_call": median("sdmetrics", "call"),
    }
    if summary["cli_wall"] and summary["sdmetrics_wall"]:
        summary["cli_over_sdmetrics_wall"] = round(
            summary["cli_wall"] / summary["sdmetrics_wall"], 2
        )
    return {"summary": summary, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    env_note = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "environment": env_note,
        "cases": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, paths in cases(work).items():
            report["cases"][name] = measure(name, paths, work, args.repeats)
            print(name, json.dumps(report["cases"][name]["summary"]), flush=True)
    report["load_average_at_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
