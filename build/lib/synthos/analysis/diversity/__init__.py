"""Diversity analysis of a dataset: strata, evenness, rare patterns, outliers, correlations,
clusters, and a stratified sample that keeps rare strata and the extreme tail.

    from synthos.analysis.diversity import analyze_diversity

    result = analyze_diversity("data/train.parquet", sample_size=10_000, seed=0,
                               sample_path="out/sample.parquet")
    result.entropy, result.gini, result.rare_pattern_percentage, result.sampling_confidence

The engine is DuckDB: on these aggregates it was faster than Polars at a fraction of the
memory, scans Parquet in place and spills to disk beyond its memory limit (measurements in
benchmarks/RESULTS.md). Other formats are streamed once into a Parquet spool
(`engine.py`), so data larger than memory works in any format. `analyze.py` runs the
passes, one module each.
"""

from ..result import DiversityResult
from .analyze import analyze_diversity
from .config import DiversityConfig

__all__ = ["DiversityConfig", "DiversityResult", "analyze_diversity"]
