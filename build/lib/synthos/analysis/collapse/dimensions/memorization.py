"""memorization: exact and near duplicates, and copies of reference rows.

Exact duplicates and exact copies of reference rows are counted over every row (engine
hashing, see `inputs`): the duplicate rate against the reference's at the same number of
rows (it grows with rows drawn), the copy rate against the share of reference rows that
have a twin in the reference (what a fresh real row meets). A series is judged on its
windows of increments only (repeated values are normal in a series). Near copies use the
distance to closest record (DCR) on the embedding, as the ratio nearest / second-nearest
reference record (scale-free: a copy is far closer to one record than to the next, a row
in a dense region is not): the share of candidate rows under the 5th percentile of an
equal real holdout's ratios, against the holdout's own share; near duplicates within the
candidate the same way with within-set neighbours, against as many real rows. Each rate
counts beyond the real data's own rate (the reference's duplicate rate, the holdout's
share) plus z binomial standard errors; the dimension scores ``100 exp(-worst excess /
0.05)``: 5 % of rows memorised beyond what real data shows gives 37.

A series is also searched for copied stretches: every window of a few standardised increments
(`segment_steps`, stride 1) is matched with the reference's windows and with the
candidate's own windows that do not overlap it; a window whose nearest match is under
`SEGMENT_RATIO` x its fourth nearest is a copied stretch. The share of steps such windows
cover is compared with what a real stretch shows (the holdout against the reference, its
rate scaled by the number of windows searched; the reference's own repeats over as many
steps), counting steps a window apart as one draw.

A panel's candidate entities whose whole series equals a reference entity's are copies
too (`panel.copied_entities`), against the reference entities with a twin among themselves.

Without a reference only the candidate's own duplicates are measured: the exact
duplicate rate over every row and, on the sample, rows whose nearest other row is within
0.01 of the distance to the second nearest; real data's own rate is unknown there, so
any duplication counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import features, neighbors, panel
from ..inputs import Comparison
from ..sensitivity import effect, effects, needed_excess
from ..stats import binomial_noise, decay_score, two_sided_alpha
from .base import not_evaluated, scored

NAME = "memorization"
SCALE = 0.05
DCR_QUANTILE = 0.05
NEAR_RATIO = 0.01
#: Nearest over second-nearest distance under which two rows of one set are near twins.
WITHIN_RATIO = 0.1
MIN_HOLDOUT_FOR_MINIMUM = 100
#: Values per window in the search for copied stretches of a series (steps x channels),
#: and the bounds on its steps.
SEGMENT_VALUES = 12
SEGMENT_STEPS = (2, 8)
#: Nearest over SEGMENT_NEIGHBOURS-th nearest distance under which a window is a copy.
SEGMENT_RATIO = 0.1
SEGMENT_NEIGHBOURS = 4
#: Windows per side in that search (a contiguous stretch, so copies keep their alignment).
SEGMENT_WINDOWS = 10_000


def distance_ratio(distances: np.ndarray) -> np.ndarray:
    """Nearest over second-nearest distance (0 for an exact match): a copy sits much closer
    to one record than to the next, whereas rows that are merely in a denser region (a
    shrunken variance) are closer to all their neighbours alike."""
    first, second = distances[:, 0], distances[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(second > 0, first / second, 0.0)
    return np.where(first <= 0, 0.0, ratio)


def _close_share(
    cand: np.ndarray,
    hold: np.ndarray,
    z: float,
    n_cand: float,
    n_hold: float,
    independent: bool,
) -> dict[str, Any]:
    """How many candidate ratios fall unusually low, against the real holdout, at two cuts:
    the holdout's 5th percentile (its own share there is the baseline), and below every
    holdout ratio, where as many candidate rows land as lead the pooled order before the
    first holdout row when both come from one distribution (exchangeability: a geometric
    count). The second cut sees a few percent of copies that the first, coarse on small
    holdouts, cannot. The excess is the larger of the two, each beyond its noise. The
    second cut needs 100 holdout rows and `independent` ratios: distances to a fixed
    reference are, but within one set they are not (close pairs come in twos), so
    within-set ratios count as half as many draws and use a fixed cut, `WITHIN_RATIO`
    (the 5th percentile of a few hundred real ratios is too erratic a line for pairs)."""
    if not independent:
        n_cand, n_hold = n_cand / 2, n_hold / 2
    cut = float(np.quantile(hold, DCR_QUANTILE)) if independent else WITHIN_RATIO
    share_c, share_h = float(np.mean(cand <= cut)), float(np.mean(hold <= cut))
    noise = math.hypot(binomial_noise(share_h, n_hold, z), binomial_noise(share_h, n_cand, z))
    excess = max(0.0, share_c - share_h - noise)
    floor = float(hold.min())
    below = float(np.mean(cand < floor))
    # Holdout ties at 0 are real duplicates, which hashing judges; a small holdout's
    # minimum is too erratic a line.
    if independent and floor > 0 and n_hold >= MIN_HOLDOUT_FOR_MINIMUM:
        # Candidate rows below the holdout's minimum, when both sets come from one
        # distribution, are the candidate rows that lead the pooled order before the first
        # holdout row: a geometric count, P(count >= k) = (n / (n + m))^k.
        lead = n_cand / (n_cand + n_hold)
        allowed = math.log(two_sided_alpha(z) / 2) / math.log(lead)
        excess = max(excess, below - allowed / n_cand)
    return {
        "cut": cut,
        "allowed_share": share_h + noise,
        "candidate_share": share_c,
        "holdout_share": share_h,
        "candidate_share_below_holdout_minimum": below,
        "excess": excess,
        "candidate_median_ratio": float(np.median(cand)),
        "holdout_median_ratio": float(np.median(hold)),
    }


def _exact_with_reference(cmp: Comparison) -> tuple[dict[str, Any], dict[str, float]]:
    z, counts = cmp.config.z, cmp.counts
    n_c, n_r, n = counts["candidate_rows"], counts["reference_rows"], counts["matched_rows"]
    dup = counts["candidate_matched_duplicate_rows"] / n
    dup_base = counts["reference_matched_duplicate_rows"] / n
    copy = counts["copied_reference_rows"] / n_c
    copy_base = counts["reference_rows_in_duplicate_groups"] / n_r
    evidence = {
        "exact_duplicate_rate": counts["candidate_duplicate_rows"] / n_c,
        "matched_duplicate_rate": {"candidate": dup, "reference": dup_base, "rows": n},
        "exact_copy_rate": copy,
        "reference_rows_with_a_twin": copy_base,
        "rows_hashed": {"candidate": n_c, "reference": n_r},
    }
    allowed = {
        "exact_duplicates": dup_base + binomial_noise(dup_base, n, z),
        "exact_copies": copy_base + binomial_noise(copy_base, n_c, z),
    }
    evidence["allowed_rates"] = allowed
    excess = {
        "exact_duplicates": max(0.0, dup - allowed["exact_duplicates"]),
        "exact_copies": max(0.0, copy - allowed["exact_copies"]),
    }
    return evidence, excess


def segment_steps(channels: int, longest: int | None = None) -> int:
    """Steps per window: enough values that a chance match between real stretches is
    negligible, short enough to fall inside a copied season (and inside a panel's entity
    series, `longest` steps)."""
    steps = int(np.clip(math.ceil(SEGMENT_VALUES / max(1, channels)), *SEGMENT_STEPS))
    return steps if longest is None else max(SEGMENT_STEPS[0], min(steps, longest))


def segment_ratios(
    base: np.ndarray, queries: np.ndarray, steps: int, within: bool, search=neighbors.search
) -> np.ndarray:
    """Nearest over `SEGMENT_NEIGHBOURS`-th nearest distance of each query window among
    `base`'s windows (a stretch pasted several times still stands out from the rest);
    `within` (queries are base itself): windows overlapping the query do not count.
    `search(base, queries, k)` finds the neighbours (exact by default)."""
    k = SEGMENT_NEIGHBOURS + (2 * steps - 1 if within else 0)
    distances, ids = search(base, queries, k)
    if within:
        overlapping = np.abs(ids - np.arange(len(queries))[:, None]) < steps
        distances = np.sort(np.where(overlapping | (ids < 0), np.inf, distances), axis=1)
    first, last = distances[:, 0], distances[:, SEGMENT_NEIGHBOURS - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(last > 0, first / last, 0.0)
    return np.where(np.isfinite(last), ratios, 1.0)


def _covered_steps(ratios: np.ndarray, steps: int) -> float:
    """Share of a stretch's values inside at least one window matched as a copy."""
    values = len(ratios) + steps
    marks = np.zeros(values + 1)
    starts = np.flatnonzero(ratios < SEGMENT_RATIO)
    np.add.at(marks, starts, 1)
    np.add.at(marks, starts + steps + 1, -1)
    return float(np.mean(np.cumsum(marks)[:values] > 0))


def _series_segments(cmp: Comparison) -> tuple[dict[str, Any], dict[str, float]]:
    """Copied stretches of a series: of the reference, and of the candidate itself."""
    panel = cmp.entity_column is not None
    steps = segment_steps(len(cmp.numeric_columns), features.segment_length(cmp) if panel else None)

    def windows(side: str) -> np.ndarray:
        return features.series_windows(cmp, side, length=steps)[:SEGMENT_WINDOWS]

    def covered(base: np.ndarray, queries: np.ndarray, within: bool = False) -> float:
        return _covered_steps(segment_ratios(base, queries, steps, within), steps)

    cand, ref = windows("candidate"), windows("reference")
    hold, full = windows("holdout"), windows(features.FULL_REFERENCE)
    if min(len(cand), len(ref), len(hold)) < 2 * steps + 3:
        return {}, {}
    z = cmp.config.z
    draws = len(cand) / steps + 1
    copies = covered(full, cand)
    # chance matches grow with the windows searched: the reference holds fewer than `full`
    chance = min(1.0, covered(ref, hold) * len(full) / len(ref))
    size = min(len(cand), len(full))
    repeats = covered(cand[:size], cand[:size], within=True)
    real = covered(full[:size], full[:size], within=True)
    evidence = {
        "series_segments": {
            "copied_steps": {"candidate": copies, "real_stretch": chance},
            "repeated_steps": {"candidate": repeats, "reference": real},
            "window_steps": steps,
            "windows": {"candidate": len(cand), "reference": len(full)},
            "allowed_shares": {
                "copied_segments": chance + binomial_noise(chance, draws, z),
                "repeated_segments": real + binomial_noise(real, draws, z),
            },
        }
    }
    allowed = evidence["series_segments"]["allowed_shares"]
    excess = {
        "copied_segments": max(0.0, copies - allowed["copied_segments"]),
        "repeated_segments": max(0.0, repeats - allowed["repeated_segments"]),
    }
    return evidence, excess


def _nearest_records(cmp: Comparison) -> tuple[dict[str, Any], dict[str, float]]:
    """Near copies of reference rows (DCR ratios) and near duplicates within the candidate."""
    z, seed, cap = cmp.config.z, cmp.config.seed, cmp.config.knn_rows
    # Distance ratios do not depend on how densely a set is sampled, so the candidate keeps
    # all its sampled rows (a near-duplicate pair survives subsampling only if both do).
    ref = features.subsample(features.embedding(cmp, "reference"), cap, seed)
    cand = features.subsample(features.embedding(cmp, "candidate"), cap, seed + 1)
    hold = features.subsample(features.embedding(cmp, "holdout"), cap, seed + 2)
    if min(ref.shape[0], cand.shape[0], hold.shape[0]) < 3 or ref.shape[1] == 0:
        return {}, {}
    dcr = _close_share(
        distance_ratio(neighbors.knn(ref, cand, 2)),
        distance_ratio(neighbors.knn(ref, hold, 2)),
        z,
        len(cand),
        len(hold),
        independent=True,
    )
    # Within-set neighbours depend on the set's size (a natural near twin is likelier
    # among more rows), so the candidate is matched with an equal share of real rows.
    real = features.embedding(cmp, features.FULL_REFERENCE)
    size = min(len(cand), len(real))
    own = features.subsample(cand, size, seed + 3)
    real = features.subsample(real, size, seed + 4)
    near = _close_share(
        distance_ratio(neighbors.nearest_other(own, 2)),
        distance_ratio(neighbors.nearest_other(real, 2)),
        z,
        size,
        size,
        independent=False,
    )
    evidence = {
        "distance_to_closest_record": dcr,
        "near_duplicates": near,
        "knn_rows": {"reference": ref.shape[0], "candidate": cand.shape[0]},
    }
    return evidence, {"near_copies": dcr["excess"], "near_duplicates": near["excess"]}


def _with_reference(cmp: Comparison) -> dict[str, Any]:
    evidence: dict[str, Any] = {}
    excess: dict[str, float] = {}
    if "copied_reference_rows" in cmp.counts:
        evidence, excess = _exact_with_reference(cmp)
    # A series' copies are stretches, matched window by window.
    found, found_excess = (
        _series_segments(cmp) if cmp.modality == "time_series" else _nearest_records(cmp)
    )
    evidence.update(found)
    excess.update(found_excess)
    if cmp.entity_column is not None:
        found, found_excess = panel.copied_entities(cmp)
        evidence.update(found)
        excess.update(found_excess)
    evidence["excess"] = excess
    return evidence


def _without_reference(cmp: Comparison) -> dict[str, Any]:
    evidence: dict[str, Any] = {"baseline": "none (no reference): any duplication counts"}
    excess: dict[str, float] = {}
    if "candidate_duplicate_rows" in cmp.counts:
        n_c = cmp.counts["candidate_rows"]
        excess["exact_duplicates"] = cmp.counts["candidate_duplicate_rows"] / n_c
        evidence.update(exact_duplicate_rate=excess["exact_duplicates"], rows_hashed=n_c)
    rows = features.subsample(
        features.embedding(cmp, "candidate"), cmp.config.knn_rows, cmp.config.seed
    )
    if rows.shape[0] >= 4 and rows.shape[1] > 0:
        rate = float(np.mean(distance_ratio(neighbors.nearest_other(rows, 2)) <= NEAR_RATIO))
        evidence["near_duplicates"] = {
            "rate": rate,
            "rule": f"nearest other row within {NEAR_RATIO} x the distance to the second",
            "rows": rows.shape[0],
        }
        excess["near_duplicates"] = rate
    evidence["excess"] = excess
    return evidence


#: Each excess: where its allowed rate is in the evidence, and how a user reads it.
RATES = {
    "exact_duplicates": (
        ("allowed_rates", "exact_duplicates"),
        "no exact duplicate rows above {:.1%}",
    ),
    "exact_copies": (("allowed_rates", "exact_copies"), "no copied reference rows above {:.1%}"),
    "near_copies": (
        ("distance_to_closest_record", "allowed_share"),
        "no near copies of reference rows above {:.1%}",
    ),
    "near_duplicates": (
        ("near_duplicates", "allowed_share"),
        "no near-duplicate rows above {:.1%}",
    ),
    "copied_segments": (
        ("series_segments", "allowed_shares", "copied_segments"),
        "no copied stretches above {:.1%} of steps",
    ),
    "repeated_segments": (
        ("series_segments", "allowed_shares", "repeated_segments"),
        "no repeated stretches above {:.1%} of steps",
    ),
    "copied_entities": (
        ("copied_entities", "allowed_share"),
        "no copied entity series above {:.1%} of entities",
    ),
}


def detectable(
    evidence: dict[str, Any], threshold: float, with_reference: bool
) -> list[dict[str, Any]]:
    """Per kind of memorisation, the rate that fails the dimension: the real data's own
    rate plus its noise (0 without a reference), plus the excess the threshold allows."""
    found = []
    for kind in evidence["excess"]:
        if kind not in RATES:
            continue
        path, text = RATES[kind]
        allowed: Any = evidence
        for key in path:
            allowed = allowed.get(key) if isinstance(allowed, dict) else None
        base = allowed if with_reference else 0.0
        if base is not None:
            rate = min(1.0, base + needed_excess(SCALE, threshold))
            found.append(effect(kind, rate, "share of rows", text))
    return effects(*found)


def evaluate(cmp: Comparison):
    if cmp.has_reference:
        evidence = _with_reference(cmp)
    else:
        evidence = _without_reference(cmp)
        evidence["note"] = cmp.notes.get("self_comparison", "no reference dataset")
    excess = evidence["excess"]
    if not excess:
        return not_evaluated(cmp, NAME, "too few rows to look for duplicates")
    worst = max(excess, key=excess.get)
    evidence["worst"] = worst
    threshold = cmp.config.threshold(NAME, cmp.modality)
    evidence["sensitivity"] = detectable(evidence, threshold, cmp.has_reference)
    return scored(cmp, NAME, decay_score(excess[worst], SCALE), evidence)
