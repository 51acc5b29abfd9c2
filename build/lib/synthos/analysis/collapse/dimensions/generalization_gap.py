"""generalization_gap: do models trained on the candidate do worse on real data?

Two measurements, the dimension being the lower score:

* Discriminator: gradient-boosted trees telling candidate rows from reference rows (equal
  numbers, embedding features), cross-validated ROC AUC; the AUC beyond 0.5 plus z of its
  null standard errors (Hanley-McNeil) is the excess, scored ``100 exp(-excess / 0.15)``.
  A series' allowance is at least NULL_FACTOR times the holdout's own distance from 0.5
  (trees on contiguous folds tell two real stretches of a drifting series apart too).
* Train-synthetic-test-real against train-real-test-real, both tested on the real holdout
  with equal training sizes, compared row by row on the same test rows (paired, so the
  noise allowance is small). Tabular: trees predicting the target column (the last column
  unless `target_column` is set); log-loss for a categorical target (label noise shows as
  misplaced confidence long before accuracy moves), squared error for a numeric one; the
  gap relative to the real model's margin over chance (the prior, or the mean).
  Text: an interpolated bigram language model's cross-entropy on the holdout, gap relative
  to the real model's. Series: a ridge forecaster of the next increment from a window of
  increments, the ratio of mean squared errors minus 1 (the paired errors of neighbouring
  windows count at their long-run effective size, `stats.mean_size`). Each gap counts
  beyond z standard errors of the test metric, scored ``100 exp(-gap / 0.25)``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from .. import features, predictive
from ..inputs import Comparison
from ..sensitivity import effect, effects, needed_excess
from ..stats import NULL_FACTOR, auc_noise, decay_score, mean_size
from .base import missing_reference, not_evaluated, scored

NAME = "generalization_gap"
DISCRIMINATOR_SCALE = 0.15
GAP_SCALE = 0.25
BIGRAM_WEIGHT = 0.7
TEST_TOKENS = 50_000


def _separability(cmp: Comparison, side: str) -> tuple[float, int] | None:
    """Cross-validated ROC AUC of trees telling `side`'s rows from the reference's (equal
    numbers), and the rows per side; None when too few rows."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    seed, cap = cmp.config.seed, cmp.config.classifier_rows
    ref = features.embedding(cmp, "reference")
    other = features.embedding(cmp, side)
    size = min(cap, ref.shape[0], other.shape[0])
    folds = cmp.config.cv_folds
    if size < 5 * folds or ref.shape[1] == 0:
        return None
    x = np.vstack([features.subsample(other, size, seed), features.subsample(ref, size, seed + 1)])
    y = np.r_[np.ones(size), np.zeros(size)]
    # Overlapping series windows in both training and test folds would let the trees
    # recognise a stretch rather than a difference: series folds are contiguous in time.
    series = cmp.modality == "time_series"
    splitter = StratifiedKFold(folds, shuffle=not series, random_state=None if series else seed)
    scores = cross_val_score(
        predictive.trees(True, seed, len(y)), x, y, cv=splitter, scoring="roc_auc"
    )
    return float(np.mean(scores)), size


def discriminator(cmp: Comparison) -> dict[str, Any] | None:
    found = _separability(cmp, "candidate")
    if found is None:
        return None
    auc, size = found
    effective = features.effective_rows(cmp, size)
    noise = auc_noise(effective, effective, cmp.config.z)
    out: dict[str, Any] = {"auc": auc, "noise": noise, "rows_per_side": size}
    if cmp.modality == "time_series":
        # Trees on contiguous folds of a drifting or regime-switching series stray from
        # 0.5 between two real stretches too, either way: no separability counts until it
        # is NULL_FACTOR times theirs.
        null = _separability(cmp, "holdout")
        if null is not None:
            out["holdout_auc"] = null[0]
            noise = max(noise, NULL_FACTOR * abs(null[0] - 0.5))
    out.update(
        allowance=noise,
        folds=cmp.config.cv_folds,
        score=decay_score(auc - 0.5 - noise, DISCRIMINATOR_SCALE),
    )
    return out


def _tabular_transfer(cmp: Comparison) -> dict[str, Any] | None:
    target = cmp.target_column
    if target is None or len(cmp.kinds) < 2:
        return None
    classifier = cmp.kinds[target] == "categorical"
    seed, cap, z = cmp.config.seed, cmp.config.classifier_rows, cmp.config.z
    x_ref, y_ref = predictive.design(cmp, "reference", target)
    x_cand, y_cand = predictive.design(cmp, "candidate", target)
    x_test, y_test = predictive.design(cmp, "holdout", target)
    size = min(cap, y_ref.size, y_cand.size)
    if size < 10 or y_test.size < 10:
        return None
    rng = np.random.default_rng(seed)
    pick_ref = rng.choice(y_ref.size, size, replace=False)
    pick_cand = rng.choice(y_cand.size, size, replace=False)
    test = rng.choice(y_test.size, min(cap, y_test.size), replace=False)
    x_test, y_test = x_test[test], y_test[test]
    losses, scores = {}, {}
    trainings = (
        ("trtr", x_ref[pick_ref], y_ref[pick_ref]),
        ("tstr", x_cand[pick_cand], y_cand[pick_cand]),
    )
    for name, x, y in trainings:
        if classifier and len(set(y)) < 2:  # one class: it is all a model can predict
            losses[name] = predictive.chance_losses(True, y, y_test)
            scores[name] = float(np.mean(y_test == y[0]))
            continue
        classes = len(set(y)) if classifier else 2
        model = predictive.trees(classifier, seed, len(y), classes).fit(x, y)
        losses[name] = predictive.row_losses(model, classifier, x_test, y_test)
        scores[name] = float(model.score(x_test, y_test))
    chance = predictive.chance_losses(classifier, y_ref[pick_ref], y_test)
    paired = losses["tstr"] - losses["trtr"]
    noise = z * float(np.std(paired)) / math.sqrt(paired.size)
    margin = max(float(chance.mean() - losses["trtr"].mean()), 0.05 * float(chance.mean()), 1e-12)
    gap = max(0.0, float(paired.mean()) - noise) / margin
    return {
        "target": target,
        "loss": "log-loss" if classifier else "squared error",
        "train_real_test_real": float(losses["trtr"].mean()),
        "train_synthetic_test_real": float(losses["tstr"].mean()),
        "chance": float(chance.mean()),
        "noise": noise,
        "relative_gap": gap,
        ("accuracy" if classifier else "r2"): scores,
        "train_rows": size,
        "test_rows": int(y_test.size),
        "score": decay_score(gap, GAP_SCALE),
    }


def _bigram_losses(train: list[str], test: list[str]) -> np.ndarray:
    unigrams = Counter(train)
    bigrams = Counter(itertools.pairwise(train))
    contexts = Counter(train[:-1])
    total, vocabulary = len(train), len(unigrams) + 1
    losses = np.empty(len(test) - 1)
    for i, (prev, word) in enumerate(itertools.pairwise(test)):
        p = (unigrams[word] + 1) / (total + vocabulary)
        if contexts[prev]:
            p = BIGRAM_WEIGHT * bigrams[(prev, word)] / contexts[prev] + (1 - BIGRAM_WEIGHT) * p
        losses[i] = -math.log(p)
    return losses


def _text_transfer(cmp: Comparison) -> dict[str, Any] | None:
    budget = features.common_token_budget(cmp, ("candidate", "reference"))
    test = features.token_stream(cmp, "holdout", TEST_TOKENS)
    if budget < 100 or len(test) < 100:
        return None
    real = _bigram_losses(features.token_stream(cmp, "reference", budget), test)
    synthetic = _bigram_losses(features.token_stream(cmp, "candidate", budget), test)
    h_real, h_synth = float(real.mean()), float(synthetic.mean())
    noise = cmp.config.z * float(np.std(synthetic - real)) / math.sqrt(real.size)
    gap = max(0.0, h_synth - h_real - noise) / h_real
    return {
        "metric": "bigram cross-entropy (nats/token)",
        "train_real_test_real": h_real,
        "train_synthetic_test_real": h_synth,
        "noise": noise,
        "relative_gap": gap,
        "train_tokens": budget,
        "test_tokens": len(test),
        "score": decay_score(gap, GAP_SCALE),
    }


def _windows(cmp: Comparison, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Every window (stride 1) and the step that follows it (within one series)."""
    return features.series_windows(cmp, side, pairs=True)


def _series_transfer(cmp: Comparison) -> dict[str, Any] | None:
    from sklearn.linear_model import Ridge

    (x_ref, y_ref), (x_cand, y_cand) = _windows(cmp, "reference"), _windows(cmp, "candidate")
    x_test, y_test = _windows(cmp, "holdout")
    size = min(cmp.config.classifier_rows, y_ref.shape[0], y_cand.shape[0])
    if size < 10 or y_test.shape[0] < 10:
        return None
    errors = {}
    for name, x, y in (("trtr", x_ref, y_ref), ("tstr", x_cand, y_cand)):
        model = Ridge(alpha=1.0).fit(x[-size:], y[-size:])
        # one channel: the model predicts a vector, which must not broadcast against the
        # (windows, 1) targets
        predicted = model.predict(x_test).reshape(y_test.shape)
        errors[name] = ((predicted - y_test) ** 2).mean(axis=1)
    mse_real, mse_synth = float(errors["trtr"].mean()), float(errors["tstr"].mean())
    if mse_real <= 0:
        return None
    diff = (errors["tstr"] - errors["trtr"]) / mse_real
    noise = cmp.config.z * float(np.std(diff)) / math.sqrt(mean_size(diff))
    gap = max(0.0, mse_synth / mse_real - 1 - noise)
    return {
        "metric": "next-increment mean squared error (ridge on windows)",
        "train_real_test_real": mse_real,
        "train_synthetic_test_real": mse_synth,
        "noise": noise,
        "relative_gap": gap,
        "train_windows": size,
        "test_windows": int(y_test.shape[0]),
        "score": decay_score(gap, GAP_SCALE * 2),
    }


def evaluate(cmp: Comparison):
    if not cmp.has_reference:
        return missing_reference(cmp, NAME, "models are tested on real data")
    transfer = {
        "text": _text_transfer,
        "time_series": _series_transfer,
        "tabular": _tabular_transfer,
    }[cmp.modality](cmp)
    detector = discriminator(cmp)
    parts = {k: v for k, v in (("discriminator", detector), ("transfer", transfer)) if v}
    if not parts:
        return not_evaluated(cmp, NAME, "too few rows to train and test models")
    score = min(p["score"] for p in parts.values())
    threshold = cmp.config.threshold(NAME, cmp.modality)
    evidence = {**parts, "rule": "lower of discriminator and transfer"}
    evidence["sensitivity"] = detectable(detector, transfer, cmp.modality, threshold)
    return scored(cmp, NAME, score, evidence)


def _gap_unit(transfer: dict[str, Any], modality: str) -> float:
    """What the transfer gap is relative to: the real model's margin over chance (tables),
    its cross-entropy (text); a series' gap is a ratio already."""
    if modality == "time_series":
        return 1.0
    real = transfer["train_real_test_real"]
    if modality == "tabular":
        return max(transfer["chance"] - real, 0.05 * transfer["chance"], 1e-12)
    return max(real, 1e-12)


def detectable(
    detector: dict[str, Any] | None,
    transfer: dict[str, Any] | None,
    modality: str,
    threshold: float,
) -> list[dict[str, Any]]:
    """The lowest discriminator AUC, and the smallest relative transfer gap, that fail."""
    auc = None
    if detector is not None:
        auc = min(1.0, 0.5 + detector["allowance"] + needed_excess(DISCRIMINATOR_SCALE, threshold))
    gap = None
    if transfer is not None:
        scale = GAP_SCALE * (2 if modality == "time_series" else 1)
        relative = transfer["noise"] / _gap_unit(transfer, modality)
        gap = relative + needed_excess(scale, threshold)
    return effects(
        effect(
            "discriminator_auc",
            auc,
            "cross-validated ROC AUC",
            "no discriminator AUC above {:.2f}",
        ),
        effect(
            "transfer_gap",
            gap,
            "relative loss of models trained on the candidate, tested on real data",
            "no train-synthetic-test-real loss gap above {:.0%}",
        ),
    )
