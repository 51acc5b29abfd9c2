"""Defects specific to a series holdout (a `date` column and numeric value columns).

Marginal defects (truncation, shrinkage, shifts) reuse the table injectors, which act on the
numeric columns and leave the time axis alone. Copies here move whole segments, because a
series memorises or repeats windows, not single time steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.bases import TIME_COLUMN, BaseDataset
from benchmarks.collapse_suite.case import Injected
from benchmarks.collapse_suite.copies import NEAR_DUPLICATE_NOISE
from benchmarks.collapse_suite.recursive import resample_series
from benchmarks.collapse_suite.split import MIN_BLOCK_STEPS, Split

#: Periodicity loss removes power within this relative distance of the seasonal frequency and
#: of its harmonics up to PERIODIC_HARMONICS.
PERIODIC_BAND = 0.2
PERIODIC_HARMONICS = 3


def value_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != TIME_COLUMN]


def segment_length(base: BaseDataset) -> int:
    """Copied segments span one season, and never fewer than MIN_BLOCK_STEPS steps."""
    return max(MIN_BLOCK_STEPS, int(base.season or 1))


def _with_values(frame: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    out[value_columns(frame)] = values
    return out


def smoothing(split: Split, base: BaseDataset, window: float, rng) -> Injected:
    """A centred moving average of `window` steps over every value column."""
    values = split.holdout[value_columns(split.holdout)]
    smooth = values.rolling(int(window), center=True, min_periods=1).mean().to_numpy()
    return Injected(_with_values(split.holdout, smooth), np.arange(len(values)))


def periodicity_loss(split: Split, base: BaseDataset, removed: float, rng) -> Injected:
    """`removed` of the amplitude at the seasonal frequency and its harmonics filtered out."""
    values = split.holdout[value_columns(split.holdout)].to_numpy(dtype=float)
    spectrum = np.fft.rfft(values, axis=0)
    freqs = np.fft.rfftfreq(len(values))
    band = np.zeros(len(freqs), dtype=bool)
    for harmonic in range(1, PERIODIC_HARMONICS + 1):
        centre = harmonic / float(base.season)
        band |= np.abs(freqs - centre) <= PERIODIC_BAND * centre
    spectrum[band] *= 1.0 - removed
    filtered = np.fft.irfft(spectrum, n=len(values), axis=0)
    return Injected(_with_values(split.holdout, filtered), np.arange(len(values)))


def recursive_resampling(split: Split, base: BaseDataset, generations: float, rng) -> Injected:
    """Every value simulated from an AR(season + 1) model refitted over `generations`."""
    values = split.holdout[value_columns(split.holdout)].to_numpy(dtype=float)
    simulated = resample_series(values, int(base.season) + 1, int(generations), rng)
    return Injected(_with_values(split.holdout, simulated), np.arange(len(values)))


def correlation_breaking(split: Split, base: BaseDataset, share: float, rng) -> Injected:
    """`share` of the value columns (at least two) each rotated in time by its own random lag:
    every column keeps its own dynamics, the columns no longer move together."""
    columns = value_columns(split.holdout)
    count = min(len(columns), max(2, round(share * len(columns))))
    chosen = rng.choice(len(columns), size=count, replace=False)
    values = split.holdout[columns].to_numpy(dtype=float).copy()
    n, gap = len(values), segment_length(base)
    for j in chosen:
        values[:, j] = np.roll(values[:, j], int(rng.integers(gap, n - gap)))
    return Injected(_with_values(split.holdout, values), np.arange(n))


def _paste_segments(
    split: Split, base: BaseDataset, rate: float, rng, *, source: pd.DataFrame | None, noise=0.0
) -> Injected:
    """Overwrite `rate` of the candidate's steps, one season-long segment at a time, with
    segments of `source` (default: untouched segments of the candidate itself)."""
    columns = value_columns(split.holdout)
    values = split.holdout[columns].to_numpy(dtype=float).copy()
    length = segment_length(base)
    slots = len(values) // length
    count = min(slots - 1, max(1, round(rate * len(values) / length)))
    targets = rng.choice(slots, size=count, replace=False)
    if source is None:
        free = np.setdiff1d(np.arange(slots), targets)
        starts = rng.choice(free, size=count) * length
        pool = values.copy()
    else:
        pool = source[columns].to_numpy(dtype=float)
        starts = rng.integers(0, len(pool) - length + 1, size=count)
    spread = values.std(axis=0)
    rows = []
    for slot, start in zip(targets, starts, strict=True):
        segment = pool[start : start + length]
        jitter = noise * spread * rng.normal(size=segment.shape)
        values[slot * length : (slot + 1) * length] = segment + jitter
        rows.append(np.arange(slot * length, (slot + 1) * length))
    return Injected(_with_values(split.holdout, values), np.sort(np.concatenate(rows)))


def exact_duplicates(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the steps overwritten by repeats of other segments of the candidate."""
    return _paste_segments(split, base, rate, rng, source=None)


def near_duplicates(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """As exact_duplicates, with slight noise added to the repeated segments."""
    return _paste_segments(split, base, rate, rng, source=None, noise=NEAR_DUPLICATE_NOISE)


def memorized_copies(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the steps overwritten by segments copied from the reference."""
    return _paste_segments(split, base, rate, rng, source=split.reference)
