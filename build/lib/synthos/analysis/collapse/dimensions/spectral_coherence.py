"""spectral_coherence: is the structure seen in a spectrum kept?

Tabular (and the text embedding): the covariance eigen-spectrum of the embedding (fitted
on the reference), paired by rank over the components that hold 99 % of the reference's
variance (at most 20): the mean ``|log(lambda_candidate / lambda_reference)|`` beyond
the largest of its sampling allowance ``z sqrt(2/n + 2/m)``, the real holdout's own value
and the same distance between two parts of those sizes over RESPLITS random re-splits of
the whole reference (a single split is one draw of the null: a reference's few extreme
rows fall on one side of it or the other), scored ``100 exp(-excess / 0.3)``; effective
rank as evidence. Text, in addition:
the Zipf slope of the rank-frequency curve on equal token budgets, allowed to differ by
the larger of 0.05 and twice the holdout's difference (over the reference's ranks with
two or more tokens, at most 1000), scored ``100 exp(-excess / 0.15)``. Series: Welch's
power spectral density of each channel's increments along time (never along the row
order of a table), as shares of total power; the total variation distance beyond the
largest of 0.05, 1.5 x the holdout's and 0.3 z sqrt(1/K1 + 1/K2) for K1, K2 Welch segments
(the estimates' own sampling error; z family-wise over the channels), scored
``100 exp(-excess / 0.15)``. The dimension is the column aggregate of its parts
(`stats.aggregate_columns`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features
from ..inputs import Comparison
from ..sensitivity import effect, effects, middle, needed_excess
from ..stats import MIN_ROWS, adjusted_z, aggregate_columns, decay_score, entropy
from .base import missing_reference, not_evaluated, scored

NAME = "spectral_coherence"
MAX_COMPONENTS = 20
VARIANCE_SHARE = 0.99
ZIPF_RANKS = 1000
#: Random re-splits of the whole reference that set the eigen-spectrum's null allowance.
RESPLITS = 4


def _eigenvalues(rows: np.ndarray) -> np.ndarray:
    if rows.shape[0] < 3 or rows.shape[1] == 0:
        return np.zeros(0)
    cov = np.atleast_2d(np.cov(rows.astype(np.float64), rowvar=False))
    return np.sort(np.clip(np.linalg.eigvalsh(cov), 0.0, None))[::-1]


def _spectrum_distance(ref: np.ndarray, other: np.ndarray, rank: int) -> float:
    """Mean |log ratio| of paired eigenvalues over the components holding 99 % of the
    reference's variance, at most `rank` (a sample of n rows has n - 1 nonzero ones)."""
    share = np.cumsum(ref) / ref.sum()
    count = int(min(MAX_COMPONENTS, np.searchsorted(share, VARIANCE_SHARE) + 1, ref.size, rank))
    floor = 1e-6 * ref[0]
    return float(np.mean(np.abs(np.log((other[:count] + floor) / (ref[:count] + floor)))))


def _resplit_distances(cmp: Comparison, m: int, h: int, rank: int) -> list[float]:
    """The same distance between two real parts of the sizes compared, over RESPLITS
    random re-splits of the whole reference: one holdout split is one draw of the null,
    and a reference's few extreme rows fall on one side of it or the other."""
    full = features.embedding(cmp, features.FULL_REFERENCE)
    rng = np.random.default_rng(cmp.config.seed + 7)
    out = []
    for _ in range(RESPLITS):
        order = rng.permutation(full.shape[0])
        part = _eigenvalues(full[order[:m]])
        other = _eigenvalues(full[order[m : m + h]])
        if part.size and part.sum() > 0 and other.size == part.size:
            out.append(_spectrum_distance(part, other, rank))
    return out


def eigen_spectrum(cmp: Comparison) -> dict[str, Any] | None:
    ref = _eigenvalues(features.embedding(cmp, "reference"))
    if ref.size == 0 or ref.sum() <= 0:
        return None
    cand = _eigenvalues(features.embedding(cmp, "candidate"))
    hold = _eigenvalues(features.embedding(cmp, "holdout"))
    if cand.size != ref.size or hold.size != ref.size:
        return None
    n = features.embedding(cmp, "candidate").shape[0]
    m = features.embedding(cmp, "reference").shape[0]
    h = features.embedding(cmp, "holdout").shape[0]
    if min(n, m, h) < MIN_ROWS:
        return None
    rank = min(n, m, h) - 2
    distance, holdout = _spectrum_distance(ref, cand, rank), _spectrum_distance(ref, hold, rank)
    resplits = _resplit_distances(cmp, m, h, rank)
    allowance = max(cmp.config.z * math.sqrt(2 / n + 2 / m), holdout, *resplits)

    def rank(values: np.ndarray) -> float:
        return math.exp(entropy(values / values.sum())) if values.sum() > 0 else 0.0

    return {
        "log_eigenvalue_distance": distance,
        "holdout_distance": holdout,
        "resplit_distances": resplits,
        "allowance": allowance,
        "effective_rank": rank(cand),
        "reference_effective_rank": rank(ref),
        "top_eigenvalues": {"candidate": cand[:5], "reference": ref[:5]},
        "score": decay_score(distance - allowance, 0.3),
    }


def zipf_slope(counts: list[int], ranks: int) -> float:
    """Slope of log frequency on log rank over ranks 1..`ranks`; ranks past the vocabulary
    count half a token, so a vocabulary cut short bends the curve down as it should."""
    freq = np.sort(np.asarray(counts, dtype=np.float64))[::-1][:ranks]
    freq = np.r_[freq, np.full(ranks - freq.size, 0.5)]
    return float(np.polyfit(np.log(np.arange(1, ranks + 1)), np.log(freq), 1)[0])


def _zipf(cmp: Comparison) -> dict[str, Any] | None:
    budget = features.common_token_budget(cmp, features.SIDES)
    counts = {
        side: list(features.token_counts(cmp, side, budget).values()) for side in features.SIDES
    }
    ranks = min(ZIPF_RANKS, sum(c >= 2 for c in counts["reference"]))
    if ranks < 5:
        return None
    slopes = {side: zipf_slope(c, ranks) for side, c in counts.items()}
    allowance = max(0.05, 2 * abs(slopes["holdout"] - slopes["reference"]))
    excess = abs(slopes["candidate"] - slopes["reference"]) - allowance
    return {
        "slopes": slopes,
        "ranks": ranks,
        "allowance": allowance,
        "score": decay_score(excess, 0.15),
    }


def _psd(x: np.ndarray, nperseg: int) -> np.ndarray:
    from scipy.signal import welch

    _, power = welch(x, nperseg=nperseg, detrend="constant")
    total = power.sum()
    return power / total if total > 0 else power


def _welch_segments(steps: int, nperseg: int) -> int:
    """Half-overlapping segments Welch averages over."""
    return max(1, 2 * steps // nperseg - 1)


def _series(cmp: Comparison) -> dict[str, dict[str, Any]]:
    steps = {side: features.increments(cmp, side) for side in features.SIDES}
    shortest = min(s.shape[0] for s in steps.values())
    if shortest < 16:
        return {}
    nperseg = int(min(256, shortest // 8 if shortest >= 128 else shortest // 4))
    segments = {side: _welch_segments(s.shape[0], nperseg) for side, s in steps.items()}
    # Each bin's Welch estimate has relative error ~ 1/sqrt(segments), so two estimates of
    # one spectrum differ by about 0.4 sqrt(1/K1 + 1/K2) in total variation; the allowance
    # is 0.3 z sqrt(1/K1 + 1/K2) (1.5 times that at z = 2), z family-wise over channels.
    z = adjusted_z(cmp.config.z, len(cmp.numeric_columns))
    sampling = 0.3 * z * math.sqrt(1 / segments["candidate"] + 1 / segments["reference"])
    out = {}
    for j, column in enumerate(cmp.numeric_columns):
        psd = {side: _psd(s[:, j], nperseg) for side, s in steps.items()}
        tv_c = float(0.5 * np.abs(psd["candidate"] - psd["reference"]).sum())
        tv_h = float(0.5 * np.abs(psd["holdout"] - psd["reference"]).sum())
        allowance = max(0.05, 1.5 * tv_h, sampling)
        out[column] = {
            "psd_tv": tv_c,
            "holdout_psd_tv": tv_h,
            "sampling_allowance": sampling,
            "allowance": allowance,
            "segment_steps": nperseg,
            "peak_frequency_bin": {
                "candidate": int(np.argmax(psd["candidate"])),
                "reference": int(np.argmax(psd["reference"])),
            },
            "score": decay_score(tv_c - allowance, 0.15),
        }
    return out


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "the spectrum is compared with real data")
    parts: dict[str, dict[str, Any]] = {}
    if cmp.modality == "time_series":
        parts = _series(cmp)
    else:
        spectrum = eigen_spectrum(cmp)
        if spectrum is not None:
            parts["covariance_spectrum"] = spectrum
        if cmp.modality == "text":
            zipf = _zipf(cmp)
            if zipf is not None:
                parts["zipf"] = zipf
    if not parts:
        return not_evaluated(cmp, NAME, "too little data for a spectrum")
    score = aggregate_columns([p["score"] for p in parts.values()])
    threshold = cmp.config.threshold(NAME, cmp.modality)
    return scored(cmp, NAME, score, {"parts": parts, "sensitivity": detectable(parts, threshold)})


def detectable(parts: dict[str, dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The smallest change of each spectrum that fails the dimension."""
    spectrum = parts.get("covariance_spectrum")
    series = middle(p["allowance"] for p in parts.values() if "psd_tv" in p)
    zipf = parts.get("zipf")
    return effects(
        effect(
            "power_spectrum_change",
            None if series is None else series + needed_excess(0.15, threshold),
            "total variation of power shares",
            "no change of the power spectrum above {:.2f} (total variation)",
        ),
        effect(
            "eigen_spectrum_change",
            None if spectrum is None else spectrum["allowance"] + needed_excess(0.3, threshold),
            "mean |log eigenvalue ratio|",
            "no change of the covariance spectrum above {:.2f} (mean |log ratio|)",
        ),
        effect(
            "zipf_slope_change",
            None if zipf is None else zipf["allowance"] + needed_excess(0.15, threshold),
            "difference of Zipf slopes",
            "no change of the Zipf slope above {:.2f}",
        ),
    )
