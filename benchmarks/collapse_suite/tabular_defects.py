"""Defects injected into a table's holdout rows (the reference is never modified).

Every injector takes the split, the base dataset, the defect level and a generator, and
returns the candidate with its defective row positions. Numeric defects act on the numeric
feature columns (never the label); integer columns stay integer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.bases import BaseDataset
from benchmarks.collapse_suite.case import Injected
from benchmarks.collapse_suite.copies import NEAR_DUPLICATE_NOISE, copy_rows
from benchmarks.collapse_suite.modes import drop_modes
from benchmarks.collapse_suite.recursive import resample_table
from benchmarks.collapse_suite.split import Split


def feature_columns(frame: pd.DataFrame, label: str | None) -> list[str]:
    """Numeric columns other than the label."""
    return [c for c in frame.columns if c != label and pd.api.types.is_numeric_dtype(frame[c])]


def _assign(frame: pd.DataFrame, column: str, values: np.ndarray) -> None:
    """Set a numeric column, rounding back to integers when the column was integer."""
    if pd.api.types.is_integer_dtype(frame[column]):
        values = np.rint(values).astype(frame[column].dtype)
    frame[column] = values


def tail_truncation(split: Split, base: BaseDataset, q: float, rng) -> Injected:
    """Clip every feature to the reference's [q, 1-q] quantiles: no mass beyond them."""
    out = split.holdout.copy()
    touched = np.zeros(len(out), dtype=bool)
    for column in feature_columns(out, base.label):
        ref = split.reference[column].to_numpy(dtype=float)
        lo, hi = np.quantile(ref, [q, 1 - q], method="inverted_cdf")
        values = out[column].to_numpy(dtype=float)
        touched |= (values < lo) | (values > hi)
        _assign(out, column, np.clip(values, lo, hi))
    return Injected(out, np.flatnonzero(touched))


def _rescale(split: Split, base: BaseDataset, factor: float) -> Injected:
    out = split.holdout.copy()
    for column in feature_columns(out, base.label):
        values = out[column].to_numpy(dtype=float)
        centre = values.mean()
        _assign(out, column, centre + factor * (values - centre))
    return Injected(out, np.arange(len(out)))


def variance_shrinkage(split: Split, base: BaseDataset, factor: float, rng) -> Injected:
    """Every feature's deviations from its mean multiplied by `factor` < 1."""
    return _rescale(split, base, factor)


def scale_shift(split: Split, base: BaseDataset, factor: float, rng) -> Injected:
    """Every feature's deviations from its mean multiplied by `factor` > 1."""
    return _rescale(split, base, factor)


def mean_shift(split: Split, base: BaseDataset, shift: float, rng) -> Injected:
    """Every feature moved by `shift` reference standard deviations."""
    out = split.holdout.copy()
    for column in feature_columns(out, base.label):
        spread = split.reference[column].std()
        _assign(out, column, out[column].to_numpy(dtype=float) + shift * spread)
    return Injected(out, np.arange(len(out)))


def standardised(frame: pd.DataFrame, columns: list[str], like: pd.DataFrame) -> np.ndarray:
    """`frame[columns]` standardised with the mean and spread of `like`."""
    mean = like[columns].mean()
    spread = like[columns].std().replace(0, 1.0)
    return ((frame[columns] - mean) / spread).to_numpy(dtype=float)


def mode_collapse(split: Split, base: BaseDataset, dropped: float, rng) -> Injected:
    """Only the rows of the largest reference modes survive (`dropped` of 4 modes go)."""
    columns = feature_columns(split.reference, base.label)
    ref = standardised(split.reference, columns, split.reference)
    cand = standardised(split.holdout, columns, split.reference)
    seed = int(rng.integers(2**31))
    return drop_modes(split.holdout, ref, cand, int(dropped), seed)


def recursive_resampling(split: Split, base: BaseDataset, generations: float, rng) -> Injected:
    """Every row drawn from a mixture model refitted over `generations` generations."""
    exclude = (base.label,) if base.label else ()
    frame = resample_table(split.holdout, int(generations), rng, exclude=exclude)
    return Injected(frame, np.arange(len(frame)))


def exact_duplicates(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the rows replaced by exact copies of other candidate rows."""
    return copy_rows(split.holdout, rate, rng)


def near_duplicates(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the rows replaced by copies of other candidate rows plus slight noise."""
    floats = [
        c
        for c in feature_columns(split.holdout, base.label)
        if pd.api.types.is_float_dtype(split.holdout[c])
    ]
    spread = split.holdout[floats].std()

    def jitter(copies: pd.DataFrame, gen: np.random.Generator) -> pd.DataFrame:
        noise = gen.normal(size=(len(copies), len(floats))) * spread.to_numpy()
        copies[floats] = copies[floats].to_numpy() + NEAR_DUPLICATE_NOISE * noise
        return copies

    return copy_rows(split.holdout, rate, rng, perturb=jitter)


def memorized_copies(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the rows replaced by exact copies of reference rows."""
    return copy_rows(split.holdout, rate, rng, source=split.reference)


def correlation_breaking(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """On `rate` of the rows, every column (label included) is permuted independently:
    each column's marginal is unchanged, the dependence between columns is not."""
    out = split.holdout.copy()
    rows = np.sort(rng.choice(len(out), size=max(2, round(rate * len(out))), replace=False))
    for column in out.columns:
        values = out[column].to_numpy().copy()
        values[rows] = values[rng.permutation(rows)]
        out[column] = values
    return Injected(out, rows)


def label_noise(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the labels replaced by another class, chosen uniformly."""
    out = split.holdout.copy()
    classes = np.sort(split.reference[base.label].unique())
    rows = np.sort(rng.choice(len(out), size=max(1, round(rate * len(out))), replace=False))
    labels = out[base.label].to_numpy().copy()
    for row in rows:
        others = classes[classes != labels[row]]
        labels[row] = others[rng.integers(len(others))]
    out[base.label] = labels
    return Injected(out, rows)
