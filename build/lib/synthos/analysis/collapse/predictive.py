"""Models that predict one column of a table from the others, shared by the dimensions that
ask whether the candidate keeps what the reference teaches (`generalization_gap`'s
train-synthetic-test-real, `correlation_preservation`'s target dependence)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import features
from .inputs import Comparison

PROBABILITY_FLOOR = 1e-3
TREES = 40


def trees(classifier: bool, seed: int, rows: int, classes: int = 2):
    """Boosted trees with a budget of about 40 trees: a multiclass model grows one tree per
    class and round, so it gets fewer rounds. Leaves hold at least a twentieth of the rows
    (2 to 20): the library's default of 20 leaves a model of a few dozen rows unsplit."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if classifier else HistGradientBoostingRegressor
    rounds = max(10, TREES // classes) if classes > 2 else TREES
    return cls(
        max_iter=rounds,
        max_leaf_nodes=15,
        max_bins=32,
        min_samples_leaf=int(np.clip(rows // 20, 2, 20)),
        early_stopping=False,
        random_state=seed,
    )


def design(cmp: Comparison, side: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    data = features.table(cmp, side)
    blocks = []
    for column in cmp.kinds:
        if column == target:
            continue
        if cmp.kinds[column] == "numeric":
            blocks.append(data.column(column).to_numpy(zero_copy_only=False).astype(np.float64))
        else:
            known = np.unique(features.labels(cmp, "reference", column))
            levels = {v: i for i, v in enumerate(known)}
            observed = features.labels(cmp, side, column)
            blocks.append(np.array([levels.get(v, np.nan) for v in observed], dtype=np.float64))
    x = np.column_stack(blocks) if blocks else np.zeros((data.num_rows, 0))
    if cmp.kinds[target] == "numeric":
        y = data.column(target).to_numpy(zero_copy_only=False).astype(np.float64)
        keep = np.isfinite(y)
        return x[keep], y[keep]
    return x, features.labels(cmp, side, target).astype(str)


def row_losses(model: Any, classifier: bool, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row log-loss (probabilities floored at 1e-3) or squared error on the test rows."""
    if not classifier:
        return (model.predict(x) - y) ** 2
    proba = model.predict_proba(x)
    column = {label: i for i, label in enumerate(model.classes_)}
    picked = np.array(
        [proba[i, column[label]] if label in column else 0.0 for i, label in enumerate(y)]
    )
    return -np.log(np.maximum(picked, PROBABILITY_FLOOR))


def chance_losses(classifier: bool, y_train: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Losses of predicting without features: the training prior, or the training mean."""
    if not classifier:
        return (y_test - y_train.mean()) ** 2
    labels, counts = np.unique(y_train, return_counts=True)
    prior = dict(zip(labels, counts / counts.sum(), strict=True))
    return -np.log(np.maximum([prior.get(v, 0.0) for v in y_test], PROBABILITY_FLOOR))
