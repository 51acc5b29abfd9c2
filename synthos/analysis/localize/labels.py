"""Label disagreement: rows whose target a model of the other columns does not believe.

Tables with a target: boosted trees (the detector's `predictive.trees`) predict the target
from the other analysed columns out of fold (`label_folds` folds over the candidate; each
fold's model trains on at most `label_rows` candidate rows of the other folds plus every
reference row of the sample, whose labels are trusted). Every row is predicted by a model
that never saw it.

Class targets: the p-value of the given label is the probability mass of the labels the
model finds less likely than it, plus half its own, sum_j p_j [p_j < p_given] + p_given / 2
(the mid-p conformal p-value: about uniform when the model is calibrated and the label
correct, small when the model is confident in another label, and still ordered where the
model prefers the given label). Numeric targets: the absolute out-of-fold residual's robust z-score
against the candidate's own residuals, through the upper-tail model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthos.analysis.collapse import features
from synthos.analysis.collapse.predictive import trees

from .config import LocalizeConfig
from .evidence import Evidence
from .pvalues import robust_z, upper_tail_pvalues
from .rows import RowView

NAME = "label_disagreement"
PROBABILITY_FLOOR = 1e-6


@dataclass
class LabelPredictions:
    """Out-of-fold predictions for every candidate row (file order).

    classes: the label order of `probabilities` (class targets); None for a numeric target.
    given: each row's label (strings) or value.
    probabilities: (rows, classes) out-of-fold probabilities, or None.
    predicted: the numeric prediction (numeric target), or None.
    """

    target: str
    classes: np.ndarray | None
    given: np.ndarray
    probabilities: np.ndarray | None
    predicted: np.ndarray | None


def label_target(view: RowView) -> str | None:
    """The target the label evidence judges (tables only), when it has a predictor."""
    target = view.cmp.target_column
    if view.modality != "tabular" or target is None or len(view.cmp.kinds) < 2:
        return None
    return target


def design(view: RowView, side: str, target: str) -> np.ndarray:
    """Predictors of `side` ("candidate": every row, in `full` order; else a sample side):
    numbers as they are, categories as codes of the reference's levels (NaN: unseen)."""
    cmp = view.full if side == "candidate" else view.cmp
    base = features.base_side(view.cmp)
    data = features.table(cmp, side)
    blocks = []
    for column, kind in view.cmp.kinds.items():
        if column == target:
            continue
        if kind == "numeric":
            blocks.append(data.column(column).to_numpy(zero_copy_only=False).astype(np.float64))
        else:
            known = np.unique(features.labels(view.cmp, base, column).astype(str))
            codes = pd.Categorical(features.labels(cmp, side, column).astype(str), known).codes
            blocks.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
    return np.column_stack(blocks)


def _targets(view: RowView, side: str, target: str, classifier: bool) -> np.ndarray:
    cmp = view.full if side == "candidate" else view.cmp
    if classifier:
        return features.labels(cmp, side, target).astype(str)
    return features.table(cmp, side).column(target).to_numpy(zero_copy_only=False).astype(float)


def cross_validated_predictions(view: RowView, config: LocalizeConfig) -> LabelPredictions:
    """Out-of-fold predictions of the target for every candidate row (module docstring)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    target = label_target(view)
    if target is None:
        raise ValueError("no target to predict")
    classifier = view.cmp.kinds[target] == "categorical"
    x = design(view, "candidate", target)
    y = _targets(view, "candidate", target, classifier)
    extra_x, extra_y = _reference_rows(view, target, classifier)
    rng = np.random.default_rng(config.seed)
    classes = np.unique(np.concatenate([y, extra_y])) if classifier else None
    proba = np.zeros((len(y), len(classes))) if classifier else None
    predicted = None if classifier else np.zeros(len(y))
    folds = min(config.label_folds, len(y))
    splitter = KFold(folds, shuffle=True, random_state=config.seed)
    if classifier and np.unique(y, return_counts=True)[1].min() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    for train, test in splitter.split(x, y):
        if len(train) > config.label_rows:
            train = np.sort(rng.choice(train, size=config.label_rows, replace=False))
        fit_x = np.vstack([x[train], extra_x])
        fit_y = np.concatenate([y[train], extra_y])
        n_classes = len(np.unique(fit_y)) if classifier else 0
        model = trees(classifier, config.seed, len(fit_y), max(2, n_classes))
        if classifier and n_classes < 2:
            proba[test, np.searchsorted(classes, fit_y[0])] = 1.0
            continue
        model.fit(fit_x, fit_y)
        if classifier:
            proba[np.ix_(test, np.searchsorted(classes, model.classes_))] = model.predict_proba(
                x[test]
            )
        else:
            predicted[test] = model.predict(x[test])
    return LabelPredictions(
        target,
        classes,
        view.to_file_order(y),
        None if proba is None else view.to_file_order(proba),
        None if predicted is None else view.to_file_order(predicted),
    )


def _reference_rows(view: RowView, target: str, classifier: bool):
    if not view.cmp.has_reference:
        return np.zeros((0, len(view.cmp.kinds) - 1)), np.zeros(
            0, dtype=object if classifier else float
        )
    xs, ys = [], []
    for side in ("reference", "holdout"):
        xs.append(design(view, side, target))
        ys.append(_targets(view, side, target, classifier))
    x, y = np.vstack(xs), np.concatenate(ys)
    keep = np.ones(len(y), dtype=bool) if classifier else np.isfinite(y)
    return x[keep], y[keep]


def label_pvalues(predictions: LabelPredictions) -> np.ndarray:
    """The p-value of each row's label (module docstring)."""
    if predictions.probabilities is not None:
        proba = np.maximum(predictions.probabilities, 0.0)
        proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), PROBABILITY_FLOOR)
        given = np.searchsorted(predictions.classes, predictions.given)
        p_given = proba[np.arange(len(given)), given]
        below = np.sum(np.where(proba < p_given[:, None], proba, 0.0), axis=1)
        return np.minimum(1.0, below + p_given / 2)
    residual = np.abs(predictions.given - predictions.predicted)
    z = np.abs(robust_z(residual, residual[np.isfinite(residual)]))
    return upper_tail_pvalues(z, z[np.isfinite(z)])


def label_evidence(view: RowView, config: LocalizeConfig) -> Evidence:
    predictions = cross_validated_predictions(view, config)
    p = label_pvalues(predictions)
    columns: dict[str, np.ndarray] = {}
    if predictions.probabilities is not None:
        given = np.searchsorted(predictions.classes, predictions.given)
        rows = np.arange(len(given))
        columns["label_probability"] = predictions.probabilities[rows, given]
        columns["label_predicted"] = predictions.classes[
            np.argmax(predictions.probabilities, axis=1)
        ].astype(str)
    else:
        columns["label_predicted"] = predictions.predicted
    return Evidence(
        NAME,
        "label_noise",
        p,
        columns=columns,
        affected_columns=[predictions.target],
        summary={
            "target": predictions.target,
            "model": "boosted trees, out of fold",
            "folds": config.label_folds,
            "trusted_reference_rows": bool(view.cmp.has_reference),
        },
    )
