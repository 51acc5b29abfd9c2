"""Before / after: one validation's verdict beside an earlier one's, quantity by quantity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Headline quantities: (report key, higher is better).
HEADLINE = (
    ("risk_score", False),
    ("overall_score", True),
    ("rows_flagged", False),
    ("retrained_metric", None),
)


def snapshot(report: dict[str, Any], directory: Path) -> dict[str, Any]:
    """What a validation concluded, in the fields the comparison shows."""
    localization = report.get("localization") or {}
    summary = report.get("recommendation_summary") or {}
    dataset = report.get("dataset") or {}
    return {
        "validation_id": report.get("validation_id"),
        "directory": str(directory),
        "candidate": dataset.get("path"),
        "rows": dataset.get("rows"),
        "collapse_detected": report.get("collapse_detected"),
        "severity": report.get("severity"),
        "collapse_type": report.get("collapse_type"),
        "risk_score": report.get("risk_score"),
        "overall_score": report.get("overall_score"),
        "rows_flagged": localization.get("rows_flagged"),
        "retrained_metric": summary.get("current_metric"),
        "retrained_metric_name": summary.get("metric"),
        "failed_dimensions": [
            d["name"] for d in report.get("dimensions") or [] if d.get("passed") is False
        ],
    }


def _change(name: str, before: Any, after: Any, higher_is_better: bool | None) -> dict[str, Any]:
    change = None if before is None or after is None else float(after) - float(before)
    better = None
    if change is not None and higher_is_better is not None and change != 0:
        better = (change > 0) == higher_is_better
    return {"name": name, "before": before, "after": after, "change": change, "better": better}


def _metric_direction(before: dict[str, Any]) -> bool | None:
    from synthos.analysis.recommend.ablation import HEADLINES

    for key, higher in HEADLINES.values():
        if key == before.get("retrained_metric_name"):
            return higher
    return None


def before_after(
    before: dict[str, Any], before_dir: Path, after: dict[str, Any], after_dir: Path
) -> dict[str, Any]:
    """report.json `before_after`: both snapshots and, per headline quantity and per
    dimension, before, after, the change and whether it is for the better (None: unknown or
    no change)."""
    old, new = snapshot(before, before_dir), snapshot(after, after_dir)
    changes = []
    for key, higher in HEADLINE:
        if key == "retrained_metric":
            if old["retrained_metric_name"] != new["retrained_metric_name"]:
                continue
            higher = _metric_direction(old)
        changes.append(_change(key, old[key], new[key], higher))
    earlier = {d["name"]: d for d in before.get("dimensions") or []}
    dimensions = []
    for dim in after.get("dimensions") or []:
        was = earlier.get(dim["name"]) or {}
        row = _change(dim["name"], was.get("score"), dim["score"], True)
        row["threshold"] = dim.get("threshold")
        row["passed_before"] = was.get("passed")
        row["passed_after"] = dim.get("passed")
        dimensions.append(row)
    return {"before": old, "after": new, "changes": changes, "dimensions": dimensions}


def describe(comparison: dict[str, Any]) -> str:
    """Readable lines: the two validations and every quantity that was measured in both."""
    old, new = comparison["before"], comparison["after"]
    lines = [f"before       {old['directory']} ({old['candidate']}, {old['rows']} rows)"]
    lines.append(f"after        {new['directory']} ({new['candidate']}, {new['rows']} rows)")
    verdict = {True: "collapse", False: "no collapse", None: "n/a"}
    lines.append(
        f"  {'verdict':<26} {verdict[old['collapse_detected']]:>12} -> "
        f"{verdict[new['collapse_detected']]}"
    )
    for row in [*comparison["changes"], *comparison["dimensions"]]:
        if row["before"] is None and row["after"] is None:
            continue
        mark = {True: "better", False: "worse", None: ""}[row["better"]]
        lines.append(
            f"  {row['name']:<26} {_num(row['before']):>12} -> {_num(row['after']):<10} {mark}"
        )
    return "\n".join(lines)


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
