"""Statistics of a series along time: autocorrelation and the shape of the spectrum.

Each value column is read in time order; the statistics are averaged over columns.

* acf1_levels: lag-1 autocorrelation of the values (how smooth the series is).
* acf1_increments / acf2_increments: autocorrelation of the first differences at lags 1, 2
  (moving-average smoothing makes them strongly positive; white noise gives about -0.5 at
  lag 1).
* spectral_peak_share: the largest bin's share of the periodogram of the demeaned values
  (zero frequency excluded): a seasonal cycle concentrates power in one bin.
* spectral_entropy: entropy of the periodogram shares over log(bins).
* high_frequency_share: power in the upper half of the frequencies.
* increment_flatness: spectral flatness (geometric over arithmetic mean) of the increments'
  periodogram: 1 for white noise, near 0 when structure (or smoothing) concentrates it.
* cross_correlation: mean |Pearson r| between the increments of different columns
  (multivariate series only).
"""

from __future__ import annotations

import math

import numpy as np

from synthos.analysis.collapse.stats import _autocorrelations, entropy

#: Fewer steps than this carry no spectrum worth comparing.
MIN_STEPS = 16

KEYS = (
    "acf1_levels",
    "acf1_increments",
    "acf2_increments",
    "spectral_peak_share",
    "spectral_entropy",
    "high_frequency_share",
    "increment_flatness",
)


def channel_shape(x: np.ndarray) -> dict[str, float]:
    """The statistics of one column (finite values in time order)."""
    out = dict.fromkeys(KEYS, math.nan)
    if x.size < MIN_STEPS or np.std(x) == 0:
        return out
    levels = _autocorrelations(x, 1)
    steps = np.diff(x)
    lags = _autocorrelations(steps, 2)
    if levels is not None:
        out["acf1_levels"] = float(levels[0])
    if lags is not None and lags.size >= 2:
        out["acf1_increments"], out["acf2_increments"] = float(lags[0]), float(lags[1])
    power = _periodogram(x)
    if power is not None:
        shares = power / power.sum()
        out["spectral_peak_share"] = float(shares.max())
        out["spectral_entropy"] = entropy(shares) / math.log(shares.size)
        out["high_frequency_share"] = float(shares[shares.size // 2 :].sum())
    step_power = _periodogram(steps)
    if step_power is not None:
        positive = np.maximum(step_power, 1e-300)
        out["increment_flatness"] = float(np.exp(np.mean(np.log(positive))) / positive.mean())
    return out


def _periodogram(x: np.ndarray) -> np.ndarray | None:
    power = np.abs(np.fft.rfft(x - x.mean()))[1:] ** 2
    if power.size < 4 or power.sum() <= 0:
        return None
    return power


def series_shape(rows: np.ndarray) -> dict[str, float]:
    """Channel statistics averaged over the columns of `rows` (steps, channels), plus the
    cross-correlation of their increments."""
    shapes = [channel_shape(rows[:, j]) for j in range(rows.shape[1])]
    out = {}
    for key in KEYS:
        values = np.array([s[key] for s in shapes], dtype=np.float64)
        finite = values[np.isfinite(values)]
        out[key] = float(finite.mean()) if finite.size else math.nan
    out["cross_correlation"] = math.nan
    if rows.shape[1] >= 2 and rows.shape[0] >= MIN_STEPS:
        steps = np.diff(rows, axis=0)
        steps = steps[:, np.std(steps, axis=0) > 0]
        if steps.shape[1] >= 2:
            r = np.corrcoef(steps, rowvar=False)
            out["cross_correlation"] = float(np.abs(r[np.triu_indices(r.shape[0], 1)]).mean())
    return out
