"""entropy_stability: has diversity been lost (mode collapse, variance shrinkage)?

Per column (tabular; increments per channel for series): the entropy ratio candidate /
reference (Miller-Madow corrected) over the levels, or for numbers over bins of a common
width (a twentieth of the reference's 5-95 % range) anchored at each side's median, so a
shift is not read as lost diversity; and the standard deviation ratio, whose noise
allowance grows with the reference's kurtosis (a series' increments count at their effective
sizes, `stats.effective_size`). A column's deficit is the larger
shortfall below 1 beyond z standard errors, scored ``100 exp(-deficit / 0.15)``; the
candidate is compared with the whole reference sample. Tables and text, in addition: the
same spread test along the principal axes of the embedding (`principal_spread`), where a
dropped mode takes its spread from one direction of many correlated columns; and the
mass lost from k-means bins of both samples (`mode_mass`), where a dropped mode empties
its bins while every spread may still look whole; the support part's lost precision (rows
moved off the reference's support, as by a shift or a wider spread) explains as much of
that mass, the rest scored ``100 exp(-mass / 0.1)``. Text:
distinct-1/2/3 and unigram entropy on equal token budgets, with the holdout's own
shortfall (twice it, at least 0.02) as the noise allowance. Support: k-NN coverage of
the reference (Naeem et al. 2020) by the candidate against the coverage by an equal-
sized real holdout; coverage lost only counts where it is not explained by lost
precision (candidate rows off the reference support, as after a shift or broken
correlations, which other dimensions own): mode collapse and shrinkage keep precision
while losing coverage. Scored ``100 exp(-shortfall / 0.1)``, from 50 reference rows'
worth of independent evidence. The dimension is the lowest of the column part
(`stats.aggregate_columns`), the principal axes, the mode bins and the support part;
effective dimensionality is shown as evidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features, knn_support, neighbors
from ..inputs import Comparison
from ..sensitivity import effect, effects, middle, needed_excess
from ..stats import (
    MIN_ROWS,
    adjusted_z,
    binomial_noise,
    block_errors,
    decay_score,
    entropy,
    frequencies,
    log_sd_error,
    lowest_part,
    series_sizes,
)
from .base import missing_reference, not_evaluated, scored

NAME = "entropy_stability"
BINS = 20
COLUMN_SCALE = 0.15
COVERAGE_SCALE = 0.1
#: Coverage of fewer reference rows (independent rows' worth) swings by tens of points
#: between two real samples: below this the support part is left out.
MIN_SUPPORT_ROWS = 50
#: Principal axes of the spread test: those holding this share of the variance, at most
#: this many.
PRINCIPAL_VARIANCE = 0.9
PRINCIPAL_AXES = 10
#: Mode bins: at most MODE_BINS k-means bins, with at least MODE_ROWS_PER_BIN rows of the
#: smaller side per bin; the mass lost from them is scored on MODE_SCALE.
MODE_BINS = 8
MODE_ROWS_PER_BIN = 25
MODE_SCALE = 0.1


def _entropy_deficit(
    p_ref: np.ndarray, p_cand: np.ndarray, n: float, m: float, z: float, floor: float = 0.0
) -> dict[str, Any]:
    """Shortfall of the candidate's entropy relative to the reference's, beyond z standard
    errors of the plug-in estimates (variance of -log p over n draws), the error no
    smaller than `floor` nats."""
    h_ref = entropy(p_ref) + (np.count_nonzero(p_ref) - 1) / (2 * m)
    h_cand = entropy(p_cand) + (np.count_nonzero(p_cand) - 1) / (2 * n)
    if h_ref <= 0:
        return {"entropy_ratio": None, "deficit": 0.0}
    nz = p_ref[p_ref > 0]
    variance = max(float((nz * np.log(nz) ** 2).sum() - entropy(p_ref) ** 2), 0.0)
    noise = z * max(math.sqrt(variance * (1 / n + 1 / m)), floor) / h_ref
    ratio = h_cand / h_ref
    return {"entropy_ratio": ratio, "deficit": max(0.0, 1.0 - ratio - noise)}


def _grid(x: np.ndarray, width: float) -> np.ndarray:
    """Shares of `x` in bins of `width` anchored at its own median (shift does not count
    as a loss of diversity; that is distribution_fidelity's business)."""
    cells = np.floor((x - np.median(x)) / width).astype(np.int64)
    return np.unique(cells, return_counts=True)[1] / x.size


def _numeric_column(
    cand: np.ndarray, ref: np.ndarray, z: float, series: bool = False
) -> dict[str, Any]:
    """Entropy and spread deficits; a series' values count at their effective sizes (of
    the values for the entropy, of the squared deviations for the spread), and the errors
    are no smaller than the spread of the log standard deviation over blocks of each
    stretch (`stats.block_errors`, as in distribution_fidelity): a calm or turbulent
    stretch is narrower or wider, and its binned entropy moves by the log of that ratio."""
    (n, m), (n2, m2) = series_sizes(cand, ref) if series else ((cand.size, ref.size),) * 2
    floor = math.hypot(block_errors(cand)[1], block_errors(ref)[1]) if series else 0.0
    low, high = np.quantile(ref, [0.05, 0.95])
    out: dict[str, Any] = {"deficit": 0.0}
    if high > low:
        width = (high - low) / BINS
        out = _entropy_deficit(_grid(ref, width), _grid(cand, width), n, m, z, floor)
    spread = _spread_deficit(cand, ref, n2, m2, z, floor)
    if spread is not None:
        out["std_ratio"] = spread["std_ratio"]
        out["log_noise"] = spread["log_noise"]
        out["deficit"] = max(out["deficit"], spread["deficit"])
    return out


def _spread_deficit(
    cand: np.ndarray, ref: np.ndarray, n: float, m: float, z: float, floor: float = 0.0
) -> dict[str, float] | None:
    """The candidate's standard deviation short of the reference's beyond z standard errors
    of their log ratio (`stats.log_sd_error`, no smaller than `floor`); None when the
    reference does not vary."""
    s_ref, s_cand = float(np.std(ref)), float(np.std(cand))
    if s_ref <= 0:
        return None
    noise = z * max(log_sd_error(ref, n, m), floor)
    return {
        "std_ratio": s_cand / s_ref,
        "log_noise": noise,
        "deficit": max(0.0, 1.0 - s_cand / s_ref * math.exp(noise)),
    }


def _column_scores(cmp: Comparison, side: str) -> dict[str, dict[str, Any]]:
    z = adjusted_z(cmp.config.z, len(cmp.kinds))
    base = features.baseline(side)
    out: dict[str, dict[str, Any]] = {}
    if cmp.modality == "time_series":
        cand, ref = features.increments(cmp, side), features.increments(cmp, base)
        if min(cand.shape[0], ref.shape[0]) >= MIN_ROWS:
            for j, column in enumerate(cmp.numeric_columns):
                out[column] = _numeric_column(cand[:, j], ref[:, j], z, series=True)
    else:
        for column in cmp.numeric_columns:
            cand = features.values(cmp, side, column)
            ref = features.values(cmp, base, column)
            if min(cand.size, ref.size) >= MIN_ROWS:
                out[column] = _numeric_column(cand, ref, z)
        for column in cmp.categorical_columns:
            ref = features.labels(cmp, base, column)
            cand = features.labels(cmp, side, column)
            if min(cand.size, ref.size) < MIN_ROWS:
                continue
            levels = sorted(set(ref.tolist()) | set(cand.tolist()), key=str)
            out[column] = _entropy_deficit(
                frequencies(ref, levels), frequencies(cand, levels), cand.size, ref.size, z
            )
    for item in out.values():
        item["score"] = decay_score(item["deficit"], COLUMN_SCALE)
    return out


def text_statistics(stream: list[str]) -> dict[str, float]:
    total = max(1, len(stream))
    out = {}
    for n in (1, 2, 3):
        grams = set(zip(*(stream[i:] for i in range(n)), strict=False))
        out[f"distinct_{n}"] = len(grams) / max(1, total - n + 1)
    counts = np.unique(np.asarray(stream, dtype=object), return_counts=True)[1]
    out["unigram_entropy"] = entropy(counts / total)
    return out


def _text_scores(cmp: Comparison) -> dict[str, dict[str, Any]]:
    budget = features.common_token_budget(cmp, ("candidate", "reference", "holdout"))
    stats = {
        side: text_statistics(features.token_stream(cmp, side, budget))
        for side in ("candidate", "reference", "holdout")
    }
    out = {}
    for key, ref in stats["reference"].items():
        if ref <= 0:
            continue
        noise = max(0.02, 2 * abs(1 - stats["holdout"][key] / ref))
        ratio = stats["candidate"][key] / ref
        deficit = max(0.0, 1 - ratio - noise)
        out[key] = {
            "ratio": ratio,
            "holdout_ratio": stats["holdout"][key] / ref,
            "noise": noise,
            "deficit": deficit,
            "score": decay_score(deficit, COLUMN_SCALE),
        }
    return out


def _equal_shares(cand: np.ndarray, ref: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` random rows of each side stacked: a basis or clustering fitted on them holds
    neither side's own rows better than the other's."""
    return np.vstack(
        [features.subsample(cand, size, seed), features.subsample(ref, size, seed + 1)]
    ).astype(np.float64)


def principal_spread(
    cand: np.ndarray, ref: np.ndarray, z: float, seed: int = 0
) -> dict[str, Any] | None:
    """Spread of the candidate along the principal axes of both samples, against the
    reference's: a dropped mode or a shrunken cloud takes its spread from a few directions
    at once, which one test per axis sees long before the columns' tests, where it is
    shared out over correlated columns. The axes are fitted on equal numbers of rows of
    each side, drawn at random (fitted on one side, they would hold more of that side's
    own spread); the axes holding PRINCIPAL_VARIANCE of the variance count, at most
    PRINCIPAL_AXES, each at the family-wise noise level of their number."""
    if min(len(cand), len(ref)) < MIN_ROWS or ref.shape[1] < 2:
        return None
    size = min(len(cand), len(ref))
    pooled = _equal_shares(cand, ref, size, seed)
    centre = pooled.mean(axis=0)
    _, singular, axes = np.linalg.svd(pooled - centre, full_matrices=False)
    shares = singular**2 / max(float((singular**2).sum()), 1e-12)
    count = int(min(PRINCIPAL_AXES, np.searchsorted(np.cumsum(shares), PRINCIPAL_VARIANCE) + 1))
    z_axes = adjusted_z(z, count)
    axes_found = []
    for j in range(count):
        a = (cand - centre) @ axes[j]
        b = (ref - centre) @ axes[j]
        found = _spread_deficit(a, b, len(a), len(b), z_axes)
        if found is not None:
            axes_found.append({"variance_share": float(shares[j]), **found})
    if not axes_found:
        return None
    deficit = max(axis["deficit"] for axis in axes_found)
    return {"axes": axes_found, "deficit": deficit, "score": decay_score(deficit, COLUMN_SCALE)}


def mode_mass(
    cand: np.ndarray,
    ref: np.ndarray,
    z: float,
    seed: int = 0,
    fit_rows: int = 4_000,
    off_support: float = 0.0,
) -> dict[str, Any] | None:
    """Mass the candidate lost from the modes of the data, in the manner of the number of
    statistically different bins (Richardson & Weiss 2018): k-means bins fitted on equal
    random shares of both samples (at most `fit_rows` each), so a mode only the reference
    holds gets a bin of its own; each bin's share of the candidate against the reference's
    by a two-proportion test at the family-wise level of the bins. A dropped mode empties
    its bins while the spread of every column and axis may still look whole. A shift or a
    wider spread empties bins too, by moving rows off the reference's support: the share
    of candidate rows found there (`off_support`, the support part's lost precision)
    explains as much of the loss, as it explains lost coverage."""
    from sklearn.cluster import KMeans

    size = min(len(cand), len(ref), fit_rows)
    bins = int(min(MODE_BINS, size // MODE_ROWS_PER_BIN))
    if bins < 2 or ref.shape[1] == 0:
        return None
    pooled = _equal_shares(cand, ref, size, seed)
    model = KMeans(bins, n_init=3, random_state=seed).fit(pooled)
    counts = {
        side: np.bincount(model.predict(rows.astype(np.float64)), minlength=bins)
        for side, rows in (("candidate", cand), ("reference", ref))
    }
    n, m = len(cand), len(ref)
    share_c, share_r = counts["candidate"] / n, counts["reference"] / m
    pooled_share = (counts["candidate"] + counts["reference"]) / (n + m)
    noise = adjusted_z(z, bins) * np.sqrt(pooled_share * (1 - pooled_share) * (1 / n + 1 / m))
    lost = np.maximum(0.0, share_r - share_c - noise)
    unexplained = max(0.0, float(lost.sum()) - off_support)
    return {
        "bins": [
            {"candidate_share": float(c), "reference_share": float(r), "noise": float(e)}
            for c, r, e in zip(share_c, share_r, noise, strict=True)
        ],
        "lost_mass": float(lost.sum()),
        "explained_by_lost_precision": off_support,
        "unexplained_lost_mass": unexplained,
        "depleted_bins": int(np.count_nonzero(lost)),
        "score": decay_score(unexplained, MODE_SCALE),
    }


def effective_dimensionality(rows: np.ndarray) -> float | None:
    """exp(entropy of the covariance eigenvalue shares)."""
    if rows.shape[0] < 3 or rows.shape[1] == 0:
        return None
    cov = np.cov(rows, rowvar=False).reshape(rows.shape[1], -1)
    eigen = np.clip(np.linalg.eigvalsh(cov), 0, None)
    return math.exp(entropy(eigen / eigen.sum())) if eigen.sum() > 0 else None


def _support(cmp: Comparison) -> dict[str, Any]:
    ref, cand, hold = knn_support.matched(cmp)
    k = cmp.config.k
    enough = features.effective_rows(cmp, ref.shape[0]) >= MIN_SUPPORT_ROWS
    if not enough or cand.shape[0] < MIN_ROWS or ref.shape[1] == 0:
        return {}
    radius = neighbors.support_radius(ref, k)
    cov = {
        "candidate": neighbors.coverage(ref, radius, cand),
        "holdout": neighbors.coverage(ref, radius, hold),
    }
    prec = {
        "candidate": neighbors.precision(ref, radius, cand),
        "holdout": neighbors.precision(ref, radius, hold),
    }
    z = cmp.config.z

    def noise(p: float, rows: int) -> float:
        return math.sqrt(2) * binomial_noise(p, features.effective_rows(cmp, rows), z)

    coverage_loss = max(0.0, cov["holdout"] - cov["candidate"] - noise(cov["holdout"], len(ref)))
    precision_loss = max(
        0.0, prec["holdout"] - prec["candidate"] - noise(prec["holdout"], len(cand))
    )
    shortfall = max(0.0, coverage_loss - precision_loss)
    return {
        "coverage_noise": noise(cov["holdout"], len(ref)),
        "coverage": cov,
        "precision": prec,
        "coverage_loss": coverage_loss,
        "precision_loss": precision_loss,
        "unexplained_coverage_loss": shortfall,
        "k": k,
        "rows": {"reference": ref.shape[0], "candidate": cand.shape[0]},
        "effective_dimensionality": effective_dimensionality(cand),
        "reference_effective_dimensionality": effective_dimensionality(ref),
        "score": decay_score(shortfall, COVERAGE_SCALE),
    }


def detectable(
    columns: dict[str, dict[str, Any]], support: dict[str, Any], threshold: float
) -> list[dict[str, Any]]:
    """The narrowest spread (in every column) and the largest loss of support coverage
    that would still pass."""
    noise = middle(c.get("log_noise") for c in columns.values())
    ratio = None
    if noise is not None:
        ratio = max(0.0, 1.0 - needed_excess(COLUMN_SCALE, threshold)) * math.exp(-noise)
    coverage = support.get("coverage_noise")
    return effects(
        effect(
            "spread_ratio",
            ratio,
            "candidate sd / reference sd",
            "no narrowing of spread below x{:.2f}",
        ),
        effect(
            "coverage_loss",
            None if coverage is None else coverage + needed_excess(COVERAGE_SCALE, threshold),
            "share of the reference's support",
            "no loss of support coverage above {:.0%}",
        ),
    )


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "diversity is measured against real data")
    columns = _text_scores(cmp) if cmp.modality == "text" else _column_scores(cmp, "candidate")
    support = _support(cmp)
    axes = modes = None
    if cmp.modality != "time_series":
        cand = features.embedding(cmp, "candidate")
        ref = features.embedding(cmp, features.FULL_REFERENCE)
        seed = cmp.config.seed
        axes = principal_spread(cand, ref, cmp.config.z, seed)
        off_support = support.get("precision_loss", 0.0)
        modes = mode_mass(cand, ref, cmp.config.z, seed, cmp.config.knn_rows, off_support)
    whole = [part["score"] for part in (support, axes, modes) if part]
    score = lowest_part([c["score"] for c in columns.values()], whole)
    if score is None:
        return not_evaluated(cmp, NAME, "too few rows for entropy or coverage")
    evidence = {
        "statistics": columns,
        "support": support,
        "principal_axes": axes,
        "modes": modes,
        "rule": "lowest of columns, support, principal axes and modes",
        "sensitivity": detectable(columns, support, cmp.config.threshold(NAME, cmp.modality)),
    }
    return scored(cmp, NAME, score, evidence)
