"""tail_preservation: are rare categories and extreme quantiles kept?

Lost tails are the first symptom of recursive collapse. A tail is the share of rows beyond
a cut of the reference (1/5/95/99 % quantiles, rare levels, piles at a column's extreme
value, long documents, tokens outside the head vocabulary); the loss is the share of its
*detectable* mass (beyond binomial noise) the candidate no longer has, and each part scores
100 (1 - loss of its worst tail). The parts, the pooling over columns and the clipping piles
are set out in docs/dimensions.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features
from ..inputs import Comparison
from ..sensitivity import effect, effects, middle
from ..stats import adjusted_z, frequencies, lowest_part
from .base import missing_reference, not_evaluated, scored

NAME = "tail_preservation"
QUANTILES = (0.01, 0.05, 0.95, 0.99)
RARE_SHARE = 0.05
HEAD_MASS = 0.8
#: Tables and series: tails are cut on the whole reference sample (holdout included), as
#: small tails need every real row; text compares with the holdout as its baseline.
REFERENCE = features.FULL_REFERENCE


def tail_point(p_ref: float, p_cand: float, n: int, m: int, z: float) -> dict[str, Any]:
    """One tail: masses, noise allowance and loss (None when the tail is within noise)."""
    noise = z * math.sqrt(p_ref * (1 - p_ref) * (1 / n + 1 / m))
    loss = None
    if p_ref > noise:
        loss = min(1.0, max(0.0, p_ref - p_cand - noise) / (p_ref - noise))
    return {"reference_mass": p_ref, "candidate_mass": p_cand, "noise": noise, "loss": loss}


def part(points: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any] | None:
    """A part's score from its worst detectable tail; None when no tail is detectable."""
    losses = [p["loss"] for p in points.values() if p["loss"] is not None]
    if not losses:
        return None
    loss = float(np.max(losses))  # the worst tail: the extremes go first, the rest stays
    return {"tails": points, **extra, "loss": loss, "score": 100 * (1 - loss)}


def _beyond(x: np.ndarray, cut: Any, low: bool) -> np.ndarray:
    """Strictly beyond the cut (values clipped onto the cut do not count as tail)."""
    with np.errstate(invalid="ignore"):
        return x < cut if low else x > cut


def _tail_points(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, dict[str, Any]]:
    """Tails of a column (1-D) or of a row's cells (2-D, any cell counts) at each quantile,
    one-sided and both sides together (twice the mass: a smaller loss becomes visible)."""
    pooled = ref.ndim == 2

    def mass(x: np.ndarray, beyond: np.ndarray) -> float:
        return float((beyond.any(axis=1) if pooled else beyond).mean())

    cuts = {
        q: np.nanquantile(ref, q, axis=0) if pooled else float(np.quantile(ref, q))
        for q in QUANTILES
    }
    sides = {f"q{q:g}": ((q,),) for q in QUANTILES}
    sides.update({f"q{q:g}|q{1 - q:g}": ((q,), (1 - q,)) for q in QUANTILES if q < 0.5})
    points = {}
    for name, groups in sides.items():
        qs = [q for group in groups for q in group]

        def beyond(x: np.ndarray, qs: list[float] = qs) -> np.ndarray:
            hits = [_beyond(x, cuts[q], q < 0.5) for q in qs]
            return np.logical_or.reduce(hits)

        p_ref = mass(ref, beyond(ref))
        if 0 < p_ref < (1 if pooled else 0.5):  # discrete values may leave no tail
            points[name] = tail_point(p_ref, mass(cand, beyond(cand)), len(cand), len(ref), z)
    return points


def _piles(cand: np.ndarray, ref: np.ndarray) -> dict[str, dict[str, Any]]:
    """Rows on the candidate's largest and smallest value, and the mean and variance of the
    rows on the extreme of as many draws with replacement from `ref`: E k = n sum_j p_j
    G_j^(n-1) and E k(k-1) = n (n-1) sum_j p_j^2 G_j^(n-2), over the distinct values j with
    shares p_j, G_j being the share of values no more extreme than j (at or below it for
    the maximum, at or above it for the minimum); at least what the reference's own share
    of the candidate's extreme value predicts (n p, binomial variance plus the error of
    that share) when that is more."""
    n = cand.size
    _, counts = np.unique(ref, return_counts=True)
    shares = counts / ref.size
    out = {}
    for side, p in (("max", shares[::-1]), ("min", shares)):
        cumulative = np.minimum(np.cumsum(p[::-1])[::-1], 1.0)
        mean = n * float(np.sum(p * cumulative ** (n - 1)))
        pairs = n * (n - 1) * float(np.sum(p**2 * cumulative ** max(n - 2, 0)))
        # at least Poisson's variance, plus the error of the reference's own extreme masses:
        # it holds about mean m / n rows there, a count whose Poisson error scales by n / m
        variance = max(pairs + mean - mean**2, mean) + mean * n / ref.size
        value = float(cand.max() if side == "max" else cand.min())
        rows = int(np.count_nonzero(cand == value))
        # A common reference value that happens to be the candidate's extreme (the rarer
        # values beyond it all fell on the reference's side of a split) holds its own share
        # of the rows, not a pile.
        share = float(np.count_nonzero(ref == value)) / ref.size
        at_value = n * share
        if at_value > mean:
            mean = at_value
            variance = max(variance, at_value * (1 - share) + at_value * n / ref.size)
        out[side] = {"value": value, "candidate_rows": rows, "expected": mean, "variance": variance}
    return out


def pile_point(
    rows: int, expected: float, variance: float, z: float, **extra: Any
) -> dict[str, Any]:
    """A pile's loss: the share of its rows beyond the expected rows and z standard errors."""
    noise = z * math.sqrt(variance)
    loss = max(0.0, rows - expected - noise) / max(rows, 1)
    return {
        **extra,
        "candidate_rows": rows,
        "expected_rows": expected,
        "noise": noise,
        "loss": loss,
    }


def _boundary_points(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, dict[str, Any]]:
    return {
        f"pile_at_{side}": pile_point(
            pile["candidate_rows"], pile["expected"], pile["variance"], z, value=pile["value"]
        )
        for side, pile in _piles(cand, ref).items()
    }


def numeric_tails(
    cand: np.ndarray, ref: np.ndarray, mass_z: float | None, pile_z: float | None
) -> dict[str, Any] | None:
    """A column's part: its tail masses and the piles on its boundary, each at its own z
    (None leaves it out)."""
    if min(cand.size, ref.size) < 2:
        return None
    points = _tail_points(cand, ref, mass_z) if mass_z is not None else {}
    if pile_z is not None:
        points.update(_boundary_points(cand, ref, pile_z))
    return part(points)


def _rare_levels(ref: np.ndarray) -> np.ndarray:
    levels, counts = np.unique(ref, return_counts=True)
    return levels[counts / ref.size < RARE_SHARE]


def categorical_tails(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any] | None:
    rare = _rare_levels(ref)
    if rare.size == 0:
        return None
    shares = frequencies(cand, rare)
    point = tail_point(
        float(frequencies(ref, rare).sum()), float(shares.sum()), cand.size, ref.size, z
    )
    missing = [str(v) for v, s in zip(rare, shares, strict=True) if s == 0][:20]
    return part({"rare_levels": point}, rare_levels=int(rare.size), rare_levels_missing=missing)


def _matrix(cmp: Comparison, side: str) -> np.ndarray:
    if cmp.modality == "time_series":
        return features.increments(cmp, side)
    data = features.table(cmp, side)
    columns = [
        data.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
        for c in cmp.numeric_columns
    ]
    return np.column_stack(columns) if columns else np.zeros((data.num_rows, 0))


def _pooled(cmp: Comparison) -> dict[str, Any] | None:
    z = cmp.config.z
    cand, ref = _matrix(cmp, "candidate"), _matrix(cmp, REFERENCE)
    points: dict[str, Any] = {}
    n, m = cand.shape[0], ref.shape[0]
    if cand.shape[1] > 1 and n >= 2 and m >= 2:
        points.update(_tail_points(cand, ref, z))
    cand, ref = features.value_rows(cmp, "candidate"), features.value_rows(cmp, REFERENCE)
    if cand.shape[1] > 1 and min(len(cand), len(ref)) >= 2:
        piles = [
            pile for j in range(cand.shape[1]) for pile in _piles(cand[:, j], ref[:, j]).values()
        ]
        points["piles"] = pile_point(
            sum(p["candidate_rows"] for p in piles),
            sum(p["expected"] for p in piles),
            sum(p["variance"] for p in piles),
            z,
        )
    if cmp.modality == "tabular" and len(cmp.categorical_columns) > 1:
        rare = {
            c: _rare_levels(features.labels(cmp, REFERENCE, c)) for c in cmp.categorical_columns
        }
        hits = {
            side: np.any([np.isin(features.labels(cmp, side, c), rare[c]) for c in rare], axis=0)
            for side in ("candidate", REFERENCE)
        }
        p_ref = float(hits[REFERENCE].mean())
        if 0 < p_ref < 1:
            points["rare_levels"] = tail_point(p_ref, float(hits["candidate"].mean()), n, m, z)
    return part(points)


def _columns(cmp: Comparison) -> dict[str, dict[str, Any]]:
    z = adjusted_z(cmp.config.z, len(cmp.kinds) * len(QUANTILES))
    pile_z = adjusted_z(cmp.config.z, len(cmp.kinds) * 2)
    out: dict[str, dict[str, Any] | None] = {}
    if cmp.modality == "time_series":
        cand, ref = features.increments(cmp, "candidate"), features.increments(cmp, REFERENCE)
        if cand.shape[0] >= 2 and ref.shape[0] >= 2:
            for j, column in enumerate(cmp.numeric_columns):
                out[column] = numeric_tails(cand[:, j], ref[:, j], z, None)
        # A pile on one value is unnatural in any stretch, so levels always get the pile
        # test; their tail masses only when the levels are stationary.
        stationary = features.levels(cmp, REFERENCE) is not None
        cand, ref = features.value_rows(cmp, "candidate"), features.value_rows(cmp, REFERENCE)
        for j, column in enumerate(cmp.numeric_columns):
            out[f"{column} (level)"] = numeric_tails(
                cand[:, j], ref[:, j], z if stationary else None, pile_z
            )
    else:
        for column in cmp.numeric_columns:
            cand = features.values(cmp, "candidate", column)
            ref = features.values(cmp, REFERENCE, column)
            if cand.size >= 2 and ref.size >= 2:
                out[column] = numeric_tails(cand, ref, z, pile_z)
        for column in cmp.categorical_columns:
            out[column] = categorical_tails(
                features.labels(cmp, "candidate", column),
                features.labels(cmp, REFERENCE, column),
                z,
            )
    return {c: p for c, p in out.items() if p is not None}


def _text(cmp: Comparison) -> dict[str, dict[str, Any]]:
    z = cmp.config.z
    budget = features.common_token_budget(cmp, ("candidate", "reference", "holdout"))
    ref_counts = features.token_counts(cmp, "reference", budget)
    head, mass = set(), 0
    for token, count in ref_counts.most_common():
        if mass >= HEAD_MASS * budget:
            break
        head.add(token)
        mass += count
    tail = {
        side: sum(1 for t in features.token_stream(cmp, side, budget) if t not in head) / budget
        for side in ("candidate", "holdout")
    }
    out = {
        "rare_tokens": part(
            {"outside_head": tail_point(tail["holdout"], tail["candidate"], budget, budget, z)},
            head_vocabulary=len(head),
        )
    }
    lengths = {s: np.array([len(d) for d in features.tokens(cmp, s)]) for s in features.SIDES}
    if min(lengths["candidate"].size, lengths["holdout"].size) >= 2:
        cut = float(np.quantile(lengths["reference"], 0.95))
        point = tail_point(
            float(np.mean(lengths["holdout"] > cut)),
            float(np.mean(lengths["candidate"] > cut)),
            lengths["candidate"].size,
            lengths["holdout"].size,
            z,
        )
        out["long_documents"] = part({"longer_than_cut": point}, cut_tokens=cut)
    return {name: p for name, p in out.items() if p is not None}


def detectable(parts: dict[str, dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The smallest share of a tail's mass whose loss fails the dimension: the 5 % tails
    of a column (both together), a table's rare levels, a text's rare tokens."""
    loss = max(0.0, 1.0 - threshold / 100.0)

    def share(point: dict[str, Any] | None) -> float | None:
        if not point or point.get("loss") is None or point["reference_mass"] <= 0:
            return None
        p, noise = point["reference_mass"], point["noise"]
        return min(1.0, (noise + loss * (p - noise)) / p)

    tails = [p.get("tails", {}) for p in parts.values()]
    found = middle(share(t.get("q0.05|q0.95")) for t in tails)
    rare = middle(share(t.get(k)) for t in tails for k in ("rare_levels", "outside_head"))
    return effects(
        effect(
            "lost_tail_mass",
            found,
            "share of the mass beyond the 5 % and 95 % quantiles",
            "no loss of the outer 5 % tails above {:.0%} of their mass",
        ),
        effect(
            "lost_rare_mass",
            rare,
            "share of the rare levels' (tokens') mass",
            "no loss of rare levels above {:.0%} of their mass",
        ),
    )


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "tails are defined by real data")
    if cmp.modality == "text":
        parts, pooled = _text(cmp), None
    else:
        parts, pooled = _columns(cmp), _pooled(cmp)
    scores = [p["score"] for p in parts.values()]
    if not scores and pooled is None:
        return not_evaluated(
            cmp, NAME, "no tail is larger than its sampling noise at these sample sizes"
        )
    score = lowest_part(scores, [pooled["score"]] if pooled else [])
    worst = sorted(parts, key=lambda c: parts[c]["score"])[:5]
    evidence = {
        "parts": parts,
        "worst_parts": worst,
        "pooled": pooled,
        "sensitivity": detectable(parts, cmp.config.threshold(NAME, cmp.modality)),
    }
    return scored(cmp, NAME, score, evidence)
