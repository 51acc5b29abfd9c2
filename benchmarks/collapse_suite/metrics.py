"""The suite's figures from scored cases: AUROCs, error rates at the default thresholds, times.

Every AUROC compares defective cases (positives) with the clean controls (negatives) of the
same modalities, using a "higher means more defective" score: 100 - dimension score for a
dimension, the risk score for the verdict, 1 - quality for SDMetrics. An AUROC needs at least
one case on each side; otherwise it is None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.collapse_suite.case import Case
from benchmarks.collapse_suite.sdmetrics_scorer import BaselineScore
from benchmarks.collapse_suite.synthos_scorer import DetectorScore


@dataclass(frozen=True)
class Scored:
    """A case with both detectors' scores (`baseline` is None when SDMetrics was not run)."""

    case: Case
    synthos: DetectorScore
    baseline: BaselineScore | None


def auroc(positives: Iterable[float], negatives: Iterable[float]) -> float | None:
    pos, neg = list(positives), list(negatives)
    if not pos or not neg:
        return None
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(labels, np.r_[pos, neg]))


def _clean(rows: list[Scored], modalities: set[str]) -> list[Scored]:
    return [r for r in rows if r.case.is_clean and r.case.modality in modalities]


def _risk(row: Scored) -> float:
    return float(row.synthos.risk_score)


def _baseline_risk(row: Scored) -> float:
    return 1.0 - float(row.baseline.quality)


def _ok(row: Scored) -> bool:
    return row.synthos.error is None


def _has_baseline(row: Scored) -> bool:
    return row.baseline is not None and row.baseline.quality is not None


def dimension_aurocs(rows: list[Scored], dimensions: Iterable[str]) -> dict[str, dict]:
    """Per dimension: defects that must fail it against clean controls, on 100 - score; and
    the same against every defect (how well the dimension alone flags any defect)."""
    out = {}
    for name in dimensions:
        any_defect = [
            r for r in rows if _ok(r) and not r.case.is_clean and name in r.synthos.scores
        ]
        all_clean = [r for r in rows if _ok(r) and r.case.is_clean and name in r.synthos.scores]
        positives = [
            r
            for r in rows
            if _ok(r) and name in r.case.expected_failing and name in r.synthos.scores
        ]
        modalities = {r.case.modality for r in positives}
        negatives = [r for r in _clean(rows, modalities) if name in r.synthos.scores]
        out[name] = {
            "auroc": auroc(
                (100 - r.synthos.scores[name] for r in positives),
                (100 - r.synthos.scores[name] for r in negatives),
            ),
            "auroc_any_defect": auroc(
                (100 - r.synthos.scores[name] for r in any_defect),
                (100 - r.synthos.scores[name] for r in all_clean),
            ),
            "defects": len(positives),
            "controls": len(negatives),
            "detected": sum(name in r.synthos.failed for r in positives),
            "false_alarms": sum(name in r.synthos.failed for r in negatives),
        }
    return out


def error_rates(rows: list[Scored]) -> dict:
    """False positives on clean controls and false negatives on defects, from the verdict."""
    ok = [r for r in rows if _ok(r)]
    clean = [r for r in ok if r.case.is_clean]
    defects = [r for r in ok if not r.case.is_clean]
    false_alarms = [r.case.case_id for r in clean if r.synthos.collapse_detected]
    misses = [r.case.case_id for r in defects if not r.synthos.collapse_detected]
    right_reason = [
        r
        for r in defects
        if r.synthos.collapse_detected and r.case.expected_failing & set(r.synthos.failed)
    ]
    return {
        "controls": len(clean),
        "defects": len(defects),
        "fpr": len(false_alarms) / len(clean) if clean else None,
        "fnr": len(misses) / len(defects) if defects else None,
        "expected_dimension_failed": len(right_reason) / len(defects) if defects else None,
        "false_alarms": false_alarms,
        "misses": misses,
    }


def family_aurocs(rows: list[Scored]) -> dict[str, dict]:
    """Per defect family: Synthos on all its cases, and Synthos and SDMetrics on the cases
    SDMetrics can score (the like-for-like comparison)."""
    families = sorted({r.case.family for r in rows if not r.case.is_clean})
    out = {}
    for family in families:
        cases = [r for r in rows if r.case.family == family and _ok(r)]
        modalities = {r.case.modality for r in cases}
        clean = [r for r in _clean(rows, modalities) if _ok(r)]
        both = [r for r in cases if _has_baseline(r)]
        both_clean = [r for r in clean if _has_baseline(r)]
        out[family] = {
            "cases": len(cases),
            "modalities": sorted(modalities),
            "synthos_all": auroc(map(_risk, cases), map(_risk, clean)),
            "scorable_by_sdmetrics": len(both),
            "synthos": auroc(map(_risk, both), map(_risk, both_clean)),
            "sdmetrics": auroc(map(_baseline_risk, both), map(_baseline_risk, both_clean)),
            "fnr": sum(not r.synthos.collapse_detected for r in cases) / len(cases),
        }
    return out


def overall(rows: list[Scored]) -> dict:
    """Overall AUROC of the risk score (and of 100 - overall score) and SDMetrics' overall
    AUROC on the cases it can score."""
    ok = [r for r in rows if _ok(r)]
    clean = [r for r in ok if r.case.is_clean]
    defects = [r for r in ok if not r.case.is_clean]
    both = [r for r in defects if _has_baseline(r)]
    both_clean = [r for r in clean if _has_baseline(r)]
    return {
        "auroc_risk": auroc(map(_risk, defects), map(_risk, clean)),
        "auroc_overall_score": auroc(
            (100 - r.synthos.overall_score for r in defects),
            (100 - r.synthos.overall_score for r in clean),
        ),
        "synthos_on_sdmetrics_cases": auroc(map(_risk, both), map(_risk, both_clean)),
        "sdmetrics": auroc(map(_baseline_risk, both), map(_baseline_risk, both_clean)),
        "by_modality": {
            modality: auroc(
                (_risk(r) for r in defects if r.case.modality == modality),
                (_risk(r) for r in clean if r.case.modality == modality),
            )
            for modality in sorted({r.case.modality for r in ok})
        },
    }


def timings(rows: list[Scored]) -> dict:
    """Seconds per case (mean and median) for both detectors, per modality."""
    out = {}
    for modality in sorted({r.case.modality for r in rows}):
        mine = [r.synthos.seconds for r in rows if r.case.modality == modality]
        theirs = [
            r.baseline.seconds for r in rows if r.case.modality == modality and _has_baseline(r)
        ]
        out[modality] = {
            "cases": len(mine),
            "synthos_mean": float(np.mean(mine)),
            "synthos_median": float(np.median(mine)),
            "sdmetrics_mean": float(np.mean(theirs)) if theirs else None,
            "sdmetrics_median": float(np.median(theirs)) if theirs else None,
        }
    return out


def strength_fnr(rows: list[Scored]) -> dict[str, float]:
    """False-negative rate per defect strength."""
    out = {}
    for strength in (1, 2, 3):
        cases = [r for r in rows if r.case.strength == strength and _ok(r)]
        if cases:
            out[str(strength)] = sum(not r.synthos.collapse_detected for r in cases) / len(cases)
    return out


def detection_by_family_and_modality(rows: list[Scored]) -> dict[str, dict[str, list[int]]]:
    """family -> modality -> [detected, cases] at the default thresholds."""
    out: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        if r.case.is_clean or not _ok(r):
            continue
        cell = out.setdefault(r.case.family, {}).setdefault(r.case.modality, [0, 0])
        cell[0] += bool(r.synthos.collapse_detected)
        cell[1] += 1
    return out
