"""distribution_fidelity: do the marginals match the reference?

Tabular: per numeric column the two-sample KS statistic beyond its critical value at the
noise level z, and the shifts of mean and standard deviation beyond z standard errors
(`stats.moment_shift`; a column scores the lowest of the three; Wasserstein-1 over the
reference's standard deviation as evidence); the mean vector of all numeric columns at
once (`stats.joint_mean_shift`: a small shift shared by many columns) and, by the same
test on squared deviations, their spreads at once; per categorical column the total
variation distance of level shares beyond its noise allowance. The candidate is compared
with the whole reference sample (holdout included), the holdout with the rest of it (from
which it is disjoint): every allowance follows the sizes compared; only a series' levels
are compared with the reference stretch whose difference from the holdout is their null.
Series: the same on each channel's increments and on its levels, every series test at the
effective sizes of autocorrelated values (`stats.effective_size`; for means the long-run
variance, `stats.mean_size`); a level difference counts only beyond twice the difference
between the reference's own two stretches (a drifting series differs in level between any
two), and the joint mean of the levels only where those stretches agree
(`features.levels`). Panels (one series per entity) add the distribution of per-entity
summaries and the entities outside the reference entities' range (`panel`).
Text: total variation of the token unigram distribution (the reference's 1000 most
frequent tokens and the rest as one bucket) on equal token budgets, and the tests above on
document lengths. Each KS excess scores ``100 exp(-excess / 0.1)``; the dimension is the
lower of the joint tests and the column aggregate (`stats.aggregate_columns`: half the
worst column, half the mean of the worst quarter).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features, panel
from ..inputs import Comparison
from ..marginals import (
    MEAN_SCALE,
    SCALE,
    SPREAD_SCALE,
    categorical_distance,
    numeric_distance,
    series_distance,
)
from ..sensitivity import effect, effects, middle, needed_excess
from ..stats import (
    MIN_ROWS,
    adjusted_z,
    decay_score,
    finite,
    joint_mean_shift,
    lowest_part,
    mean_size,
    squared_deviations,
    tv_noise,
)
from .base import missing_reference, not_evaluated, scored

NAME = "distribution_fidelity"
#: KS, mean and spread: the tests per column that share the noise level.
TESTS_PER_COLUMN = 3
VOCABULARY = 1000


def _joint(
    cand: np.ndarray, ref: np.ndarray, z: float, sizes: tuple[float, float] | None = None
) -> dict[str, Any] | None:
    """`stats.joint_mean_shift` of rows of finite values (`features.value_rows`), scored."""
    if min(len(cand), len(ref)) < MIN_ROWS:
        return None
    found = joint_mean_shift(cand, ref, z, sizes)
    if found is not None:
        found.update(joint=True, score=decay_score(found["mean_excess"], MEAN_SCALE))
    return found


def _joint_spread(cand: np.ndarray, ref: np.ndarray, z: float) -> dict[str, Any] | None:
    """A change of spread shared by many columns: `_joint` on `stats.squared_deviations`,
    whose covariance carries the columns' kurtosis and how their spreads move together."""
    return _joint(squared_deviations(cand), squared_deviations(ref), z)


def _entity_parts(cmp: Comparison, side: str, z: float) -> dict[str, dict[str, Any]]:
    """A panel's entity summaries (`panel.summary_shift`) and its outlying entities
    (`panel.outlying_entities`, a test of every entity at once)."""
    out = panel.summary_shift(cmp, side, z)
    outliers = panel.outlying_entities(cmp, side, z)
    if outliers is not None:
        score = decay_score(outliers["counted_excess_sd"], MEAN_SCALE)
        out["entities (outlying)"] = {**outliers, "joint": True, "score": score}
    return out


def column_scores(cmp: Comparison, side: str) -> dict[str, dict[str, Any]]:
    z = adjusted_z(cmp.config.z, TESTS_PER_COLUMN * len(cmp.kinds) + 1)
    base = features.baseline(side)
    out: dict[str, dict[str, Any]] = {}
    if cmp.modality == "time_series":
        cand, ref = features.increments(cmp, side), features.increments(cmp, base)
        # levels are held to the reference stretch their null (the holdout) was measured on
        rows = {s: features.value_rows(cmp, s) for s in (side, "reference", "holdout")}
        compare_levels = min(len(r) for r in rows.values()) >= MIN_ROWS
        for j, column in enumerate(cmp.numeric_columns):
            if cand.shape[0] >= 2 and ref.shape[0] >= 2:
                out[column] = series_distance(cand[:, j], ref[:, j], z)
            if compare_levels:
                ref_j = rows["reference"][:, j]
                null = series_distance(rows["holdout"][:, j], ref_j, z)
                out[f"{column} (level)"] = series_distance(rows[side][:, j], ref_j, z, null)
        if cmp.entity_column is not None:
            out.update(_entity_parts(cmp, side, z))
        levels = features.levels(cmp, side), features.levels(cmp, base)
        if levels[0] is not None and len(levels[0]) and len(levels[1]):
            sizes = tuple(min(mean_size(x[:, j]) for j in range(x.shape[1])) for x in levels)
            joint = _joint(levels[0], levels[1], z, sizes)
            if joint is not None:
                out["levels (joint mean)"] = joint
        return out
    for column in cmp.numeric_columns:
        cand = finite(features.values(cmp, side, column))
        ref = finite(features.values(cmp, base, column))
        if cand.size >= 2 and ref.size >= 2:
            out[column] = numeric_distance(cand, ref, z)
    rows = features.value_rows(cmp, side), features.value_rows(cmp, base)
    for name, test in (("joint mean", _joint), ("joint spread", _joint_spread)):
        found = test(*rows, z)
        if found is not None:
            out[f"numeric columns ({name})"] = found
    for column in cmp.categorical_columns:
        out[column] = categorical_distance(
            features.labels(cmp, side, column), features.labels(cmp, base, column), z
        )
    return out


def text_scores(cmp: Comparison, side: str) -> dict[str, dict[str, Any]]:
    z = cmp.config.z
    budget = features.common_token_budget(cmp, (side, "reference"))
    ref_counts = features.token_counts(cmp, "reference", budget)
    cand_counts = features.token_counts(cmp, side, budget)
    vocabulary = [t for t, _ in ref_counts.most_common(VOCABULARY)]
    p_ref = np.array([ref_counts[t] for t in vocabulary] + [0.0]) / max(1, budget)
    p_cand = np.array([cand_counts[t] for t in vocabulary] + [0.0]) / max(1, budget)
    p_ref[-1], p_cand[-1] = 1 - p_ref[:-1].sum(), 1 - p_cand[:-1].sum()
    tv = float(0.5 * np.abs(p_ref - p_cand).sum())
    noise = tv_noise(p_ref, budget, budget, z)
    lengths = [
        np.array([len(d) for d in features.tokens(cmp, s)], float) for s in (side, "reference")
    ]
    out = {
        "token_unigrams": {
            "tv": tv,
            "tv_noise": noise,
            "tokens_compared": budget,
            "score": decay_score(tv - noise, SCALE),
        },
    }
    if lengths[0].size >= 2 and lengths[1].size >= 2:
        out["document_length"] = numeric_distance(lengths[0], lengths[1], z)
    return out


def dimension_score(cmp: Comparison, side: str) -> tuple[float, dict[str, Any]]:
    """The lower of the column aggregate and the joint tests (`stats.lowest_part`)."""
    per = text_scores(cmp, side) if cmp.modality == "text" else column_scores(cmp, side)
    columns = [v["score"] for v in per.values() if not v.get("joint")]
    joint = [v["score"] for v in per.values() if v.get("joint")]
    return lowest_part(columns, joint, default=100.0), per


def detectable(per: dict[str, dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The smallest shift of mean, spread and category shares (in every column) and the
    smallest single-entity shift of a panel that would fail the dimension."""
    columns = [v for v in per.values() if not v.get("joint")]
    mean = middle(c.get("mean_allowance") for c in columns)
    spread = middle(c.get("scale_allowance") for c in columns)
    shares = middle(c.get("tv_noise") for c in columns)
    entity = middle([(per.get("entities (outlying)") or {}).get("bound_sd")])
    return effects(
        effect(
            "mean_shift",
            None if mean is None else mean + needed_excess(MEAN_SCALE, threshold),
            "reference sd",
            "no mean shift above {:.2f} sd",
        ),
        effect(
            "spread_ratio",
            None if spread is None else math.exp(spread + needed_excess(SPREAD_SCALE, threshold)),
            "ratio of standard deviations",
            "no change of spread beyond x{:.2f}",
        ),
        effect(
            "category_shares",
            None if shares is None else shares + needed_excess(SCALE, threshold),
            "total variation distance",
            "no change of category shares above {:.2f} (total variation)",
        ),
        effect(
            "entity_shift",
            None if entity is None else entity + needed_excess(MEAN_SCALE, threshold),
            "reference-entity sd",
            "no single entity shifted beyond {:.1f} entity sd",
        ),
    )


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "marginals are compared with real data")
    score, per = dimension_score(cmp, "candidate")
    if not per:
        return not_evaluated(cmp, NAME, "no column with enough values on both sides")
    holdout, _ = dimension_score(cmp, "holdout")
    worst = sorted(per, key=lambda c: per[c]["score"])[:5]
    sensitivity = detectable(per, cmp.config.threshold(NAME, cmp.modality))
    return scored(
        cmp,
        NAME,
        score,
        {
            "columns": per,
            "worst_columns": worst,
            "holdout_score": holdout,
            "aggregation": "the lower of the joint tests and the column aggregate (half "
            "the worst column, half the mean of the worst quarter)",
            "sensitivity": sensitivity,
        },
    )
