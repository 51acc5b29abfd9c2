"""The suite's outputs: a JSON results file, a markdown summary and a per-family AUROC plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.collapse_suite import metrics
from benchmarks.collapse_suite.metrics import Scored

#: The issue's goals.
GOAL_FPR = 0.05
GOAL_FNR = 0.02
GOAL_AUROC = 0.95
#: Misses and false alarms listed in the markdown (all are in the JSON).
LISTED = 25


def summarise(rows: list[Scored], dimensions: tuple[str, ...], held_out_seeds: set[int]) -> dict:
    """All figures of the run; `held_out_seeds` are the splits the calibration did not see."""
    held_out = [r for r in rows if r.case.seed in held_out_seeds]
    errors = metrics.error_rates(rows)
    families = metrics.family_aurocs(rows)
    whole = metrics.overall(rows)
    above = {
        family: (f["synthos"] > f["sdmetrics"])
        for family, f in families.items()
        if f["synthos"] is not None and f["sdmetrics"] is not None
    }
    return {
        "cases": len(rows),
        "crashed": [r.case.case_id for r in rows if r.synthos.error],
        "dimensions": metrics.dimension_aurocs(rows, dimensions),
        "errors": errors,
        "errors_held_out": metrics.error_rates(held_out),
        "fnr_by_strength": metrics.strength_fnr(rows),
        "detected_by_family_and_modality": metrics.detection_by_family_and_modality(rows),
        "overall": whole,
        "families": families,
        "timings": metrics.timings(rows),
        "goals": {
            "fpr": _goal(errors["fpr"], GOAL_FPR, lower=True),
            "fnr": _goal(errors["fnr"], GOAL_FNR, lower=True),
            "overall_auroc": _goal(whole["auroc_risk"], GOAL_AUROC, lower=False),
            "above_sdmetrics_every_family": {
                "value": sum(above.values()),
                "of": len(above),
                "met": bool(above) and all(above.values()),
                "not_above": sorted(f for f, ok in above.items() if not ok),
            },
        },
    }


def _goal(value: float | None, bound: float, *, lower: bool) -> dict:
    met = value is not None and (value <= bound if lower else value >= bound)
    return {"value": value, "bound": bound, "met": met}


def case_record(row: Scored) -> dict:
    record = {"case_id": row.case.case_id, "base": row.case.base, "modality": row.case.modality}
    record.update(row.case.ground_truth())
    record["seed"] = row.case.seed
    record["synthos"] = {
        "scores": row.synthos.scores,
        "failed": list(row.synthos.failed),
        "overall_score": row.synthos.overall_score,
        "risk_score": row.synthos.risk_score,
        "collapse_detected": row.synthos.collapse_detected,
        "collapse_type": row.synthos.collapse_type,
        "seconds": round(row.synthos.seconds, 4),
        "error": row.synthos.error,
    }
    if row.baseline is not None:
        record["sdmetrics"] = {
            "quality": row.baseline.quality,
            "properties": row.baseline.properties,
            "seconds": round(row.baseline.seconds, 4),
        }
    return record


def write_json(path: Path, header: dict, summary: dict, rows: list[Scored]) -> None:
    payload = {**header, "summary": summary, "cases": [case_record(r) for r in rows]}
    path.write_text(json.dumps(_finite(payload), indent=1, allow_nan=False) + "\n")


def _finite(value):
    """NaN and infinities as None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _restated_lines(summary: dict) -> list[str]:
    """The restated goals (`goals.restated`) and the collapse types' agreement."""
    lines = []
    goal = summary.get("restated_goals")
    if goal:
        lines += [
            f"Restated goals: misses on defects their own statistic separates from the base's "
            f"clean splits {_pct(goal['fnr_separable'])} ({len(goal['misses_separable'])}/"
            f"{goal['separable_defects']}; bound 2 %, {_yes(goal['fnr_separable_met'])}); false "
            f"alarms on held-out splits {_pct(goal['fpr_held_out'])} (bound 5 %, "
            f"{_yes(goal['fpr_held_out_met'])}); all misses {_pct(goal['fnr_total'])} "
            f"({len(goal['not_separable_defects'])} defects not separable by the oracle).",
            "",
        ]
    types = summary.get("collapse_types")
    if types and types["agreement"] is not None:
        per = ", ".join(
            f"{family} {row['agree']}/{row['detected']}"
            for family, row in types["by_family"].items()
        )
        lines += [
            f"Collapse type as the family expects: {_pct(types['agreement'])} of detected "
            f"defects ({per}).",
            "",
        ]
    return lines


def markdown(header: dict, summary: dict) -> str:
    """The tables of the run, for RESULTS.md."""
    goals, errors, held = summary["goals"], summary["errors"], summary["errors_held_out"]
    above = goals["above_sdmetrics_every_family"]
    lines = [
        f"Command: `{header['command']}`  ",
        f"Date: {header['date']}; machine: {header['machine']}; load average at start: "
        f"{header['load_average_at_start']}; suite time {header['suite_seconds']} s; detector "
        f"(last commit of synthos/analysis/collapse): {header['detector']}  ",
        f"Cases: {summary['cases']} ({errors['controls']} clean controls, {errors['defects']} "
        f"defects); detector crashes: {len(summary['crashed'])}; thresholds: "
        f"{header['thresholds_procedure']}",
        "",
        "| goal | measured | bound | met |",
        "|---|---:|---:|---|",
        f"| false-positive rate on clean controls | {_pct(errors['fpr'])} "
        f"({len(errors['false_alarms'])}/{errors['controls']}) | <= 5 % | "
        f"{_yes(goals['fpr']['met'])} |",
        f"| false-negative rate on defects | {_pct(errors['fnr'])} "
        f"({len(errors['misses'])}/{errors['defects']}) | <= 2 % | {_yes(goals['fnr']['met'])} |",
        f"| overall AUROC (risk score) | {_fmt(goals['overall_auroc']['value'])} | >= 0.95 | "
        f"{_yes(goals['overall_auroc']['met'])} |",
        f"| above SDMetrics per family | {above['value']} of {above['of']} | all | "
        f"{_yes(above['met'])} |",
        "",
        *_restated_lines(summary),
        f"Held-out splits only (seeds the calibration did not use): FPR {_pct(held['fpr'])} "
        f"({len(held['false_alarms'])}/{held['controls']}), FNR {_pct(held['fnr'])} "
        f"({len(held['misses'])}/{held['defects']}). Detected defects that failed one of their "
        f"expected dimensions: {_pct(errors['expected_dimension_failed'])} of all defects. "
        "FNR by strength (1 weakest): "
        + ", ".join(f"{k}: {_pct(v)}" for k, v in summary["fnr_by_strength"].items())
        + ".",
        "",
        "Overall AUROC: risk score "
        f"{_fmt(summary['overall']['auroc_risk'])}, 100 - overall score "
        f"{_fmt(summary['overall']['auroc_overall_score'])}; on the cases SDMetrics can score: "
        f"Synthos {_fmt(summary['overall']['synthos_on_sdmetrics_cases'])}, SDMetrics "
        f"{_fmt(summary['overall']['sdmetrics'])}. By modality (Synthos): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in summary["overall"]["by_modality"].items())
        + ".",
        "",
        "| dimension | AUROC | defects that must fail it | clean controls | failed (those "
        "defects) | failed (controls) | AUROC vs any defect |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, d in summary["dimensions"].items():
        lines.append(
            f"| {name} | {_fmt(d['auroc'])} | {d['defects']} | {d['controls']} | "
            f"{d['detected']} | {d['false_alarms']} | {_fmt(d['auroc_any_defect'])} |"
        )
    lines += [
        "",
        "| defect family | modalities | cases | Synthos AUROC (all cases) | cases SDMetrics "
        "scores | Synthos AUROC | SDMetrics AUROC | Synthos FNR |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for family, f in summary["families"].items():
        lines.append(
            f"| {family} | {', '.join(f['modalities'])} | {f['cases']} | {_fmt(f['synthos_all'])} "
            f"| {f['scorable_by_sdmetrics']} | {_fmt(f['synthos'])} | {_fmt(f['sdmetrics'])} "
            f"| {_pct(f['fnr'])} |"
        )
    modalities = ("tabular", "text", "time_series")
    lines += [
        "",
        "Defects detected at the default thresholds (detected / cases):",
        "",
        "| defect family | " + " | ".join(modalities) + " |",
        "|---|" + "---:|" * len(modalities),
    ]
    for family, cells in summary["detected_by_family_and_modality"].items():
        shown = [f"{cells[m][0]}/{cells[m][1]}" if m in cells else "-" for m in modalities]
        lines.append(f"| {family} | " + " | ".join(shown) + " |")
    lines += [
        "",
        "| modality | cases | Synthos s/case (mean, median) | SDMetrics s/case (mean, median) |",
        "|---|---:|---:|---:|",
    ]
    for modality, t in summary["timings"].items():
        lines.append(
            f"| {modality} | {t['cases']} | {_fmt(t['synthos_mean'], 2)}, "
            f"{_fmt(t['synthos_median'], 2)} | {_fmt(t['sdmetrics_mean'], 2)}, "
            f"{_fmt(t['sdmetrics_median'], 2)} |"
        )
    for title, ids in (("False alarms", errors["false_alarms"]), ("Misses", errors["misses"])):
        shown = ", ".join(ids[:LISTED]) + (
            f", ... ({len(ids)} in all)" if len(ids) > LISTED else ""
        )
        lines += ["", f"{title}: {shown or 'none'}"]
    return "\n".join(lines) + "\n"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def plot_families(path: Path, summary: dict) -> None:
    """Per-family AUROC bars: Synthos and SDMetrics on the cases SDMetrics scores, and
    Synthos on all the family's cases (text included)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    families = list(summary["families"])
    series = {
        "Synthos (cases SDMetrics scores)": [summary["families"][f]["synthos"] for f in families],
        "SDMetrics QualityReport": [summary["families"][f]["sdmetrics"] for f in families],
        "Synthos (all cases, text included)": [
            summary["families"][f]["synthos_all"] for f in families
        ],
    }
    y = np.arange(len(families))
    height = 0.27
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(families) + 2.2))
    for i, (label, values) in enumerate(series.items()):
        ax.barh(
            y + (i - 1) * height, [np.nan if v is None else v for v in values], height, label=label
        )
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(GOAL_AUROC, color="black", lw=0.8, ls="--")
    ax.set_yticks(y, families)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("AUROC: defective vs clean (higher is better; dashed: goal 0.95)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
