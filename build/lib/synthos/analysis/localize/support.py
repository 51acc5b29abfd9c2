"""Rows outside the reference's support: out-of-distribution and shifted rows.

Up to three statistics, each against the reference rows judged the same way (each held out
in turn against the others: a real row compared with the same reference):

* neighbours: the mean distance to the `support_k` nearest reference rows on the embedding;
* directions (tables): the same on rows scaled to unit length (cosine distance): a row whose
  columns keep plausible values but no longer move together (a broken dependence) points
  where no real row does, while a row merely far out along the real rows' own direction
  does not;
* columns (tables): each value's two-sided normal tail p-value after a Yeo-Johnson transform
  fitted on its column of the reference (skewed and heavy-tailed columns come near a normal;
  a category's frequency there, plus one, over the rows, plus one), and the row's -log of
  its smallest one: a row far out on one column
  stands out even when the other columns dilute its distance. Its null is the holdout's
  rows against the reference part (a row is never judged against a sample that holds it).

Each becomes a p-value through the upper-tail model fitted on the reference's values; the
row's p-value is the smallest times their number (Bonferroni). Without a reference the
candidate's own rows set the nulls (only rows far outside the candidate's own bulk stand
out). The column with the smallest tail p-value is named as the affected one when it is
below `COLUMN_P`.
"""

from __future__ import annotations

import numpy as np

from synthos.analysis.collapse import features

from . import neighbors
from .config import LocalizeConfig
from .embeddings import Embeddings
from .evidence import Evidence
from .pvalues import upper_tail_pvalues
from .rows import RowView

NAME = "out_of_support"
#: Column tail p-value under which the column is named as the reason a row is out of support.
COLUMN_P = 1e-3


def _neighbour_pvalues(candidate: np.ndarray, reference: np.ndarray | None, k: int, seed: int):
    """Mean distance to the k nearest reference rows, and its p-value against each reference
    row's own (held out from the others); without a reference, the candidate's own."""
    if reference is not None:
        distances = neighbors.search(reference, candidate, k, seed)[0].mean(axis=1)
        null = neighbors.nearest_others(reference, k, seed)[0].mean(axis=1)
    else:
        distances = neighbors.nearest_others(candidate, k, seed)[0].mean(axis=1)
        null = distances
    return distances, upper_tail_pvalues(distances, null)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def support_evidence(view: RowView, emb: Embeddings, config: LocalizeConfig) -> Evidence:
    k, seed = config.support_k, config.seed
    reference = emb.reference if emb.has_reference else None
    distances, p_near = _neighbour_pvalues(emb.candidate, reference, k, seed)
    pvalues = [p_near]
    columns = {"support_distance": distances.astype(np.float64)}
    top = None
    if view.modality == "tabular" and view.cmp.kinds:
        angles, p_angle = _neighbour_pvalues(
            _unit(emb.candidate), None if reference is None else _unit(reference), k, seed
        )
        extremity, smallest, names = _column_tails(view, "candidate")
        top = np.asarray(names, dtype=object)[np.argmin(smallest, axis=1)]
        top[smallest.min(axis=1) >= COLUMN_P] = None
        null_extremity = _column_tails(view, "holdout")[0] if emb.has_reference else extremity
        pvalues += [p_angle, upper_tail_pvalues(extremity, null_extremity)]
        columns.update(support_direction_distance=angles, support_column_extremity=extremity)
    p = np.minimum(1.0, len(pvalues) * np.min(pvalues, axis=0))
    if emb.has_reference:
        baseline = f"the reference's own rows, each held out ({len(emb.reference)} rows)"
    else:
        baseline = "none (no reference): the candidate's own rows"
    affected = [view.cmp.text_column] if view.cmp.text_column else []
    statistics = ["neighbours", "directions", "columns"][: len(pvalues)]
    return Evidence(
        NAME,
        "out_of_distribution",
        p,
        columns=columns,
        affected_columns=affected,
        row_columns=top,
        summary={"k": k, "baseline": baseline, "statistics": statistics},
    )


def _numeric_tails(x: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Two-sided normal tail p-values of `x` after the Yeo-Johnson transform fitted on the
    reference's values (which brings skewed and heavy-tailed columns near a normal, so one
    tail model fits every column); 1 for a missing value or a constant column."""
    from scipy.stats import norm
    from sklearn.preprocessing import PowerTransformer

    finite = np.isfinite(x)
    if real.size < 3 or np.ptp(real) == 0:
        return np.ones_like(x)
    transform = PowerTransformer(method="yeo-johnson").fit(real[:, None])
    z = np.zeros_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        z[finite] = transform.transform(x[finite, None])[:, 0]
    z = np.nan_to_num(z, nan=np.inf, posinf=np.inf, neginf=-np.inf)
    return np.where(finite, np.minimum(1.0, 2 * norm.sf(np.abs(z))), 1.0)


def _column_tails(view: RowView, side: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(-log smallest p, per-column two-sided tail p-values, column names) of `side`'s rows:
    "candidate" (every row, file order) against the whole reference sample (the candidate
    itself without a reference); "holdout" (the null) against the reference part, so no
    row is judged against a distribution that holds it."""
    if side == "holdout":
        base_cmp, base, cmp = view.cmp, "reference", view.cmp
    elif view.cmp.has_reference:
        base_cmp, base, cmp = view.cmp, features.FULL_REFERENCE, view.full
    else:
        base_cmp, base, cmp = view.full, "candidate", view.full
    names = view.cmp.numeric_columns + view.cmp.categorical_columns
    tails = []
    for column in view.cmp.numeric_columns:
        real = features.values(base_cmp, base, column)
        x = features.table(cmp, side).column(column).to_numpy(zero_copy_only=False)
        tails.append(_numeric_tails(x.astype(np.float64), real))
    for column in view.cmp.categorical_columns:
        real = features.labels(base_cmp, base, column).astype(str)
        levels, counts = np.unique(real, return_counts=True)
        observed = features.labels(cmp, side, column).astype(str)
        at = np.clip(np.searchsorted(levels, observed), 0, len(levels) - 1)
        seen = np.where(levels[at] == observed, counts[at], 0)
        tails.append((seen + 1.0) / (len(real) + 1.0))
    matrix = np.column_stack(tails)
    if cmp is view.full:
        matrix = view.to_file_order(matrix)
    return -np.log(np.maximum(matrix.min(axis=1), 1e-300)), matrix, names
