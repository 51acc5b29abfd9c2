"""Collapse detection at 1M rows x 50 columns: time and peak memory, against named baselines.

Writes a candidate and a reference (Parquet, 1M rows each: 45 numeric columns driven by 5
latent factors plus noise, 5 categorical columns with a 1 % level), then runs
`detect_collapse` in a child process (so its peak RSS is its own) and, in this process, two
baselines on the same data:

* nearest neighbours: the detector's FAISS work (coverage, distance to closest record and
  near duplicates on the same samples) against exact scikit-learn `NearestNeighbors`
  (brute force) doing the same searches;
* exact duplicates over every row: the detector's engine hashing against pandas
  (`read_parquet` of both files, `duplicated()` and a merge for copies of reference rows).

    OMP_NUM_THREADS=2 python benchmarks/detect_scale.py [--rows 1000000] [--columns 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CATEGORICAL = 5
LEVELS = np.array(["a", "b", "c", "d", "e", "rare"])
SHARES = [0.3, 0.3, 0.2, 0.1, 0.09, 0.01]


def write_dataset(path: Path, rows: int, columns: int, seed: int) -> Path:
    """Correlated numeric columns and categorical ones, written in row groups of 128K."""
    numeric = columns - CATEGORICAL
    loadings = np.random.default_rng(1).standard_normal((5, numeric)).astype(np.float32)
    rng = np.random.default_rng(seed)
    writer = None
    chunk = 131072
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        values = rng.standard_normal((n, 5)).astype(np.float32) @ loadings
        values += rng.standard_normal((n, numeric)).astype(np.float32)
        data = {f"x{j}": values[:, j].astype(np.float64) for j in range(numeric)}
        for j in range(CATEGORICAL):
            data[f"c{j}"] = pa.array(rng.choice(LEVELS, n, p=SHARES))
        table = pa.table(data)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return path


DETECT = """
import json, resource, sys, time
from synthos.analysis.collapse import detect_collapse
started = time.perf_counter()
result = detect_collapse(sys.argv[1], sys.argv[2])
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "timings": result.timings,
    "sample_sizes": result.sample_sizes,
    "scores": {d.name: d.score for d in result.dimensions},
    "collapse_detected": result.collapse_detected,
}))
"""


def run_detector(candidate: Path, reference: Path) -> dict:
    """detect_collapse in a child process: its time and its own peak memory."""
    proc = subprocess.run(
        [sys.executable, "-c", DETECT, str(candidate), str(reference)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def neighbour_searches(candidate: Path, reference: Path) -> dict[str, float]:
    """The detector's nearest-neighbour searches through FAISS and through exact sklearn."""
    from sklearn.neighbors import NearestNeighbors

    from synthos.analysis.collapse import CollapseConfig, knn_support, neighbors, prepare
    from synthos.analysis.collapse.detector import thread_limits

    cmp = prepare(candidate, reference, config=CollapseConfig())
    ref, cand, hold = knn_support.matched(cmp)
    k = cmp.config.k

    def with_faiss() -> None:
        radius = neighbors.support_radius(ref, k)
        for other in (cand, hold):
            neighbors.coverage(ref, radius, other)
            neighbors.precision(ref, radius, other)
            neighbors.knn(ref, other, 2)
            neighbors.nearest_other(other, 2)

    def with_sklearn() -> None:
        index = NearestNeighbors(algorithm="brute").fit(ref)
        index.kneighbors(ref, k + 1)
        for other in (cand, hold):
            NearestNeighbors(algorithm="brute").fit(other).kneighbors(ref, 1)
            index.kneighbors(other, 10)
            index.kneighbors(other, 2)
            NearestNeighbors(algorithm="brute").fit(other).kneighbors(other, 3)

    out = {"rows": {"reference": int(ref.shape[0]), "candidate": int(cand.shape[0])}}
    for name, fn in (("faiss", with_faiss), ("sklearn", with_sklearn)):
        with thread_limits(cmp.config.model_threads):  # as the detector runs
            started = time.perf_counter()
            fn()
            out[name] = time.perf_counter() - started
    return out


def pandas_duplicates(candidate: Path, reference: Path) -> dict[str, float]:
    """Exact duplicates and copies of reference rows over every row, in pandas."""
    import pandas as pd

    started = time.perf_counter()
    cand = pd.read_parquet(candidate)
    ref = pd.read_parquet(reference)
    duplicates = int(cand.duplicated().sum())
    keys = pd.util.hash_pandas_object(ref, index=False).unique()
    copies = int(pd.util.hash_pandas_object(cand, index=False).isin(keys).sum())
    return {
        "seconds": time.perf_counter() - started,
        "duplicates": duplicates,
        "copies": copies,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--work-dir", type=Path, help="where to write the data (default: tmp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        started = time.perf_counter()
        candidate = write_dataset(Path(tmp) / "candidate.parquet", args.rows, args.columns, 1)
        reference = write_dataset(Path(tmp) / "reference.parquet", args.rows, args.columns, 2)
        print(f"data written in {time.perf_counter() - started:.1f} s", flush=True)
        detector = run_detector(candidate, reference)
        hashing = detector["timings"]["collapse_prepare"]
        searches = neighbour_searches(candidate, reference)
        pandas = pandas_duplicates(candidate, reference)
    print(
        json.dumps(
            {
                "date": str(date.today()),
                "rows": args.rows,
                "columns": args.columns,
                "cpus": os.cpu_count(),
                "threads": os.environ.get("OMP_NUM_THREADS"),
                "load_average": os.getloadavg()[0],
                "detector": detector,
                "nearest_neighbours": searches,
                "pandas_duplicates": pandas,
            },
            indent=2,
        )
    )
    print(
        f"\ndetect_collapse, {args.rows:,} x {args.columns}: {detector['seconds']:.1f} s, "
        f"peak RSS {detector['peak_rss_mb']:.0f} MB "
        f"(collapse detected: {detector['collapse_detected']})\n"
        f"nearest neighbours: FAISS {searches['faiss']:.2f} s vs sklearn brute force "
        f"{searches['sklearn']:.2f} s -> {searches['sklearn'] / searches['faiss']:.1f}x\n"
        f"exact duplicates over all rows: engine hashing + samples {hashing:.1f} s vs pandas "
        f"{pandas['seconds']:.1f} s (peak RSS {pandas['peak_rss_mb']:.0f} MB) -> "
        f"{pandas['seconds'] / hashing:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
