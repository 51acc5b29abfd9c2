"""tail_preservation: are rare categories and extreme quantiles kept?

Numbers (tabular columns, series increments): for the reference's 1 %, 5 %, 95 % and 99
% quantiles, the candidate's mass strictly beyond each (values clipped onto the cut are
not tail) against the reference's, a shortfall counting once it exceeds z binomial
standard errors; the column's loss is the mean relative shortfall. Pooled over columns:
the share of rows with any cell beyond its cut (and, for categories, any rare level),
candidate against reference, with binomial noise: a defect shared by many columns shows
long before any one column can, and correlated columns do not inflate the evidence.
Categories: the total share of the reference's rare levels (under 5 % each) in the
candidate against the reference. Text: the share of tokens outside the reference's head
vocabulary (the most frequent tokens holding 80 % of its mass), candidate against an
equal-budget real holdout, and documents longer than the reference's 95 % length
quantile. Each part scores ``100 (1 - loss)``; the dimension is the lower of the pooled
score and the mean of the worst quarter of columns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features
from ..inputs import Comparison
from ..stats import frequencies, worst_share_mean
from .base import missing_reference, not_evaluated, scored

NAME = "tail_preservation"
QUANTILES = (0.01, 0.05, 0.95, 0.99)
RARE_SHARE = 0.05
HEAD_MASS = 0.8


def _shortfall(p_ref: float, p_cand: float, noise: float) -> float:
    """Relative loss of a tail mass beyond noise (0 = kept, 1 = gone)."""
    if p_ref <= 0:
        return 0.0
    return min(1.0, max(0.0, p_ref - p_cand - noise) / p_ref)


def _binomial(p: float, n: int, m: int, z: float) -> float:
    return z * math.sqrt(p * (1 - p) * (1 / n + 1 / m))


def _beyond(x: np.ndarray, cut: np.ndarray, low: bool) -> np.ndarray:
    """Strictly beyond the cut (values clipped onto the cut do not count as tail)."""
    with np.errstate(invalid="ignore"):
        return x < cut if low else x > cut


def numeric_tails(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any]:
    points = {}
    for q in QUANTILES:
        cut = float(np.quantile(ref, q))
        p_ref = float(np.mean(_beyond(ref, cut, q < 0.5)))
        p_cand = float(np.mean(_beyond(cand, cut, q < 0.5)))
        if p_ref <= 0 or p_ref >= 0.5:  # discrete values: no tail beyond this quantile
            continue
        points[f"q{q:g}"] = {
            "cut": cut,
            "reference_mass": p_ref,
            "candidate_mass": p_cand,
            "loss": _shortfall(p_ref, p_cand, _binomial(p_ref, cand.size, ref.size, z)),
        }
    loss = float(np.mean([p["loss"] for p in points.values()])) if points else 0.0
    return {"tails": points, "loss": loss, "score": 100 * (1 - loss)}


def _rare_levels(ref: np.ndarray) -> np.ndarray:
    levels, counts = np.unique(ref, return_counts=True)
    return levels[counts / ref.size < RARE_SHARE]


def categorical_tails(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any] | None:
    rare = _rare_levels(ref)
    if rare.size == 0:
        return None
    p_ref = float(frequencies(ref, rare).sum())
    shares = frequencies(cand, rare)
    noise = _binomial(p_ref, cand.size, ref.size, z)
    loss = _shortfall(p_ref, float(shares.sum()), noise)
    return {
        "rare_levels": int(rare.size),
        "rare_levels_missing": [str(v) for v, s in zip(rare, shares, strict=True) if s == 0][:20],
        "reference_rare_mass": p_ref,
        "candidate_rare_mass": float(shares.sum()),
        "loss": loss,
        "score": 100 * (1 - loss),
    }


def _pooled_loss(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any] | None:
    """Share of rows with any cell in its tail, candidate against reference (see the
    module docstring)."""
    if cand.size == 0 or ref.size == 0 or ref.std() == 0:
        return None
    t_ref, t_cand = float(ref.mean()), float(cand.mean())
    noise = _binomial(t_ref, cand.size, ref.size, z)
    return {
        "reference_rows_in_tail": t_ref,
        "candidate_rows_in_tail": t_cand,
        "loss": _shortfall(t_ref, t_cand, noise),
    }


def _matrix(cmp: Comparison, side: str) -> np.ndarray:
    if cmp.modality == "time_series":
        return features.increments(cmp, side)
    data = features.table(cmp, side)
    columns = [
        data.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
        for c in cmp.numeric_columns
    ]
    return np.column_stack(columns) if columns else np.zeros((data.num_rows, 0))


def _pooled(cmp: Comparison) -> dict[str, Any]:
    z = cmp.config.z
    cand, ref = _matrix(cmp, "candidate"), _matrix(cmp, "reference")
    points: dict[str, Any] = {}
    if cand.shape[1] and cand.shape[0] >= 2 and ref.shape[0] >= 2:
        for q in QUANTILES:
            cut = np.nanquantile(ref, q, axis=0)
            point = _pooled_loss(
                _beyond(cand, cut, q < 0.5).any(axis=1), _beyond(ref, cut, q < 0.5).any(axis=1), z
            )
            if point is not None:
                points[f"q{q:g}"] = point
    if cmp.modality == "tabular" and cmp.categorical_columns:
        rare = {
            c: _rare_levels(features.labels(cmp, "reference", c)) for c in cmp.categorical_columns
        }
        hits = {
            side: np.any([np.isin(features.labels(cmp, side, c), rare[c]) for c in rare], axis=0)
            for side in ("candidate", "reference")
        }
        point = _pooled_loss(hits["candidate"], hits["reference"], z)
        if point is not None:
            points["rare_categories"] = point
    if not points:
        return {}
    loss = float(np.mean([p["loss"] for p in points.values()]))
    return {"points": points, "loss": loss, "score": 100 * (1 - loss)}


def _tabular(cmp: Comparison) -> dict[str, dict[str, Any]]:
    z = cmp.config.z
    out: dict[str, dict[str, Any]] = {}
    if cmp.modality == "time_series":
        cand, ref = features.increments(cmp, "candidate"), features.increments(cmp, "reference")
        if cand.shape[0] >= 2 and ref.shape[0] >= 2:
            for j, column in enumerate(cmp.numeric_columns):
                out[column] = numeric_tails(cand[:, j], ref[:, j], z)
        return out
    for column in cmp.numeric_columns:
        cand = features.values(cmp, "candidate", column)
        ref = features.values(cmp, "reference", column)
        if cand.size >= 2 and ref.size >= 2:
            out[column] = numeric_tails(cand, ref, z)
    for column in cmp.categorical_columns:
        tails = categorical_tails(
            features.labels(cmp, "candidate", column), features.labels(cmp, "reference", column), z
        )
        if tails is not None:
            out[column] = tails
    return out


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
    n = min(len(features.tokens(cmp, s)) for s in ("candidate", "holdout"))
    noise = _binomial(tail["holdout"], budget, budget, z)
    loss = _shortfall(tail["holdout"], tail["candidate"], noise)
    out = {
        "rare_tokens": {
            "head_vocabulary": len(head),
            "holdout_tail_mass": tail["holdout"],
            "candidate_tail_mass": tail["candidate"],
            "loss": loss,
            "score": 100 * (1 - loss),
        }
    }
    lengths = {s: np.array([len(d) for d in features.tokens(cmp, s)]) for s in features.SIDES}
    if n >= 2:
        cut = float(np.quantile(lengths["reference"], 0.95))
        p_ref = float(np.mean(lengths["holdout"] > cut))
        p_cand = float(np.mean(lengths["candidate"] > cut))
        noise = _binomial(p_ref, lengths["candidate"].size, lengths["holdout"].size, z)
        loss = _shortfall(p_ref, p_cand, noise)
        out["long_documents"] = {
            "cut_tokens": cut,
            "holdout_mass": p_ref,
            "candidate_mass": p_cand,
            "loss": loss,
            "score": 100 * (1 - loss),
        }
    return out


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "tails are defined by real data")
    if cmp.modality == "text":
        parts, pooled = _text(cmp), {}
    else:
        parts, pooled = _tabular(cmp), _pooled(cmp)
    if not parts:
        return not_evaluated(cmp, NAME, "no column with a tail (numbers or rare categories)")
    score = worst_share_mean([p["score"] for p in parts.values()])
    if pooled:
        score = min(score, pooled["score"])
    worst = sorted(parts, key=lambda c: parts[c]["score"])[:5]
    evidence = {"columns": parts, "worst_columns": worst, "pooled": pooled}
    return scored(cmp, NAME, score, evidence)
