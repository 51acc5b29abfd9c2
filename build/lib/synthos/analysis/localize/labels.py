"""Label disagreement: rows whose target a model of the other columns does not believe.

Tables with a target: boosted trees (the detector's `predictive.trees`) predict the target
from the other analysed columns out of fold: `label_folds` folds over the candidate's rows
and the reference sample's rows together, each fold's model trained on at most
`label_rows` rows of the other folds. Every row, candidate or reference, is predicted by a
model that never saw it.

Class targets: the raw statistic is the out-of-fold probability of the given label (its
self-confidence: small when the model is confident in another label). Numeric targets: the
absolute out-of-fold residual. The reference's rows, whose labels are trusted, are judged
the same way and set the null: a candidate row's p-value is how often a real row's
statistic is as extreme (the upper-tail model of `pvalues` on -log of the probability, or
on the residual). A model's confidence is bounded, so the probability it leaves a flipped
label rarely falls below a few percent; against real rows judged the same way such a value
is rare. Without a reference the probability itself is the p-value (under a calibrated
model a correct label that unlikely is that rare), and the candidate's own residuals are
the null of a numeric target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthos.analysis.collapse import features
from synthos.analysis.collapse.predictive import trees

from .config import LocalizeConfig
from .evidence import Evidence
from .pvalues import upper_tail_pvalues
from .rows import RowView

NAME = "label_disagreement"
PROBABILITY_FLOOR = 1e-6


@dataclass
class LabelPredictions:
    """Out-of-fold predictions of the candidate's rows (file order) and of the reference
    sample's rows (None without a reference).

    classes: the label order of the probabilities (class targets); None for numeric ones.
    given: each row's label (strings) or value.
    probabilities: (rows, classes) out-of-fold probabilities, or None.
    predicted: the numeric prediction (numeric target), or None.
    """

    target: str
    classes: np.ndarray | None
    given: np.ndarray
    probabilities: np.ndarray | None
    predicted: np.ndarray | None
    reference_given: np.ndarray | None = None
    reference_probabilities: np.ndarray | None = None
    reference_predicted: np.ndarray | None = None


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
    """Out-of-fold predictions of the target for every candidate and reference row."""
    target = label_target(view)
    if target is None:
        raise ValueError("no target to predict")
    classifier = view.cmp.kinds[target] == "categorical"
    x = design(view, "candidate", target)
    y = _targets(view, "candidate", target, classifier)
    ref_x, ref_y = _reference_rows(view, target, classifier)
    all_x, all_y = np.vstack([x, ref_x]), np.concatenate([y, ref_y])
    classes = np.unique(all_y) if classifier else None
    out = _out_of_fold(all_x, all_y, classes, config)
    n = len(y)
    has_ref = len(ref_y) > 0
    if classifier:
        return LabelPredictions(
            target,
            classes,
            view.to_file_order(y),
            view.to_file_order(out[:n]),
            None,
            ref_y if has_ref else None,
            out[n:] if has_ref else None,
        )
    return LabelPredictions(
        target,
        None,
        view.to_file_order(y),
        None,
        view.to_file_order(out[:n]),
        ref_y if has_ref else None,
        None,
        out[n:] if has_ref else None,
    )


def _out_of_fold(
    x: np.ndarray, y: np.ndarray, classes: np.ndarray | None, config: LocalizeConfig
) -> np.ndarray:
    """Out-of-fold class probabilities (rows, classes) or numeric predictions (rows,)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    classifier = classes is not None
    rng = np.random.default_rng(config.seed)
    out = np.zeros((len(y), len(classes))) if classifier else np.zeros(len(y))
    folds = min(config.label_folds, len(y))
    splitter = KFold(folds, shuffle=True, random_state=config.seed)
    if classifier and np.unique(y, return_counts=True)[1].min() >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    for train, test in splitter.split(x, y):
        if len(train) > config.label_rows:
            train = np.sort(rng.choice(train, size=config.label_rows, replace=False))
        present = np.unique(y[train]) if classifier else None
        if classifier and len(present) < 2:
            out[test, np.searchsorted(classes, present[0])] = 1.0
            continue
        model = trees(classifier, config.seed, len(train), 2 if present is None else len(present))
        model.fit(x[train], y[train])
        if classifier:
            columns = np.searchsorted(classes, model.classes_)
            out[np.ix_(test, columns)] = model.predict_proba(x[test])
        else:
            out[test] = model.predict(x[test])
    return out


def _reference_rows(view: RowView, target: str, classifier: bool):
    empty = np.zeros(0, dtype=object if classifier else float)
    if not view.cmp.has_reference:
        return np.zeros((0, len(view.cmp.kinds) - 1)), empty
    xs, ys = [], []
    for side in ("reference", "holdout"):
        xs.append(design(view, side, target))
        ys.append(_targets(view, side, target, classifier))
    x, y = np.vstack(xs), np.concatenate(ys)
    keep = np.ones(len(y), dtype=bool) if classifier else np.isfinite(y)
    return x[keep], y[keep]


def given_probability(classes: np.ndarray, given: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's out-of-fold probability of its given label."""
    proba = np.maximum(proba, 0.0)
    proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), PROBABILITY_FLOOR)
    return proba[np.arange(len(given)), np.searchsorted(classes, given)]


def label_pvalues(predictions: LabelPredictions) -> np.ndarray:
    """The p-value of each candidate row's label (module docstring)."""
    if predictions.probabilities is not None:
        raw = given_probability(predictions.classes, predictions.given, predictions.probabilities)
        if predictions.reference_probabilities is None:
            return raw
        null = given_probability(
            predictions.classes, predictions.reference_given, predictions.reference_probabilities
        )
        return upper_tail_pvalues(
            -np.log(np.maximum(raw, 1e-300)), -np.log(np.maximum(null, 1e-300))
        )
    residual = np.abs(predictions.given - predictions.predicted)
    if predictions.reference_predicted is not None:
        null = np.abs(predictions.reference_given - predictions.reference_predicted)
    else:
        null = residual
    return upper_tail_pvalues(residual, null[np.isfinite(null)])


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
            "model": "boosted trees, out of fold over candidate and reference rows",
            "folds": config.label_folds,
            "baseline": "the reference rows' own out-of-fold labels"
            if view.cmp.has_reference
            else "none (no reference): the probability of the given label itself",
        },
    )
