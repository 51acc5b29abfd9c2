"""correlation_preservation: is the dependence between columns (or along time) kept?

Tabular: Pearson and Spearman for numeric pairs, bias-corrected Cramer's V for every
pair with a categorical column (numbers binned at the reference's octiles; rows missing
either value left out). Series: the
autocorrelation of each channel's increments at lags 1..24 (a panel's within its entities,
up to half an entity's series) and the correlation between channels. Text: Cramer's V
between adjacent tokens (the reference's 500 most frequent tokens, the rest as one), on
equal token budgets.

Tables with a target column also get the target's dependence on the other columns:
boosted trees trained on the reference predict the target of candidate rows and of the
real holdout; the candidate's log-loss (`predictive.row_losses`; squared error for a
numeric target) beyond the holdout's plus z standard errors, relative to the reference
model's margin over chance, scores ``100 exp(-gap / 0.25)``. Flipped labels leave every
pairwise statistic almost unchanged but show here, and in the log-loss (confident
predictions contradicted) long before they move the error rate. The dimension is the
lower of this and the pairs' score.

A pair's excess is ``|r_candidate - r_reference|`` beyond z standard errors (Bonferroni
over the pairs; for text at least twice the real holdout's own difference). Per column:
``ratio = sum(excess) / sum(max(|r_ref|, |r_cand|, 0.05))`` over its pairs, scored ``100
exp(-3 ratio)`` (breaking all of a column's dependence scores about 5); the dimension is
the column aggregate (`stats.aggregate_columns`: half the worst column, half the mean of
the worst quarter).
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from synthos.analysis.correlations import codes, cramers_v
from synthos.analysis.strata import NULL

from .. import features, predictive
from ..inputs import Comparison
from ..sensitivity import effect, effects, middle, needed_excess
from ..stats import adjusted_z, aggregate_columns, decay_score
from .base import missing_reference, not_evaluated, scored

NAME = "correlation_preservation"
MAX_COLUMNS = 64
MAX_LAG = 24
TEXT_VOCABULARY = 500
FLOOR = 0.05
TARGET_SCALE = 0.25


def _binned(cmp: Comparison, side: str, column: str) -> np.ndarray:
    ref = features.values(cmp, "reference", column)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 9)[1:-1])) if ref.size else []
    raw = features.table(cmp, side).column(column).to_numpy(zero_copy_only=False)
    out = np.searchsorted(edges, raw.astype(np.float64)).astype(object)
    out[~np.isfinite(raw.astype(np.float64))] = "nan"
    return out


def _tabular_pairs(cmp: Comparison, side: str) -> dict[tuple[str, str, str], tuple[float, int]]:
    numeric = cmp.numeric_columns[:MAX_COLUMNS]
    categorical = cmp.categorical_columns[: max(0, MAX_COLUMNS - len(numeric))]
    data = features.table(cmp, side)
    out: dict[tuple[str, str, str], tuple[float, int]] = {}
    if len(numeric) >= 2:
        frame = pd.DataFrame({c: data.column(c).to_numpy(zero_copy_only=False) for c in numeric})
        frame = frame.replace([np.inf, -np.inf], np.nan)
        for method in ("pearson", "spearman"):
            matrix = frame.corr(method=method, min_periods=10)
            for a, b in combinations(numeric, 2):
                value = matrix.at[a, b]
                if np.isfinite(value):
                    out[(a, b, method)] = (float(value), data.num_rows)
    if categorical:
        labelled = {c: features.labels(cmp, side, c) for c in categorical}
        labelled.update({c: _binned(cmp, side, c) for c in numeric})
        present = {c: (v != NULL) & (v != "nan") for c, v in labelled.items()}
        for a, b in combinations(numeric + categorical, 2):
            if a in categorical or b in categorical:
                # rows missing either value are left out: a few rows missing both would
                # form a level of their own, perfectly associated, and inflate V
                both = present[a] & present[b]
                value = cramers_v(codes(labelled[a][both]), codes(labelled[b][both]))
                if value is not None:
                    out[(a, b, "cramers_v")] = (value, int(both.sum()))
    return out


def _series_pairs(cmp: Comparison, side: str) -> dict[tuple[str, str, str], tuple[float, int]]:
    steps = features.increments(cmp, side)
    names = cmp.numeric_columns
    n = steps.shape[0]
    out: dict[tuple[str, str, str], tuple[float, int]] = {}
    if n < 10:
        return out
    parts = features.segments(cmp, side)
    lags = min(MAX_LAG, n // 4)
    if cmp.entity_column is not None:  # lags within an entity's series only
        lags = min(lags, features.segment_length(cmp) // 2)
    for j, column in enumerate(names):
        centre = steps[:, j].mean()
        xs = [p[:, j] - centre for p in parts]
        denom = float(sum(x @ x for x in xs))
        if denom <= 0:
            continue
        for lag in range(1, lags + 1):
            lagged = sum(float(x[:-lag] @ x[lag:]) for x in xs if x.size > lag)
            out[(column, f"lag{lag}", "autocorrelation")] = (lagged / denom, n)
    if len(names) >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):  # a constant channel: NaN
            matrix = np.corrcoef(steps, rowvar=False)
        for (i, a), (j, b) in combinations(enumerate(names), 2):
            if np.isfinite(matrix[i, j]):
                out[(a, b, "pearson")] = (float(matrix[i, j]), n)
    return out


def _text_pairs(cmp: Comparison, side: str, budget: int) -> dict[tuple[str, str, str], tuple]:
    stream = features.token_stream(cmp, side, budget)
    counts = features.token_counts(cmp, "reference", budget)
    keep = {t: i + 1 for i, (t, _) in enumerate(counts.most_common(TEXT_VOCABULARY))}
    coded = np.array([keep.get(t, 0) for t in stream], dtype=np.int64)
    if coded.size < 3:
        return {}
    value = cramers_v(coded[:-1], coded[1:])
    return {} if value is None else {("token_t", "token_t+1", "cramers_v"): (value, coded.size)}


def _pairs(cmp: Comparison, side: str, budget: int | None = None):
    if cmp.modality == "text":
        return _text_pairs(cmp, side, budget or 0)
    if cmp.modality == "time_series":
        return _series_pairs(cmp, side)
    return _tabular_pairs(cmp, side)


def _standard_error(kind: str, r_cand: float, r_ref: float, n: int, m: int) -> float:
    if kind in ("pearson", "spearman"):
        factor = 1.06 if kind == "spearman" else 1.0
        return factor * math.sqrt((1 - r_cand**2) ** 2 / n + (1 - r_ref**2) ** 2 / m)
    return math.sqrt(1.0 / n + 1.0 / m)


def compare(cmp: Comparison, side: str) -> tuple[float, dict[str, Any]]:
    budget, null = None, {}
    if cmp.modality == "text":
        # Tokens come in documents, not one by one: the analytic standard error understates
        # the noise, so the real holdout's own difference (twice it) bounds it from below.
        budget = features.common_token_budget(cmp, features.SIDES)
        null = _pairs(cmp, "holdout", budget)
    ref, cand = _pairs(cmp, "reference", budget), _pairs(cmp, side, budget)
    z = adjusted_z(cmp.config.z, len(ref))
    excess: dict[str, float] = defaultdict(float)
    strength: dict[str, float] = defaultdict(float)
    worst: list[dict[str, Any]] = []
    for key in ref.keys() & cand.keys():
        (r_ref, m), (r_cand, n) = ref[key], cand[key]
        allowance = z * _standard_error(key[2], r_cand, r_ref, n, m)
        if key in null:
            allowance = max(allowance, 2 * abs(null[key][0] - r_ref))
        over = max(0.0, abs(r_cand - r_ref) - allowance)
        weight = max(abs(r_ref), abs(r_cand), FLOOR)
        for column in key[:1] if key[2] == "autocorrelation" else key[:2]:
            excess[column] += over
            strength[column] += weight
        worst.append(
            {
                "pair": list(key[:2]),
                "statistic": key[2],
                "reference": r_ref,
                "candidate": r_cand,
                "allowance": allowance,
                "excess": over,
            }
        )
    per_column = {
        c: decay_score(excess[c] / strength[c], 1 / 3) for c in strength if strength[c] > 0
    }
    worst.sort(key=lambda item: -item["excess"])
    return aggregate_columns(list(per_column.values())), {
        "column_scores": per_column,
        "pairs_compared": len(worst),
        "largest_changes": worst[:10],
        "pairs": worst,
    }


def target_dependence(cmp: Comparison) -> dict[str, Any] | None:
    """The reference's model of the target, tested on candidate rows against real ones."""
    target = cmp.target_column
    if cmp.modality != "tabular" or target is None or len(cmp.kinds) < 2:
        return None
    classifier = cmp.kinds[target] == "categorical"
    seed, cap, z = cmp.config.seed, cmp.config.classifier_rows, cmp.config.z
    rng = np.random.default_rng(seed)
    sides = {}
    for side in ("reference", "candidate", "holdout"):
        x, y = predictive.design(cmp, side, target)
        pick = rng.choice(y.size, min(cap, y.size), replace=False)
        sides[side] = (x[pick], y[pick])
    (x_ref, y_ref), (x_cand, y_cand), (x_hold, y_hold) = sides.values()
    if min(y_ref.size, y_cand.size, y_hold.size) < 10 or (classifier and len(set(y_ref)) < 2):
        return None
    classes = len(set(y_ref)) if classifier else 2
    model = predictive.trees(classifier, seed, y_ref.size, classes).fit(x_ref, y_ref)
    cand = predictive.row_losses(model, classifier, x_cand, y_cand)
    hold = predictive.row_losses(model, classifier, x_hold, y_hold)
    chance = float(predictive.chance_losses(classifier, y_ref, y_hold).mean())
    noise = z * math.sqrt(cand.var() / cand.size + hold.var() / hold.size)
    margin = max(chance - float(hold.mean()), 0.05 * chance, 1e-12)
    gap = max(0.0, float(cand.mean() - hold.mean()) - noise) / margin
    return {
        "target": target,
        "loss": "log-loss" if classifier else "squared error",
        "candidate": float(cand.mean()),
        "holdout": float(hold.mean()),
        "chance": chance,
        "noise": noise,
        "relative_gap": gap,
        "score": decay_score(gap, TARGET_SCALE),
    }


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "dependence is compared with real data")
    score, evidence = compare(cmp, "candidate")
    if not evidence["column_scores"]:
        return not_evaluated(
            cmp,
            NAME,
            "no pair of columns (or lags, or adjacent tokens) to correlate",
            columns=list(cmp.kinds),
        )
    evidence["holdout_score"] = compare(cmp, "holdout")[0]
    dependence = target_dependence(cmp)
    if dependence is not None:
        evidence["target_dependence"] = dependence
        score = min(score, dependence["score"])
    pairs = evidence.pop("pairs")
    evidence["sensitivity"] = detectable(
        pairs, dependence, cmp.config.threshold(NAME, cmp.modality)
    )
    return scored(cmp, NAME, score, evidence)


def detectable(
    pairs: list[dict[str, Any]], dependence: dict[str, Any] | None, threshold: float
) -> list[dict[str, Any]]:
    """The smallest change of every pair's correlation (each beyond its allowance by the
    share of its strength the column score allows), and of the target's loss, that fails
    the dimension."""
    ratio = needed_excess(1 / 3, threshold)
    change = middle(p["allowance"] + ratio * max(abs(p["reference"]), FLOOR) for p in pairs)
    target = None
    if dependence is not None:
        margin = max(dependence["chance"] - dependence["holdout"], 0.05 * dependence["chance"])
        target = dependence["noise"] / max(margin, 1e-12) + needed_excess(TARGET_SCALE, threshold)
    return effects(
        effect(
            "correlation_change",
            change,
            "difference of correlation coefficients",
            "no change of correlations above {:.2f}",
        ),
        effect(
            "target_dependence_loss",
            target,
            "share of the reference model's margin over chance",
            "no loss of the target's dependence on the other columns above {:.0%}",
        ),
    )
