"""Benchmark of the collapse detector on injected defects, side by side with SDMetrics.

Cases are built from real data that installed packages bundle (scikit-learn, palmerpenguins,
statsmodels, the Python standard library's docstrings): a reference, a disjoint real holdout
as clean control, and defects injected into the holdout at three strengths, each with its
ground truth. See README.md in this directory for the cases, the measures and the threshold
calibration.
"""
