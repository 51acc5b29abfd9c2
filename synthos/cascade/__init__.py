"""Cascade: tier plan, sweep aggregation and scaling-law prediction (DESIGN section 5)."""

from synthos.cascade.prediction import (
    JobResult,
    PredictionResult,
    TierSummary,
    baseline_largest_tier_mean,
    plot_scaling_fit,
    predict_scaling,
    summarize_tiers,
)
from synthos.cascade.scaling_law import ScalingFit, fit_scaling_law

__all__ = [
    "JobResult",
    "PredictionResult",
    "ScalingFit",
    "TierSummary",
    "baseline_largest_tier_mean",
    "fit_scaling_law",
    "plot_scaling_fit",
    "predict_scaling",
    "summarize_tiers",
]
