"""Diversity analysis at scale: the analyzer against the same aggregates in plain DuckDB SQL.

Generates N rows x 20 columns of Parquet (6 categorical, 13 numeric with a correlated pair
and 0.1 % planted outliers, 1 text column; parts of 1M rows, cached in --data-dir), then
runs, each in its own process on --threads cores (default 2):

* baseline: the same aggregates written directly in DuckDB SQL for this schema - the
  hash-sampled profile rows and their quantiles, one global pass (counts, min/max, shifted
  co-moments of all 78 numeric pairs, robust-z outliers, tails, arg min/max, distinct
  estimates, text lengths), one grouping-sets pass (joint strata plus every categorical
  and text-length marginal), Spearman and Cramer's V on the profile rows, and the
  stratified sample (candidate scan with per-stratum hash thresholds, tails, extremes;
  window selection; COPY to Parquet);
* analyzer: `synthos.analysis.analyze_diversity` on the same files with the same strata
  columns, writing the same sample (it also classifies columns, clusters rows and text,
  and builds the report).

It prints wall time, peak RSS (and its growth during the run, which leaves out the
interpreter and imports) of each and the ratio analyzer / baseline (goal <= 1.3), then
fits wall time against rows over several sizes (t = a + b N, least squares, and the
log-log slope) and extrapolates to 1B rows.

    python benchmarks/diversity_bench.py                              # smoke: 1M rows
    python benchmarks/diversity_bench.py --rows 30M                   # ratio at 30M, fit 3M..30M
    python benchmarks/diversity_bench.py --rows 100M --repeats 2      # the 100M-row target
    python benchmarks/diversity_bench.py --rows 10M --compare-engines # DuckDB vs Polars

Sizes accept K/M/B suffixes. Generated data takes about 140 bytes per row on disk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

PART_ROWS = 1_000_000
ROW_GROUP = 250_000
SPEC_VERSION = 1
CATEGORICAL = {"cat_a": 3, "cat_b": 5, "cat_c": 8, "cat_d": 12, "cat_e": 30}
NUMERIC = [f"num_{j}" for j in range(12)] + ["count"]
CATS = [*CATEGORICAL, "flag"]
TEXT = "text"
STRATA = ["cat_a", "cat_b", "num_0"]
SEED = 0
PROFILE_ROWS = 500_000
RARE = 0.01
OVERSAMPLE = 3.0
TAILS = (0.001, 0.999)
TAIL_FRACTION = 0.05
ROBUST_Z = 3.5
_VOCABULARY = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega data model token train loss"
)
WORDS = _VOCABULARY.split()


def _duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


def parse_rows(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6, "B": 10**9}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "KMB" else text
    return int(float(number) * scale)


# ---------------------------------------------------------------------------------------
# data


def _part(index: int, rows: int):
    import pyarrow as pa

    rng = np.random.default_rng([SEED, index])
    text_rng = np.random.default_rng(12345)
    pool = pa.array(
        [" ".join(text_rng.choice(WORDS, size=int(text_rng.integers(2, 40)))) for _ in range(5000)]
    )
    cols = {}
    for name, k in CATEGORICAL.items():
        p = 1.0 / np.arange(1, k + 1) ** 1.2
        p /= p.sum()
        idx = rng.choice(k, size=rows, p=p).astype(np.int32)
        labels = pa.array([f"{name}_{i}" for i in range(k)])
        cols[name] = pa.DictionaryArray.from_arrays(pa.array(idx), labels)
    cols["flag"] = pa.array(rng.random(rows) < 0.3)
    base = rng.standard_normal(rows)
    for j in range(12):
        if j == 0:
            x = base
        elif j == 1:
            x = 0.8 * base + 0.6 * rng.standard_normal(rows)
        elif j % 3 == 0:
            x = rng.lognormal(0.0, 1.0, rows)
        elif j % 3 == 1:
            x = rng.uniform(-5.0, 5.0, rows)
        else:
            x = rng.standard_normal(rows) * 3.0 + 10.0
        out = rng.random(rows) < 0.001
        x = np.where(out, x + 50.0 * np.sign(rng.standard_normal(rows)), x)
        cols[f"num_{j}"] = pa.array(x)
    cols["count"] = pa.array(rng.poisson(4, rows).astype(np.int64))
    codes = pa.array(rng.integers(0, len(pool), rows).astype(np.int32))
    cols[TEXT] = pa.DictionaryArray.from_arrays(codes, pool)
    return pa.table(cols)


def ensure_parts(data_dir: Path, parts: int) -> list[Path]:
    """Parts 0..parts-1 of the generated dataset (made once, reused)."""
    import pyarrow.parquet as pq

    store = data_dir / "parts"
    store.mkdir(parents=True, exist_ok=True)
    spec = {"version": SPEC_VERSION, "part_rows": PART_ROWS, "seed": SEED}
    spec_path = data_dir / "spec.json"
    if spec_path.exists() and json.loads(spec_path.read_text()) != spec:
        shutil.rmtree(store)
        store.mkdir(parents=True)
    spec_path.write_text(json.dumps(spec))
    paths = []
    started = time.perf_counter()
    made = 0
    for i in range(parts):
        path = store / f"part-{i:05d}.parquet"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            pq.write_table(_part(i, PART_ROWS), tmp, row_group_size=ROW_GROUP)
            tmp.rename(path)
            made += 1
        paths.append(path)
    if made:
        print(
            f"generated {made} parts of {PART_ROWS:,} rows in {time.perf_counter() - started:.0f} s"
        )
    return paths


def dataset_dir(data_dir: Path, parts: list[Path]) -> Path:
    """A directory holding (hard links to) exactly these parts."""
    target = data_dir / f"rows-{len(parts) * PART_ROWS}"
    if target.exists() and len(list(target.glob("*.parquet"))) == len(parts):
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for part in parts:
        try:
            os.link(part, target / part.name)
        except OSError:
            os.symlink(part, target / part.name)
    return target


# ---------------------------------------------------------------------------------------
# the two contestants (run in child processes)


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    cur = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cur, peak


def run_analyzer(path: str, threads: int, sample_size: int, out: str) -> dict:
    import synthos.datamodules.loading  # noqa: F401  (imports outside the timed region)
    from synthos.analysis import analyze_diversity

    before, _ = _rss_mib()
    t0 = time.perf_counter()
    result = analyze_diversity(
        path,
        sample_size=sample_size,
        seed=SEED,
        threads=threads,
        strata_columns=STRATA,
        profile_rows=PROFILE_ROWS,
        sample_path=Path(out) / "sample_analyzer.parquet",
    )
    wall = time.perf_counter() - t0
    _, peak = _rss_mib()
    return {
        "wall_s": wall,
        "peak_rss_mib": peak,
        "rss_growth_mib": peak - before,
        "rows": result.dataset["rows"],
        "sample_rows": result.sample["size"],
        "strata": result.strata["count"],
        "timings": result.timings,
        "entropy": result.entropy,
        "outlier_percentage": result.outlier_percentage,
    }


def run_baseline(path: str, threads: int, sample_size: int, out: str) -> dict:
    """The same aggregates, written directly in DuckDB SQL for the benchmark's schema."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute

    import synthos.datamodules.loading  # noqa: F401  (same imports as the analyzer)

    before, _ = _rss_mib()
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute("SET preserve_insertion_order=false")
    files = sorted(str(p) for p in Path(path).glob("*.parquet"))
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    scan = f"read_parquet({listing})"
    n = con.sql(f"SELECT count(*) FROM {scan}").fetchall()[0][0]
    offsets = np.cumsum([0] + [PART_ROWS] * (len(files) - 1)).tolist()
    src = (
        f"(SELECT *, (list_extract(CAST({offsets} AS BIGINT[]), CAST(file_index AS BIGINT) + 1)"
        f" + file_row_number)::BIGINT AS __rid FROM {scan})"
    )
    u = f"hash(__rid, {SEED}::BIGINT)"
    clean = {
        c: f"CASE WHEN isfinite(CAST({c} AS DOUBLE)) THEN CAST({c} AS DOUBLE) END" for c in NUMERIC
    }

    # 1. profile rows and their statistics
    frac = min(1.0, (1.15 * PROFILE_ROWS + 64 * math.sqrt(PROFILE_ROWS)) / n)
    thr = min((1 << 64) - 1, int(frac * ((1 << 64) - 1)))
    cols = ", ".join([*[f"{c} AS {c}" for c in CATS], *[f"{clean[c]} AS {c}" for c in NUMERIC]])
    profile = con.sql(
        f"SELECT {cols}, left(CAST({TEXT} AS VARCHAR), 1000) AS {TEXT}, __rid, {u} AS __u "
        f"FROM {src} WHERE {u} <= {thr}::UBIGINT ORDER BY __u LIMIT {PROFILE_ROWS}"
    ).to_arrow_table()
    con.register("profile", profile)
    stats = {}
    for c in NUMERIC:
        row = con.sql(
            f"SELECT quantile_cont({c}, [{TAILS[0]}, 0.25, 0.5, 0.75, {TAILS[1]}]), avg({c}) "
            f"FROM profile"
        ).fetchall()[0]
        q, mean = row
        mad = con.sql(f"SELECT median(abs({c} - {q[2]})) FROM profile").fetchall()[0][0]
        stats[c] = {"q": q, "mean": mean, "scale": 1.4826 * mad or (q[3] - q[1]) / 1.349}
    levels = {}
    for c in CATS:
        rows = con.sql(
            f"SELECT CAST({c} AS VARCHAR), count(*) c FROM profile GROUP BY 1 ORDER BY c DESC, 1"
        ).fetchall()
        levels[c] = [r[0] for r in rows[:50]]
    # Spearman on the profile rows (ranks by window) and Cramer's V contingency counts
    ranks = ", ".join(f"rank() OVER (ORDER BY {c}) AS r_{c}" for c in NUMERIC)
    pairs = [(a, b) for i, a in enumerate(NUMERIC) for b in NUMERIC[i + 1 :]]
    con.sql(
        f"SELECT {', '.join(f'corr(r_{a}, r_{b})' for a, b in pairs)} "
        f"FROM (SELECT {ranks} FROM (SELECT * FROM profile LIMIT 200000))"
    ).fetchall()
    for i, a in enumerate(CATS):
        for b in CATS[i + 1 :]:
            con.sql(f"SELECT {a}, {b}, count(*) FROM profile GROUP BY ALL").fetchall()

    # 2. the global pass
    aggs = ["count(*)"]
    union = []
    for c in NUMERIC:
        st = stats[c]
        s = f"{st['mean']!r}::DOUBLE"
        x = f"x_{c}"
        bound = ROBUST_Z * st["scale"]
        cond = f"abs({x} - {st['q'][2]!r}) > {bound!r}"
        union.append(f"({cond})")
        aggs += [
            f"count({x})",
            f"min({x})",
            f"max({x})",
            f"sum({x} - {s})",
            f"sum(({x} - {s}) * ({x} - {s}))",
            f"arg_min(__rid, {x})",
            f"arg_max(__rid, {x})",
            f"count_if({x} < {st['q'][0]!r})",
            f"count_if({x} > {st['q'][4]!r})",
            f"count_if({cond})",
        ]
    for i, a in enumerate(NUMERIC):
        for b in NUMERIC[i + 1 :]:
            sa, sb = stats[a]["mean"], stats[b]["mean"]
            aggs.append(f"sum((x_{a} - {sa!r}::DOUBLE) * (x_{b} - {sb!r}::DOUBLE))")
    aggs.append(f"count_if({' OR '.join(union)})")
    aggs += [f"approx_count_distinct(CAST({c} AS VARCHAR))" for c in CATS]
    aggs += [f"avg(length(CAST({TEXT} AS VARCHAR)))", f"min(length(CAST({TEXT} AS VARCHAR)))"]
    aggs += [f"max(length(CAST({TEXT} AS VARCHAR)))", f"approx_count_distinct({TEXT})"]
    inner = ", ".join(f"{clean[c]} AS x_{c}" for c in NUMERIC)
    g = con.sql(f"SELECT {', '.join(aggs)} FROM (SELECT *, {inner} FROM {src})").fetchall()[0]
    argext = []
    for k in range(len(NUMERIC)):
        argext += [g[1 + 10 * k + 5], g[1 + 10 * k + 6]]
    # deterministic extremes where values repeat: the first row among ties
    ties = []
    for k, c in enumerate(NUMERIC):
        repeats = con.sql(f"SELECT count(DISTINCT {c}) < count({c}) FROM profile").fetchall()[0][0]
        if repeats:
            lo, hi = g[1 + 10 * k + 1], g[1 + 10 * k + 2]
            ties.append((k, f"min(__rid) FILTER (WHERE x_{c} = {lo!r})"))
            ties.append((k, f"min(__rid) FILTER (WHERE x_{c} = {hi!r})"))
    if ties:
        firsts = con.sql(
            f"SELECT {', '.join(e for _, e in ties)} FROM (SELECT *, {inner} FROM {src})"
        ).fetchall()[0]
        argext += list(firsts)
    tails = {c: (g[1 + 10 * k + 7], g[1 + 10 * k + 8]) for k, c in enumerate(NUMERIC)}

    # 3. strata counts: joint key and marginals as grouping sets
    def cat_key(c: str) -> str:  # integer codes: grouping on them is fast
        listed = ", ".join(f"'{v}'" for v in levels[c])
        v = f"CAST({c} AS VARCHAR)"
        return f"CASE WHEN {c} IS NULL THEN -1 ELSE coalesce(list_position([{listed}], {v}), 0) END"

    q0 = stats["num_0"]["q"]
    bins = " + ".join(f"(x_num_0 > {q0[i]!r})::INT" for i in (1, 2, 3))
    num_key = f"CASE WHEN x_num_0 IS NULL THEN -1 ELSE {bins} END"
    tlen = f"floor(log2(length(CAST({TEXT} AS VARCHAR)) + 1))::INT"
    keys = {"k0": cat_key("cat_a"), "k1": cat_key("cat_b"), "k2": num_key}
    margs = {f"m_{c}": cat_key(c) for c in CATS} | {"m_text": tlen}
    exprs = ", ".join(f"{e} AS {a}" for a, e in (keys | margs).items())
    sets = ["(k0, k1, k2)"] + [f"({m})" for m in margs]
    grouped = con.sql(
        f"SELECT k0, k1, k2, {', '.join(margs)}, count(*) AS n, GROUPING(k0) AS gk "
        f"FROM (SELECT {exprs} FROM (SELECT *, {clean['num_0']} AS x_num_0 FROM {src})) "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    ).to_arrow_table()
    strata = grouped.filter(np.asarray(grouped.column("gk").to_numpy()) == 0)
    counts = strata.column("n").to_numpy()

    # 4. the stratified sample: allocation, candidate scan, window selection, COPY
    rare = counts < RARE * n
    lower = np.where(
        rare, np.minimum(counts, np.maximum(1, np.ceil(OVERSAMPLE * sample_size * counts / n))), 1
    )
    lam_lo, lam_hi = 0.0, 1.0
    for _ in range(100):
        lam = (lam_lo + lam_hi) / 2
        if np.clip(lam * counts, lower, counts).sum() > sample_size:
            lam_hi = lam
        else:
            lam_lo = lam
    alloc = np.round(np.clip(lam_lo * counts, lower, counts)).astype(np.int64)
    want = alloc * 1.1 + 4 * np.sqrt(alloc) + 16
    thr_s = np.minimum(((1 << 64) - 1), (np.minimum(1.0, want / counts) * ((1 << 64) - 1))).astype(
        np.uint64
    )
    con.register(
        "st",
        pa.table(
            {
                "k0": strata.column("k0"),
                "k1": strata.column("k1"),
                "k2": strata.column("k2"),
                "sid": pa.array(range(len(counts))),
                "thr": pa.array(thr_s, pa.uint64()),
                "alloc": pa.array(alloc),
            }
        ),
    )
    per_tail = max(1, math.ceil(TAIL_FRACTION * sample_size / (2 * len(NUMERIC))))
    conds = []
    fractions = [float(np.minimum(1.0, want / counts).max())]
    rare_keys = []
    for m in margs:
        if m == "m_text":
            continue
        sub = grouped.filter(pa.compute.is_valid(grouped.column(m)))
        codes = sub.column(m).to_pylist()
        pops = sub.column("n").to_pylist()
        rare_codes = [(c, k) for c, k in zip(codes, pops, strict=True) if k < RARE * n]
        if rare_codes:
            need = max(min(k, math.ceil(OVERSAMPLE * sample_size * k / n)) for _, k in rare_codes)
            p = min(1.0, (need * 1.1 + 4 * math.sqrt(need) + 16) / min(k for _, k in rare_codes))
            fractions.append(p)
            listed = ", ".join(str(c) for c, _ in rare_codes)
            conds.append(f"({m} IN ({listed}) AND __u <= {int(p * ((1 << 64) - 1))}::UBIGINT)")
            rare_keys.append(f"{margs[m]} AS {m}")
    for c in NUMERIC:
        lo_n, hi_n = tails[c]
        q = stats[c]["q"]
        for op, bound, pop in (("<", q[0], lo_n), (">", q[4], hi_n)):
            if pop:
                p = min(1.0, (per_tail * 1.5 + 16) / pop)
                fractions.append(p)
                conds.append(
                    f"(x_{c} {op} {bound!r} AND __u <= {int(p * ((1 << 64) - 1))}::UBIGINT)"
                )
    forced = ", ".join(str(int(r)) for r in argext if r is not None)
    conds.append(f"__rid IN ({forced})")
    xs = ", ".join(f"{clean[c]} AS x_{c}" for c in NUMERIC)
    top = int(min(1.0, max(fractions)) * ((1 << 64) - 1))
    pre = f"SELECT *, {u} AS __u FROM {src} WHERE {u} <= {top}::UBIGINT OR __rid IN ({forced})"
    extra = "".join(f", {e}" for e in rare_keys)
    cand = (
        f"SELECT b.*, st.sid, st.alloc FROM (SELECT *, {keys['k0']} AS k0, {keys['k1']} AS k1, "
        f"{keys['k2']} AS k2{extra} FROM (SELECT *, {xs} FROM ({pre}))) b "
        f"JOIN st ON b.k0 = st.k0 AND b.k1 = st.k1 AND b.k2 = st.k2 "
        f"WHERE b.__u <= st.thr OR {' OR '.join(conds)}"
    )
    con.execute(f"CREATE TEMP TABLE cand AS {cand}")
    data_cols = ", ".join([*CATS, *NUMERIC, TEXT])
    out_path = Path(out) / "sample_baseline.parquet"
    parts_sql = [
        "SELECT __rid FROM cand QUALIFY "
        "row_number() OVER (PARTITION BY sid ORDER BY __u, __rid) <= alloc",
        f"SELECT __rid FROM cand WHERE __rid IN ({forced})",
    ]
    for c in NUMERIC:
        q = stats[c]["q"]
        for op, bound in (("<", q[0]), (">", q[4])):
            parts_sql.append(
                f"(SELECT __rid FROM cand WHERE x_{c} {op} {bound!r} "
                f"ORDER BY __u, __rid LIMIT {per_tail})"
            )
    chosen = " UNION ".join(parts_sql)
    con.execute(
        f"COPY (SELECT {data_cols}, __rid FROM cand WHERE __rid IN ({chosen}) ORDER BY __rid) "
        f"TO '{out_path}' (FORMAT parquet)"
    )
    wall = time.perf_counter() - t0
    _, peak = _rss_mib()
    return {"wall_s": wall, "peak_rss_mib": peak, "rss_growth_mib": peak - before, "rows": n}


def child(role: str, path: str, threads: int, sample_size: int, out: str) -> dict:
    """Run one contestant in a fresh process; its result comes back as JSON."""
    cmd = [
        sys.executable,
        __file__,
        "--role",
        role,
        "--path",
        path,
        "--threads",
        str(threads),
        "--sample-size",
        str(sample_size),
        "--out",
        out,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{role} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


# ---------------------------------------------------------------------------------------
# the engine comparison that chose DuckDB


def compare_engines(path: str, threads: int) -> None:
    """DuckDB against Polars on the analyzer's core aggregates (one process each)."""
    for engine in ("duckdb", "polars"):
        env = {**os.environ, "POLARS_MAX_THREADS": str(threads)}
        cmd = [sys.executable, __file__, "--role", f"engine-{engine}", "--path", path]
        cmd += ["--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{engine}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(line[7:])
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items())
        print(
            f"{engine:7s} total {r['total_s']:6.1f} s  "
            f"peak RSS {r['peak_rss_mib']:6.0f} MiB  ({steps})"
        )


def engine_run(engine: str, path: str, threads: int) -> dict:
    files = sorted(str(p) for p in Path(path).glob("*.parquet"))
    n = len(files) * PART_ROWS
    m = 1_000_000
    thr = int(min(1.0, 1.1 * m / n) * 2**64 - 1)
    steps: dict[str, float] = {}
    numeric = NUMERIC
    t = time.perf_counter()
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads={threads}")
        con.execute("SET preserve_insertion_order=false")
        src = "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"
        s = con.sql(
            f"SELECT * FROM {src} WHERE hash(file_row_number, 42) < {thr}::UBIGINT"
        ).to_arrow_table()
        steps["sample"] = time.perf_counter() - t
        qs = {
            c: np.nanquantile(s.column(c).to_numpy().astype(float), [0.25, 0.5, 0.75])
            for c in numeric
        }
        mu = {c: float(np.nanmean(s.column(c).to_numpy().astype(float))) for c in numeric}
        t = time.perf_counter()
        cent = {c: f"({c}::DOUBLE - {mu[c]!r}::DOUBLE)" for c in numeric}
        aggs = ["count(*)"]
        for c in numeric:
            aggs += [f"min({c})", f"max({c})", f"sum({cent[c]})", f"arg_min(file_row_number, {c})"]
            q1, q3 = qs[c][0], qs[c][2]
            aggs.append(f"count_if({c} < {q1 - 1.5 * (q3 - q1)} OR {c} > {q3 + 1.5 * (q3 - q1)})")
        aggs += [f"sum({cent[a]}*{cent[b]})" for k, a in enumerate(numeric) for b in numeric[k:]]
        aggs += [f"approx_count_distinct({c})" for c in CATS] + ["avg(length(text))"]
        con.sql(f"SELECT {', '.join(aggs)} FROM {src}").fetchall()
        steps["global"] = time.perf_counter() - t
        t = time.perf_counter()

        def b(c: str) -> str:
            return f"(({c} > {qs[c][0]})::INT + ({c} > {qs[c][1]})::INT + ({c} > {qs[c][2]})::INT)"

        con.sql(
            "SELECT cat_a, cat_b, cat_c, cat_d, nb, tl, count(*) FROM (SELECT cat_a, cat_b, cat_c, "
            f"cat_d, {b('num_0')}*16 + {b('num_1')}*4 + {b('num_2')} AS nb, "
            f"floor(log2(length(text)+1))::INT AS tl FROM {src}) "
            f"GROUP BY GROUPING SETS ((cat_a, cat_b, cat_c, cat_d), (nb), (tl))"
        ).fetchall()
        steps["strata"] = time.perf_counter() - t
    else:
        import polars as pl

        lf = pl.scan_parquet(files).with_row_index("rid")
        s = lf.filter(pl.col("rid").hash(42) < thr).collect(engine="streaming")
        steps["sample"] = time.perf_counter() - t
        qs = {c: np.nanquantile(s[c].to_numpy().astype(float), [0.25, 0.5, 0.75]) for c in numeric}
        mu = {c: float(np.nanmean(s[c].to_numpy().astype(float))) for c in numeric}
        t = time.perf_counter()
        cent = {c: (pl.col(c).cast(pl.Float64) - mu[c]) for c in numeric}
        aggs = [pl.len().alias("n")]
        for c in numeric:
            q1, q3 = qs[c][0], qs[c][2]
            aggs += [
                pl.col(c).min().alias(c + "mi"),
                pl.col(c).max().alias(c + "ma"),
                cent[c].sum().alias(c + "s"),
                pl.col("rid").get(pl.col(c).arg_min()).alias(c + "am"),
                ((pl.col(c) < q1 - 1.5 * (q3 - q1)) | (pl.col(c) > q3 + 1.5 * (q3 - q1)))
                .sum()
                .alias(c + "o"),
            ]
        aggs += [
            (cent[a] * cent[b]).sum().alias(f"{a}_{b}")
            for k, a in enumerate(numeric)
            for b in numeric[k:]
        ]
        aggs += [pl.col(c).approx_n_unique().alias(c + "u") for c in CATS]
        aggs += [pl.col(TEXT).cast(pl.String).str.len_chars().mean().alias("tl")]
        lf.select(aggs).collect(engine="streaming")
        steps["global"] = time.perf_counter() - t
        t = time.perf_counter()

        def b(c: str):
            return sum((pl.col(c) > qs[c][i]).cast(pl.Int32) for i in range(3))

        base = lf.with_columns(
            (b("num_0") * 16 + b("num_1") * 4 + b("num_2")).alias("nb"),
            (pl.col(TEXT).cast(pl.String).str.len_chars() + 1)
            .log(2)
            .floor()
            .cast(pl.Int32)
            .alias("tl"),
        )
        pl.collect_all(
            [
                base.group_by(["cat_a", "cat_b", "cat_c", "cat_d"]).len(),
                base.group_by("nb").len(),
                base.group_by("tl").len(),
            ],
            engine="streaming",
        )
        steps["strata"] = time.perf_counter() - t
    _, peak = _rss_mib()
    return {"steps": steps, "total_s": sum(steps.values()), "peak_rss_mib": peak}


# ---------------------------------------------------------------------------------------
# main


def fit(sizes: list[int], times: list[float]) -> dict:
    x, y = np.asarray(sizes, float), np.asarray(times, float)
    b, a = np.polyfit(x, y, 1)
    slope = float(np.polyfit(np.log(x), np.log(y), 1)[0]) if len(x) > 1 else float("nan")
    return {
        "a_s": float(a),
        "b_s_per_row": float(b),
        "loglog_slope": slope,
        "t_1b_s": float(a + b * 1e9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", default="1M", help="rows of the largest run (K/M/B suffixes; default 1M)"
    )
    parser.add_argument(
        "--fit-sizes",
        default=None,
        help="comma-separated sizes for the time-vs-rows fit (default: rows/10, rows/3, rows)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="baseline/analyzer pairs at the largest size, alternating who goes first",
    )
    parser.add_argument("--sample-size", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/synthos-diversity-bench"))
    parser.add_argument(
        "--compare-engines", action="store_true", help="DuckDB vs Polars on the core aggregates"
    )
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role:
        if args.role == "analyzer":
            result = run_analyzer(args.path, args.threads, args.sample_size, args.out)
        elif args.role == "baseline":
            result = run_baseline(args.path, args.threads, args.sample_size, args.out)
        else:
            result = engine_run(args.role.split("-", 1)[1], args.path, args.threads)
        print("RESULT " + json.dumps(result))
        return

    rows = parse_rows(args.rows)
    parts_needed = max(1, math.ceil(rows / PART_ROWS))
    if args.fit_sizes:
        sizes = sorted(
            {max(1, math.ceil(parse_rows(s) / PART_ROWS)) for s in args.fit_sizes.split(",")}
        )
    else:
        sizes = sorted(
            {max(1, round(parts_needed / 10)), max(1, round(parts_needed / 3)), parts_needed}
        )
    sizes = [s for s in sizes if s <= parts_needed] or [parts_needed]
    print(
        f"diversity benchmark {date.today().isoformat()}: {parts_needed * PART_ROWS:,} rows x 20 "
        f"columns, {args.threads} threads, sample {args.sample_size:,}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, duckdb {_duckdb_version()}"
    )
    print(f"command: python benchmarks/diversity_bench.py {' '.join(sys.argv[1:])}")
    parts = ensure_parts(args.data_dir, parts_needed)
    out = args.data_dir / "out"
    out.mkdir(parents=True, exist_ok=True)

    if args.compare_engines:
        compare_engines(str(dataset_dir(args.data_dir, parts)), args.threads)
        return

    fit_times: dict[int, float] = {}
    for count in sizes:
        path = str(dataset_dir(args.data_dir, parts[:count]))
        subprocess.run(
            ["cat", *sorted(str(p) for p in Path(path).glob("*.parquet"))],
            stdout=subprocess.DEVNULL,
        )
        if count == parts_needed:
            # Alternate the order (baseline first, then analyzer first, ...): whoever runs
            # second may find more or less of the data in the page cache.
            bases, anas = [], []
            for repeat in range(args.repeats):
                order = ("baseline", "analyzer") if repeat % 2 == 0 else ("analyzer", "baseline")
                for role in order:
                    r = child(role, path, args.threads, args.sample_size, str(out))
                    (bases if role == "baseline" else anas).append(r)
            print(f"\n{anas[0]['rows']:,} rows:")
            for name, runs in (("baseline (DuckDB SQL)", bases), ("analyzer", anas)):
                walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
                print(
                    f"  {name:21s}  wall {walls} s   peak RSS "
                    f"{max(r['peak_rss_mib'] for r in runs):7.0f} MiB"
                    f" (+{max(r['rss_growth_mib'] for r in runs):.0f} during the run)"
                )
            ratios = [a_["wall_s"] / b_["wall_s"] for a_, b_ in zip(anas, bases, strict=True)]
            best = min(r["wall_s"] for r in anas) / min(r["wall_s"] for r in bases)
            print(
                f"  ratio analyzer / baseline: {', '.join(f'{x:.2f}x' for x in ratios)} per pair; "
                f"median {float(np.median(ratios)):.2f}x, best-of {best:.2f}x (goal <= 1.3x)"
            )
            ana = min(anas, key=lambda r: r["wall_s"])
            steps = ", ".join(f"{k} {v:.1f}" for k, v in ana["timings"].items())
            print(f"  analyzer steps of its best run (s): {steps}")
            print(f"  strata {ana['strata']}, sample rows {ana['sample_rows']}")
        else:
            ana = child("analyzer", path, args.threads, args.sample_size, str(out))
            print(
                f"\n{ana['rows']:,} rows: analyzer wall {ana['wall_s']:.1f} s, "
                f"peak RSS {ana['peak_rss_mib']:.0f} MiB"
            )
        fit_times[count * PART_ROWS] = ana["wall_s"]

    if len(fit_times) >= 2:
        f = fit(list(fit_times), list(fit_times.values()))
        print(
            f"\nfit over {', '.join(f'{n / 1e6:g}M' for n in fit_times)} rows: "
            f"t = {f['a_s']:.1f} s + {f['b_s_per_row'] * 1e6:.2f} s per million rows "
            f"(log-log slope {f['loglog_slope']:.2f})"
        )
        print(
            f"extrapolated to 1B rows on {args.threads} cores: {f['t_1b_s']:.0f} s "
            f"({f['t_1b_s'] / 3600:.2f} h); peak memory does not grow with rows "
            f"(profile {PROFILE_ROWS:,} rows, engine spills)"
        )


if __name__ == "__main__":
    main()
