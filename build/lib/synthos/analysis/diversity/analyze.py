"""`analyze_diversity`: open the dataset once, run the passes over it in order, time them.

Each pass is one engine scan at most (nothing per row happens in Python) and returns a
frozen dataclass the later passes read: profile (columns, kinds, a uniform sample of rows),
numeric statistics and the strata design from that sample, the global pass (counts,
extremes, moments, outliers over all rows), the strata pass (rows per stratum and level),
correlations, clusters, and the stratified sample. For a seed, the profile rows, strata,
clusters and sample are the same whatever the thread count or file split; floating-point
sums (means, Pearson) may differ in the last digits, as parallel sums do.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..engine import Source, open_source
from ..result import DiversityResult
from .assemble import Passes, build_result
from .cluster_pass import cluster_pass
from .config import DiversityConfig
from .correlation_pass import correlation_pass
from .design import design_strata
from .global_pass import global_pass
from .numeric import numeric_stats
from .profile import build_profile, scan_profile
from .sample_pass import sample_pass
from .strata_pass import strata_pass


class _Stopwatch:
    """Seconds per step (rounded to 0.1 ms), and the total since it started."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.started = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 4)
        self.last = now

    def stop(self) -> None:
        self.timings["total"] = round(time.perf_counter() - self.started, 4)


def analyze_diversity(
    data: Any,
    config: DiversityConfig | None = None,
    *,
    sample_path: str | Path | None = None,
    **overrides: Any,
) -> DiversityResult:
    """Analyse the diversity of `data` (path, URI, directory, pyarrow Table, DataFrame).

    `overrides` are `DiversityConfig` fields. When `sample_path` is given the stratified
    sample is written there as Parquet; it is also returned as `result.sample_table`.
    Raises `DataError` (1xxx) for bad input.
    """
    config = config or DiversityConfig()
    if overrides:
        config = replace(config, **overrides)
    clock = _Stopwatch()
    src = open_source(
        data,
        threads=config.threads,
        memory_limit=config.memory_limit,
        work_dir=config.work_dir,
        load_options=dict(config.load_options or {}),
    )
    try:
        clock.lap("open")
        result = _run_passes(src, config, clock)
    finally:
        src.close()
    if sample_path is not None and result.sample_table is not None:
        path = Path(sample_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.sample_table, path, compression="zstd")
        result.sample["path"] = str(path)
        clock.lap("write_sample")
    clock.stop()
    return result


def _run_passes(src: Source, config: DiversityConfig, clock: _Stopwatch) -> DiversityResult:
    scan = scan_profile(src, config)
    clock.lap("profile_scan")
    profile = build_profile(src, config, scan)
    stats = numeric_stats(profile, config.tail_quantiles, config.numeric_bins)
    design = design_strata(profile, stats, config, src.path)
    clock.lap("profile")
    totals = global_pass(src, profile, stats, config)
    clock.lap("global_pass")
    strata = strata_pass(src, profile, design, totals.rows)
    clock.lap("strata_pass")
    correlations = correlation_pass(src, profile, design, totals, config)
    clock.lap("correlations")
    clusters = cluster_pass(profile, stats, design, totals.rows, config)
    clock.lap("clusters")
    sample = sample_pass(
        src, profile, stats, design, totals, strata, clusters.rare_text_groups, config
    )
    clock.lap("sample")
    passes = Passes(profile, stats, design, totals, strata, correlations, clusters, sample)
    return build_result(src, config, passes, clock.timings)
