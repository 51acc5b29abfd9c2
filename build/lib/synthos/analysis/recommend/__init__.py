"""Recommender: fixes for the localized rows, each measured by ablation.

    from synthos.analysis.recommend import recommend, RecommendConfig

    result = recommend("synthetic.parquet", reference="real.parquet", out_dir="out",
                       config=RecommendConfig(measure_impact=True, profile="quick"))
    result.recommendations     # report.json `recommendations`, best first
    result.write_report("out") # out/report.json, out/row_scores.parquet, out/fixes/*

`catalogue` lists the fixes; `apply` turns a fix spec into the fixed dataset
(`synthos apply-fix`); `ablation` retrains tier 1 of the cascade on a dataset; `impact`
compares a fix with its random control over seeds.
"""

from __future__ import annotations

from .apply import FixSpec, FixStep, apply_fix, write_fixed
from .config import RecommendConfig
from .recommender import recommend
from .result import RecommendResult

__all__ = [
    "FixSpec",
    "FixStep",
    "RecommendConfig",
    "RecommendResult",
    "apply_fix",
    "recommend",
    "write_fixed",
]
