"""The suite's goals as restated, and the collapse types against each family's own.

Misses are counted on the defects the base's clean splits can tell apart: a case the
separability oracle (`separability`, a mean shift, scale shift or variance shrinkage whose
own statistic stays within the 95th percentile of its base's clean controls) calls not
separable is left out of that rate; every other defect counts (no oracle, no excuse). The
goals: misses <= 2 % on those, false alarms <= 5 % on the held-out splits, the total miss
rate reported beside them. Collapse types: the share of detected defects whose type is
one of the family's (`families.EXPECTED_TYPES`, set a priori).
"""

from __future__ import annotations

from collections import Counter

from benchmarks.collapse_suite.families import expected_types
from benchmarks.collapse_suite.report import GOAL_FNR, GOAL_FPR


def restated(records: list[dict], oracle: list[dict], held_out: dict) -> dict:
    """`records`: results.json cases; `oracle`: `separability.oracle_cases()`; `held_out`:
    the summary's held-out error rates."""
    not_separable = {row["case_id"] for row in oracle if not row["separable"]}
    defects = [r for r in records if r["family"] != "clean" and not r["synthos"]["error"]]
    separable = [r for r in defects if r["case_id"] not in not_separable]
    missed = [r["case_id"] for r in separable if not r["synthos"]["collapse_detected"]]
    total_missed = [r["case_id"] for r in defects if not r["synthos"]["collapse_detected"]]
    fnr = len(missed) / len(separable) if separable else None
    return {
        "separable_defects": len(separable),
        "not_separable_defects": sorted(not_separable & {r["case_id"] for r in defects}),
        "fnr_separable": fnr,
        "misses_separable": missed,
        "fnr_separable_met": fnr is not None and fnr <= GOAL_FNR,
        "fpr_held_out": held_out["fpr"],
        "fpr_held_out_met": held_out["fpr"] is not None and held_out["fpr"] <= GOAL_FPR,
        "fnr_total": len(total_missed) / len(defects) if defects else None,
    }


def type_agreement(records: list[dict]) -> dict:
    """Per family: detected defects, those typed as the family expects, and the types."""
    out: dict[str, dict] = {}
    for r in records:
        if r["family"] == "clean" or not r["synthos"]["collapse_detected"]:
            continue
        row = out.setdefault(r["family"], {"detected": 0, "agree": 0, "types": Counter()})
        row["detected"] += 1
        typed = r["synthos"]["collapse_type"]
        row["agree"] += typed in expected_types(r["family"], r["modality"])
        row["types"][typed] += 1
    detected = sum(v["detected"] for v in out.values())
    return {
        "by_family": {k: {**v, "types": dict(v["types"])} for k, v in sorted(out.items())},
        "agreement": sum(v["agree"] for v in out.values()) / detected if detected else None,
    }
