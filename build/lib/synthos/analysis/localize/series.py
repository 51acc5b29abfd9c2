"""Time series: evidence on windows of steps, handed down to the steps they cover.

A series' rows are time steps, and a single step carries little evidence on its own; the
detector's memorization search already works on windows of a few standardised increments
(`segment_steps`, stride 1), which the localizer reuses for every window of the candidate:

* copied stretches (memorized): each window's nearest over its K-th nearest window of the
  whole reference (`segment_ratios`), against the holdout's windows matched with the
  reference part (`pvalues.ratio_pvalues`);
* repeated stretches (duplicate): the same within the candidate, windows overlapping the
  query excluded, against the holdout's own repeats (without a reference: the candidate's
  own ratios, any exact repeat counting);
* out-of-support stretches (out_of_distribution): a window's mean distance to its
  `support_k` nearest reference windows against the holdout's (upper-tail model).

A step's p-value (`to_steps`) is, for copies and repeats, the smallest p-value of the
windows that cover it times their number (Bonferroni over the windows that could have
flagged it); for out-of-support stretches the median over those windows. Repeated values
are normal in a series, so single rows are never hashed as duplicates.
"""

from __future__ import annotations

import numpy as np

from synthos.analysis.collapse import features
from synthos.analysis.collapse.dimensions.memorization import (
    segment_ratios,
    segment_steps,
)

from . import neighbors
from .config import LocalizeConfig
from .evidence import Evidence, Skipped
from .pvalues import ratio_pvalues, upper_tail_pvalues
from .rows import RowView


def _search(seed: int):
    return lambda base, queries, k: neighbors.search(base, queries, k, seed)


def to_steps(window_p: np.ndarray, steps: int, rows: int, rule: str = "min") -> np.ndarray:
    """Per step (time order), from the p-values of the windows covering it (the window
    starting at step i covers steps i..i+steps, its increments' ends): "min", the smallest
    times their number (a step is copied when any window over it is a copy); "median", the
    median (a step is out of support when most windows over it are: one wild increment
    would otherwise mark the window's every step)."""
    count = len(window_p)
    padded = np.concatenate([np.full(steps, np.nan), window_p, np.full(steps, np.nan)])
    covering = np.lib.stride_tricks.sliding_window_view(padded, steps + 1)
    if rule == "median":
        p = np.nanmedian(covering, axis=1)
    else:
        t = np.arange(len(covering))
        number = np.minimum(count - 1, t) - np.maximum(0, t - steps) + 1
        p = np.minimum(1.0, np.nanmin(covering, axis=1) * np.maximum(number, 1))
    out = np.ones(rows)
    out[: min(rows, len(p))] = p[:rows]
    return np.nan_to_num(out, nan=1.0)


def series_evidence(view: RowView, config: LocalizeConfig) -> tuple[list[Evidence], list[Skipped]]:
    channels = view.cmp.numeric_columns
    if not channels:
        return [], [Skipped("series_windows", "no numeric value column")]
    steps = segment_steps(len(channels))
    search = _search(config.seed)
    cand = features.series_windows(view.full, "candidate", length=steps)
    if len(cand) < 2 * steps + 3:
        return [], [Skipped("series_windows", f"fewer than {2 * steps + 3} windows")]
    rows = view.rows
    affected = list(channels)
    found: list[Evidence] = []
    skipped: list[Skipped] = []
    ref = hold = None
    if view.cmp.has_reference:
        ref = features.series_windows(view.cmp, "reference", length=steps)
        hold = features.series_windows(view.cmp, "holdout", length=steps)
        full = features.series_windows(view.cmp, features.FULL_REFERENCE, length=steps)
        if min(len(ref), len(hold)) >= 2 * steps + 3:
            ratios = segment_ratios(full, cand, steps, False, search)
            null = segment_ratios(ref, hold, steps, False, search)
            p = ratio_pvalues(ratios, null)
            found.append(_evidence(view, "copied_stretches", "memorized", p, ratios, steps))
        else:
            ref = hold = None
            skipped.append(Skipped("copied_stretches", "reference too short for windows"))
    else:
        skipped.append(Skipped("copied_stretches", "no reference"))
    ratios = segment_ratios(cand, cand, steps, True, search)
    if hold is not None:
        p = ratio_pvalues(ratios, segment_ratios(hold, hold, steps, True, search))
    else:
        p = ratio_pvalues(ratios, ratios[ratios > 0], twins=0.0)
    found.append(_evidence(view, "repeated_stretches", "duplicate", p, ratios, steps))
    k = config.support_k
    if ref is not None:
        distances = search(ref, cand, k)[0].mean(axis=1)
        null = search(ref, hold, k)[0].mean(axis=1)
    else:
        distances = neighbors.nearest_others(cand, k, config.seed)[0].mean(axis=1)
        null = distances
    p = upper_tail_pvalues(distances, null)
    found.append(
        _evidence(view, "out_of_support", "out_of_distribution", p, distances, steps, "median")
    )
    for evidence in found:
        evidence.affected_columns = affected
        evidence.summary.update(window_steps=steps, windows=len(cand), rows=rows)
    return found, skipped


def _evidence(
    view: RowView,
    name: str,
    issue: str,
    window_p: np.ndarray,
    stat: np.ndarray,
    steps: int,
    rule: str = "min",
) -> Evidence:
    p = to_steps(window_p, steps, view.rows, rule)
    per_step = np.full(view.rows, np.nan)
    per_step[: len(stat)] = stat
    return Evidence(
        name,
        issue,
        view.to_file_order(p),
        columns={f"{name}_window_statistic": view.to_file_order(per_step)},
        summary={
            "baseline": "the reference holdout's windows"
            if view.cmp.has_reference
            else "none (no reference): the candidate's own windows"
        },
    )
