"""Rows outside the reference's support: out-of-distribution and shifted rows.

Two statistics, each against the reference rows judged the same way (each held out in turn
against the others: a real row compared with the same reference):

* neighbours: the mean distance to the `support_k` nearest reference rows on the embedding;
* columns (tables): each value's two-sided tail p-value within its column of the reference
  (`pvalues.upper_tail_pvalues` on each side; a category's frequency there, plus one, over
  the rows, plus one), and the row's -log of its smallest one: a row far out on one column
  stands out even when the other columns dilute its distance.

Each becomes a p-value through the upper-tail model fitted on the reference's values; the
row's p-value is twice the smaller (Bonferroni). Without a reference the candidate's own
rows set both nulls (only rows far outside the candidate's own bulk stand out). The column
with the smallest tail p-value is named as the affected one when it is below `COLUMN_P`.
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


def support_evidence(view: RowView, emb: Embeddings, config: LocalizeConfig) -> Evidence:
    k = config.support_k
    if emb.has_reference:
        distances = neighbors.search(emb.reference, emb.candidate, k, config.seed)[0].mean(axis=1)
        null = neighbors.nearest_others(emb.reference, k, config.seed)[0].mean(axis=1)
        baseline = f"the reference's own distances, each row held out ({len(null)} rows)"
    else:
        distances = neighbors.nearest_others(emb.candidate, k, config.seed)[0].mean(axis=1)
        null = distances
        baseline = "none (no reference): the candidate's own rows"
    p = upper_tail_pvalues(distances, null)
    columns = {"support_distance": distances.astype(np.float64)}
    top = None
    if view.modality == "tabular" and view.cmp.kinds:
        extremity, smallest, names = _column_tails(view, "candidate")
        top = np.asarray(names, dtype=object)[np.argmin(smallest, axis=1)]
        top[smallest.min(axis=1) >= COLUMN_P] = None
        null_extremity = _column_tails(view, "reference")[0] if emb.has_reference else extremity
        p = np.minimum(1.0, 2 * np.minimum(p, upper_tail_pvalues(extremity, null_extremity)))
        columns["support_column_extremity"] = extremity
    affected = [view.cmp.text_column] if view.cmp.text_column else []
    return Evidence(
        NAME,
        "out_of_distribution",
        p,
        columns=columns,
        affected_columns=affected,
        row_columns=top,
        summary={"k": k, "baseline": baseline, "statistics": ["neighbours", "columns"]},
    )


def _column_tails(view: RowView, side: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(-log smallest p, per-column two-sided tail p-values, column names) of `side`'s rows
    ("candidate": every row, file order; "reference": the whole reference sample) against
    the whole reference sample (the candidate itself without a reference)."""
    if view.cmp.has_reference:
        base_cmp, base = view.cmp, features.FULL_REFERENCE
    else:
        base_cmp, base = view.full, "candidate"
    cmp, side = (view.full, "candidate") if side == "candidate" else (base_cmp, base)
    names = view.cmp.numeric_columns + view.cmp.categorical_columns
    tails = []
    for column in view.cmp.numeric_columns:
        real = features.values(base_cmp, base, column)
        x = features.table(cmp, side).column(column).to_numpy(zero_copy_only=False)
        x = x.astype(np.float64)
        both = np.minimum(upper_tail_pvalues(x, real), upper_tail_pvalues(-x, -real))
        tails.append(np.where(np.isfinite(x), np.minimum(1.0, 2 * both), 1.0))
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
