"""The catalogue of fixes, each tied to the localizer's rows.

| category | proposed when | what it does |
|---|---|---|
| drop_exact_duplicates | exact duplicate groups | keeps the first row of each group |
| drop_near_duplicates | flagged duplicates | keeps the first row of each duplicate group |
| drop_memorized | flagged copies of reference rows | drops them |
| relabel_noisy_labels | flagged label noise (class target) | sets the model's predicted label |
| drop_noisy_labels | flagged label noise | drops them |
| drop_out_of_distribution | flagged out-of-support rows | drops them |
| drop_low_quality | flagged low-quality documents | drops them |
| mix_in_reference | a reference is given | adds `mix_ratio` x rows of reference rows |
| rebalance_strata | class shares off the reference's | thins over-represented classes |

(Rebalancing is proposed when the total-variation distance between the candidate's and the
reference's class shares exceeds `rebalance_gap`; rows of over-represented classes are
dropped at random until the shares match.)

Each fix carries the rows it touches (candidate file positions) and a `FixSpec` that makes
the fixed dataset, and its random control: the same number of rows dropped (or relabelled to
the model's prediction, or appended from the candidate itself) at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthos.analysis.localize import LocalizeResult

from .apply import FixSpec, FixStep
from .config import RecommendConfig


@dataclass
class Fix:
    category: str
    title: str
    description: str
    spec: FixSpec
    affected_rows: int
    rows: np.ndarray

    def control(self, seed: int, rows: int, predicted: np.ndarray | None) -> FixSpec:
        """The random control: the same edit on as many rows chosen at random."""
        rng = np.random.default_rng(seed)
        steps = []
        for step in self.spec.steps:
            pick = np.sort(rng.choice(rows, size=min(rows, len(step.rows)), replace=False))
            if step.action == "drop":
                steps.append(FixStep("drop", rows=pick.tolist()))
            elif step.action == "relabel":
                labels = [] if predicted is None else [str(predicted[i]) for i in pick]
                steps.append(FixStep("relabel", pick.tolist(), labels, step.column))
            else:
                steps.append(FixStep("append_candidate", count=step.count, seed=seed))
        return FixSpec(self.spec.candidate, steps, self.spec.reference)


def _flagged(result: LocalizeResult, issue: str) -> np.ndarray:
    return result.flagged_rows(issue)


def _keep_first(result: LocalizeResult, rows: np.ndarray) -> np.ndarray:
    """`rows` without the first member of each duplicate group (the copy that stays)."""
    if "duplicate_group" not in result.row_scores.column_names:
        return rows
    groups = result.column("duplicate_group")
    everyone = np.flatnonzero(groups >= 0)
    _, first = np.unique(groups[everyone], return_index=True)
    keep = set(everyone[first].tolist())
    return np.array([r for r in rows if r not in keep and groups[r] >= 0], dtype=np.int64)


def propose_fixes(
    result: LocalizeResult,
    candidate: pa.Table,
    candidate_path: str,
    reference_path: str | None,
    reference: pa.Table | None,
    config: RecommendConfig,
) -> list[Fix]:
    """Every fix of the catalogue that applies to this localization."""
    paths = _Paths(candidate_path, reference_path)
    noisy = _flagged(result, "label_noise")
    target = _target(result)
    proposed = [
        *_duplicate_fixes(result, paths),
        _drop_fix(
            paths,
            "drop_memorized",
            "Drop memorised copies of reference rows",
            "Rows that copy (or nearly copy) a reference record: a model trained on them learns "
            "the records, not the distribution.",
            _flagged(result, "memorized"),
        ),
        _relabel_fix(result, paths, noisy, target),
        _drop_fix(
            paths,
            "drop_noisy_labels",
            f"Drop rows with suspected wrong {target!r} labels" if target else "Drop noisy labels",
            "Rows whose label a cross-validated model finds implausible.",
            noisy,
        ),
        _drop_fix(
            paths,
            "drop_out_of_distribution",
            "Drop out-of-distribution rows",
            "Rows far outside the reference's support (shifted or corrupted values).",
            _flagged(result, "out_of_distribution"),
        ),
        _drop_fix(
            paths,
            "drop_low_quality",
            "Drop low-quality documents",
            "Junk, markup, gibberish, loops or fragments.",
            _flagged(result, "low_quality"),
        ),
        _mix_in_reference_fix(paths, candidate, reference, config),
        _drop_fix(
            paths,
            "rebalance_strata",
            f"Rebalance {target!r} classes to the reference's shares",
            "Over-represented classes are thinned at random until the class shares match the "
            "reference's.",
            _rebalance_rows(candidate, reference, target, config),
        ),
    ]
    return [fix for fix in proposed if fix is not None]


@dataclass(frozen=True)
class _Paths:
    """The files a fix edits: the candidate, and the reference it may draw rows from."""

    candidate: str
    reference: str | None


def _drop_fix(
    paths: _Paths, category: str, title: str, description: str, rows: np.ndarray
) -> Fix | None:
    """A fix that drops `rows`; None when there is no row to drop."""
    if not rows.size:
        return None
    spec = FixSpec(paths.candidate, [FixStep("drop", rows=rows.tolist())], paths.reference)
    return Fix(category, title, description, spec, int(rows.size), rows)


def _duplicate_fixes(result: LocalizeResult, paths: _Paths) -> list[Fix | None]:
    """Drop exact duplicates (when the localizer counted them) and flagged near-duplicates,
    keeping one row of each group."""
    fixes = []
    if "exact_duplicate" in result.row_scores.column_names:
        exact = np.flatnonzero(result.column("exact_duplicate"))
        fixes.append(
            _drop_fix(
                paths,
                "drop_exact_duplicates",
                "Drop exact duplicate rows",
                f"{exact.size} rows repeat another row exactly; keep one row of each group.",
                _keep_first(result, exact),
            )
        )
    fixes.append(
        _drop_fix(
            paths,
            "drop_near_duplicates",
            "Drop near-duplicate rows",
            "Rows flagged as (near) duplicates of other candidate rows; keep one per group.",
            _keep_first(result, _flagged(result, "duplicate")),
        )
    )
    return fixes


def _relabel_fix(
    result: LocalizeResult, paths: _Paths, noisy: np.ndarray, target: str | None
) -> Fix | None:
    """Give the rows with suspected wrong labels the label the model predicts; None without
    such rows, a target or the model's predictions."""
    if not (noisy.size and target and "label_probability" in result.row_scores.column_names):
        return None
    predicted = result.column("label_predicted")
    spec = FixSpec(
        paths.candidate,
        [FixStep("relabel", noisy.tolist(), [str(predicted[i]) for i in noisy], target)],
        paths.reference,
    )
    return Fix(
        "relabel_noisy_labels",
        f"Relabel suspected wrong {target!r} labels",
        "Rows whose label a cross-validated model finds implausible get the label "
        "the model predicts.",
        spec,
        int(noisy.size),
        noisy,
    )


def _mix_in_reference_fix(
    paths: _Paths, candidate: pa.Table, reference: pa.Table | None, config: RecommendConfig
) -> Fix | None:
    """Append `mix_ratio` x the candidate's rows of reference rows; None without a reference."""
    if reference is None or paths.reference is None:
        return None
    count = max(1, round(config.mix_ratio * candidate.num_rows))
    spec = FixSpec(
        paths.candidate, [FixStep("append_reference", count=count, seed=0)], paths.reference
    )
    return Fix(
        "mix_in_reference",
        f"Mix in {count} reference rows ({config.mix_ratio:.0%} of the candidate)",
        "Real rows restore the tails and modes a synthetic candidate lost.",
        spec,
        count,
        np.zeros(0, dtype=np.int64),
    )


def _target(result: LocalizeResult) -> str | None:
    for evidence in result.evidence:
        if evidence.get("name") == "label_disagreement":
            return evidence.get("target")
    return None


def _rebalance_rows(
    candidate: pa.Table, reference: pa.Table | None, target: str | None, config: RecommendConfig
) -> np.ndarray:
    """Rows to drop so the candidate's class shares match the reference's."""
    if reference is None or target is None or target not in reference.column_names:
        return np.zeros(0, dtype=np.int64)
    labels = np.asarray([str(v) for v in candidate.column(target).to_pylist()])
    ref = np.asarray([str(v) for v in reference.column(target).to_pylist()])
    classes, counts = np.unique(labels, return_counts=True)
    ref_share = np.array([np.mean(ref == c) for c in classes])
    if ref_share.sum() <= 0 or ref_share.min() <= 0:
        return np.zeros(0, dtype=np.int64)
    ref_share = ref_share / ref_share.sum()
    gap = 0.5 * np.abs(counts / counts.sum() - ref_share).sum()
    if gap <= config.rebalance_gap:
        return np.zeros(0, dtype=np.int64)
    total = np.min(counts / ref_share)  # the most rows every class can supply at those shares
    keep = np.floor(total * ref_share).astype(int)
    rng = np.random.default_rng(0)
    dropped = []
    for c, n_keep in zip(classes, keep, strict=True):
        rows = np.flatnonzero(labels == c)
        if len(rows) > n_keep:
            dropped.append(rng.choice(rows, size=len(rows) - n_keep, replace=False))
    return np.sort(np.concatenate(dropped)) if dropped else np.zeros(0, dtype=np.int64)
