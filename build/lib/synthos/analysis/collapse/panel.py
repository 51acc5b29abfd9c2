"""Panels: one series per entity (an entity key plus a time index).

Statistics within entities (increments, autocorrelation, spectra, windows) are pooled over
entities by `features.segments`; this module adds what only a panel has:

* entity summaries: per entity and value column, its level (mean value; of the logarithm
  when the reference's values are all positive, as sales and counts are, whose entities
  differ by factors) and its spread (log standard deviation of its increments).
* `summary_shift`: the candidate's distribution of entity summaries against the
  reference's (`marginals.numeric_distance`, one draw per entity).
* `outlying_entities`: each candidate entity's summary against the reference entities'
  (prediction interval of a normal sample: ``t sqrt(1 + 1/m)`` reference sds, t at the
  family-wise level over entities and summaries): an entity whose level moved names itself,
  where the distribution of many entities barely moves. Its excess counts beyond
  NULL_FACTOR times the real holdout entities' own.
* `copied_entities`: candidate entities whose whole series equals a reference entity's,
  against the reference entities that have a twin among themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from . import features
from .inputs import Comparison
from .marginals import numeric_distance
from .stats import NULL_FACTOR, binomial_noise, two_sided_alpha

#: Entities a side needs before its summaries are compared.
MIN_ENTITIES = 5


def _by_entity(cmp: Comparison, side: str) -> tuple[list[str], list[np.ndarray]]:
    data = features.table(cmp, side)
    owners = features.entities(cmp, side)
    values = np.column_stack(
        [
            data.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in cmp.numeric_columns
        ]
    )
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return [str(owners[i]) for i in starts], np.split(values, starts[1:])


def summaries(cmp: Comparison, side: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Entity names and, per summary ("level of X", "spread of X"), one value per entity
    (NaN where an entity has too few values)."""

    def build() -> tuple[list[str], dict[str, np.ndarray]]:
        names, series = _by_entity(cmp, side)
        ref = features.value_rows(cmp, features.base_side(cmp))
        out: dict[str, np.ndarray] = {}
        for j, column in enumerate(cmp.numeric_columns):
            positive = ref.size > 0 and bool(np.all(ref[:, j] > 0))
            levels, spreads = [], []
            for values in series:
                x = values[:, j][np.isfinite(values[:, j])]
                if positive:
                    x = np.log(x[x > 0])
                levels.append(float(x.mean()) if x.size else np.nan)
                steps = np.diff(values[:, j])
                steps = steps[np.isfinite(steps)]
                sd = float(steps.std()) if steps.size >= 2 else 0.0
                spreads.append(math.log(sd) if sd > 0 else np.nan)
            scale = "log level" if positive else "level"
            out[f"{scale} of {column}"] = np.array(levels)
            out[f"spread of {column}"] = np.array(spreads)
        return names, out

    return features.cached(cmp, ("entity_summaries", side), build)


def summary_shift(cmp: Comparison, side: str, z: float) -> dict[str, dict[str, Any]]:
    """Per summary, `numeric_distance` of `side`'s entities against its baseline's."""

    _, cand = summaries(cmp, side)
    _, ref = summaries(cmp, features.baseline(side))
    out = {}
    for name, values in cand.items():
        a, b = values[np.isfinite(values)], ref[name][np.isfinite(ref[name])]
        if min(a.size, b.size) >= MIN_ENTITIES:
            out[f"entities: {name}"] = numeric_distance(a, b, z)
    return out


def _outliers(
    cmp: Comparison, side: str, base: str, z: float
) -> tuple[float, list[dict], float | None]:
    """The largest excess (in reference-entity sds) of `side`'s entities beyond the
    prediction interval of `base`'s, the entities beyond it, and the interval's half-width
    (reference-entity sds)."""
    names, cand = summaries(cmp, side)
    _, ref = summaries(cmp, base)
    tests = max(1, len(names) * len(cand))
    alpha = two_sided_alpha(z) / tests
    worst, found, bounds = 0.0, [], []
    for stat, values in cand.items():
        b = ref[stat][np.isfinite(ref[stat])]
        if b.size < MIN_ENTITIES or np.std(b, ddof=1) <= 0:
            continue
        centre, sd = float(b.mean()), float(np.std(b, ddof=1))
        bound = float(sps.t.isf(alpha / 2, b.size - 1)) * math.sqrt(1 + 1 / b.size)
        bounds.append(bound)
        for name, value in zip(names, values, strict=True):
            if not np.isfinite(value):
                continue
            distance = abs(value - centre) / sd
            excess = distance - bound
            worst = max(worst, excess)
            if excess > 0:
                found.append(
                    {
                        "entity": name,
                        "summary": stat,
                        "value": float(value),
                        "reference_mean": centre,
                        "reference_sd": sd,
                        "distance_sd": distance,
                        "bound_sd": bound,
                    }
                )
    found.sort(key=lambda item: -item["distance_sd"])
    return max(0.0, worst), found, (float(np.median(bounds)) if bounds else None)


def outlying_entities(cmp: Comparison, side: str, z: float) -> dict[str, Any] | None:
    """Candidate (or holdout) entities beyond the reference entities' prediction interval,
    the excess beyond NULL_FACTOR times the holdout's own (candidates only)."""
    names, _ = summaries(cmp, side)
    if not names or len(summaries(cmp, features.baseline(side))[0]) < MIN_ENTITIES:
        return None
    excess, found, bound = _outliers(cmp, side, features.baseline(side), z)
    null = 0.0
    if side == "candidate":
        null = _outliers(cmp, "holdout", "reference", z)[0]
    return {
        "entities_tested": len(names),
        "bound_sd": bound,
        "outlying": found[:10],
        "excess_sd": excess,
        "holdout_excess_sd": null,
        "counted_excess_sd": max(0.0, excess - NULL_FACTOR * null),
    }


def copied_entities(cmp: Comparison) -> tuple[dict[str, Any], dict[str, float]]:
    """Candidate entities whose whole series (every value column, in time order) equals a
    reference entity's."""

    def fingerprints(side: str) -> list[bytes]:
        return [np.ascontiguousarray(v).tobytes() for v in _by_entity(cmp, side)[1]]

    cand, real = fingerprints("candidate"), fingerprints(features.FULL_REFERENCE)
    if len(cand) < 2 or len(real) < 2:
        return {}, {}
    known = set(real)
    copied = [i for i, f in enumerate(cand) if f in known]
    counts: dict[bytes, int] = {}
    for f in real:
        counts[f] = counts.get(f, 0) + 1
    twins = sum(c for c in counts.values() if c >= 2) / len(real)
    share = len(copied) / len(cand)
    names = _by_entity(cmp, "candidate")[0]
    evidence = {
        "copied_entities": {
            "candidate_share": share,
            "reference_share_with_a_twin": twins,
            "entities": {"candidate": len(cand), "reference": len(real)},
            "copied": [names[i] for i in copied[:10]],
        }
    }
    allowed = twins + binomial_noise(twins, len(cand), cmp.config.z)
    evidence["copied_entities"]["allowed_share"] = allowed
    return evidence, {"copied_entities": max(0.0, share - allowed)}
