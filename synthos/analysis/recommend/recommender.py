"""`recommend`: propose the catalogue's fixes for the localized rows, write each fixed dataset,
measure each fix by ablation against a random control, rank by measured impact.

For every fix: the fixed dataset (Parquet, the candidate's schema) and its spec are written
under `out/fixes/`; the collapse detector is run on it and on `seeds` random-control
datasets (as many rows removed, or relabelled, or appended, at random); with
`measure_impact`, tier 1 of the cascade is retrained on the candidate, on the fixed dataset
and on a random-control dataset, `seeds` models each (`ablation`). Fixes are ranked by how
much more they improve than their control: the retrained headline metric when measured,
else the detector's risk score. The best `combine_top` fixes are then applied together and
measured the same way, as one more recommendation.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthos.analysis.collapse import CollapseConfig, detect_stage
from synthos.analysis.localize import LocalizeConfig, LocalizeResult, localize_stage
from synthos.errors import DataError, ErrorCode
from synthos.stage_cache import StageCache

from .ablation import HEADLINES, AblationRunner, data_settings
from .apply import FixSpec, apply_command, drawn_rows, read_dataset, write_fixed
from .catalogue import Fix, propose_fixes
from .config import RecommendConfig
from .impact import Measured, comparison
from .result import RecommendResult

#: Pairs of fixes that edit the same rows in exclusive ways: only the better one is combined.
EXCLUSIVE = (
    {"drop_noisy_labels", "relabel_noisy_labels"},
    {"drop_exact_duplicates", "drop_near_duplicates"},
)


@dataclass
class _Arm:
    """A measured dataset: the risk score(s) and, when retrained, the metric per seed."""

    risk: Measured
    metric: Measured | None = None


@dataclass
class _Measurer:
    """Measures datasets the way the candidate was measured: the same detector settings
    (`modality` as the user gave it, None when inferred) and the same retraining."""

    reference: str | None
    modality: str | None
    runner: AblationRunner | None
    config: CollapseConfig
    cache: StageCache | None

    def judged_by(self, reference: str, tag: str) -> _Measurer:
        """The same measurements against another reference (retraining evaluates on it too)."""
        runner = None
        if self.runner is not None:
            data = {**self.runner.data, "reference_path": reference}
            runner = dataclasses.replace(
                self.runner, data=data, work_dir=self.runner.work_dir / tag
            )
        return dataclasses.replace(self, reference=reference, runner=runner)

    def risk(self, path: Path) -> float:
        detection = detect_stage(
            self.cache, str(path), self.reference, modality=self.modality, config=self.config
        )
        return float(detection["fields"]["risk_score"])

    def arm(self, name: str, paths: list[Path], train: Path | None) -> _Arm:
        metric = None
        if self.runner is not None and train is not None:
            metric = Measured(self.runner.train(name, train))
        return _Arm(Measured([self.risk(p) for p in paths]), metric)


def recommend(
    candidate: Any,
    reference: Any = None,
    cascade: str | os.PathLike | None = None,
    *,
    out_dir: str | os.PathLike,
    localization: LocalizeResult | None = None,
    modality: str | None = None,
    config: RecommendConfig | None = None,
    localize_config: LocalizeConfig | None = None,
    collapse_config: CollapseConfig | None = None,
    cache: StageCache | None = None,
) -> RecommendResult:
    """Fixes for `candidate`'s localized problems, each measured (see the module docstring).
    `localization`: an earlier `localize` result of the same candidate (else it runs);
    `collapse_config`: the detector settings every dataset is judged with; `cache`: detections
    and retrainings of the same data are reused from it."""
    config = config or RecommendConfig()
    requested_modality = modality
    started = time.perf_counter()
    out = Path(out_dir)
    fixes_dir = out / "fixes"
    fixes_dir.mkdir(parents=True, exist_ok=True)
    candidate_path = _as_path(candidate, out / "candidate.parquet")
    reference_path = None if reference is None else _as_path(reference, out / "reference.parquet")
    if localization is None:
        localization = localize_stage(
            cache,
            candidate_path,
            reference_path,
            cascade,
            modality=modality,
            config=localize_config,
        )
    modality = localization.modality
    table = read_dataset(candidate_path)
    if table.num_rows != localization.rows:
        raise DataError(
            f"the localization scored {localization.rows} rows but the candidate has "
            f"{table.num_rows}",
            code=ErrorCode.DATA_VALUE,
            path=candidate_path,
            expected="the localization of this candidate",
        )
    ref_table = None if reference_path is None else read_dataset(reference_path)
    fixes = propose_fixes(localization, table, candidate_path, reference_path, ref_table, config)
    if config.only is not None:
        fixes = [f for f in fixes if f.category in config.only]
    runner = _runner(modality, reference_path, cascade, localization, out, config, cache)
    collapse_config = collapse_config or CollapseConfig()
    measurer = _Measurer(reference_path, requested_modality, runner, collapse_config, cache)
    current = measurer.arm("current", [Path(candidate_path)], Path(candidate_path))
    predicted = _predicted(localization)
    measured = [
        _measure_fix(fix, table, fixes_dir, measurer, current, predicted, config) for fix in fixes
    ]
    measured.sort(key=lambda m: m["_rank"], reverse=True)
    combined = _combine(measured, fixes, table, candidate_path, reference_path, config)
    if combined is not None:
        measured.append(
            _measure_fix(combined, table, fixes_dir, measurer, current, predicted, config)
        )
        measured.sort(key=lambda m: m["_rank"], reverse=True)
    recommendations = [
        _public(m, i) for i, m in enumerate(measured[: config.max_recommendations], 1)
    ]
    return RecommendResult(
        recommendations=recommendations,
        localization=localization,
        current_risk=current.risk.mean,
        current_metric=None if current.metric is None else current.metric.mean,
        metric=None if runner is None else runner.metric[0],
        measured_by="retraining tier 1 and the collapse detector"
        if runner is not None
        else "the collapse detector (no retraining: measure_impact off)",
        seconds=round(time.perf_counter() - started, 3),
    )


def _as_path(data: Any, fallback: Path) -> str:
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    pq.write_table(table, fallback)
    return str(fallback)


def _runner(
    modality, reference, cascade, localization, out, config, cache
) -> AblationRunner | None:
    if not config.measure_impact:
        return None
    if modality not in HEADLINES:
        raise DataError(f"cannot retrain on {modality} data", code=ErrorCode.DATA_VALUE)
    checkpoint = None
    if cascade is not None:
        from synthos.analysis.localize.cascade_models import find_models

        models = find_models(cascade)
        checkpoint = models[0].load() if models else None
    known = {}
    for evidence in localization.evidence:
        if evidence.get("name") == "label_disagreement":
            known["target_column"] = evidence.get("target")
    return AblationRunner(
        modality=modality,
        work_dir=out / "ablation",
        seeds=config.seeds,
        profile=config.profile,
        overrides=list(config.overrides),
        data=data_settings(modality, reference, checkpoint, known),
        timeout_s=config.train_timeout_s,
        cache=cache,
    )


def _predicted(localization: LocalizeResult) -> np.ndarray | None:
    if "label_predicted" in localization.row_scores.column_names:
        return localization.column("label_predicted")
    return None


def _measure_fix(
    fix: Fix,
    table: pa.Table,
    fixes_dir: Path,
    measurer: _Measurer,
    current: _Arm,
    predicted: np.ndarray | None,
    config: RecommendConfig,
) -> dict[str, Any]:
    spec_path = fixes_dir / f"{fix.category}.json"
    fixed_path = fixes_dir / f"{fix.category}.parquet"
    fix.spec.save(spec_path)
    write_fixed(fix.spec, fixed_path, table)
    controls = []
    for seed in range(config.seeds):
        control: FixSpec = fix.control(seed, table.num_rows, predicted)
        path = fixes_dir / f"{fix.category}.control{seed}.parquet"
        write_fixed(control, path, table)
        controls.append(path)
    measurer, current = _independent_reference(fix, fixes_dir, measurer, current)
    fixed = measurer.arm(f"{fix.category}", [fixed_path], fixed_path)
    control = measurer.arm(f"{fix.category}-control", controls, controls[0])
    risk = comparison("risk_score", current.risk, fixed.risk, control.risk, False, config.level)
    record: dict[str, Any] = {
        "category": fix.category,
        "title": fix.title,
        "description": fix.description,
        "affected_rows": fix.affected_rows,
        "row_sample": [int(r) for r in fix.rows[:20]],
        "apply_command": apply_command(spec_path, fixed_path),
        "fixed_dataset_path": str(fixed_path),
        "spec_path": str(spec_path),
        "risk_impact": risk,
        "metric_impact": None,
        "impact_unavailable": "retraining off (measure_impact false)",
    }
    net = risk["improvement"] - risk["control"]["improvement"]
    if fixed.metric is not None and current.metric is not None:
        metric, higher = measurer.runner.metric
        record["metric_impact"] = comparison(
            metric, current.metric, fixed.metric, control.metric, higher, config.level
        )
        record["impact_unavailable"] = None
        impact = record["metric_impact"]
        net = impact["improvement"] - impact["control"]["improvement"]
    record["ranked_by"] = "metric_impact" if record["metric_impact"] else "risk_impact"
    ranked = record[record["ranked_by"]]
    record["improves"] = bool(ranked["improvement"] > 0)
    # Fixes that make things worse rank after every fix that does not.
    record["_rank"] = (record["improves"], net)
    return record


def _independent_reference(
    fix: Fix, fixes_dir: Path, measurer: _Measurer, current: _Arm
) -> tuple[_Measurer, _Arm]:
    """A fix that mixes reference rows in is judged against the reference rows it did not
    take (else the detector sees its own rows as copies, and retraining tests on them); the
    candidate as it is is re-measured against the same rows."""
    steps = [s for s in fix.spec.steps if s.action == "append_reference"]
    if not steps or measurer.reference is None:
        return measurer, current
    reference = read_dataset(measurer.reference)
    taken = np.unique(np.concatenate([drawn_rows(reference.num_rows, s, False) for s in steps]))
    keep = np.setdiff1d(np.arange(reference.num_rows), taken)
    path = fixes_dir / f"{fix.category}.evaluation_reference.parquet"
    pq.write_table(reference.take(pa.array(keep, pa.int64())), path)
    judge = measurer.judged_by(str(path), fix.category)
    return judge, judge.arm(
        f"{fix.category}-current", [Path(fix.spec.candidate)], Path(fix.spec.candidate)
    )


def _combine(measured, fixes, table, candidate_path, reference_path, config) -> Fix | None:
    """The best `combine_top` fixes that improve and beat their control, applied together."""
    by_category = {f.category: f for f in fixes}
    chosen: list[Fix] = []
    for record in measured:
        impact = record["metric_impact"] or record["risk_impact"]
        useful = record["improves"] and impact["beats_random_control"]
        if len(chosen) >= config.combine_top or not useful:
            continue
        if any({record["category"], c.category} in EXCLUSIVE for c in chosen):
            continue
        chosen.append(by_category[record["category"]])
    if len(chosen) < 2:
        return None
    steps = [step for fix in chosen for step in fix.spec.steps]
    rows = np.unique(np.concatenate([f.rows for f in chosen]))
    names = ", ".join(f.category for f in chosen)
    return Fix(
        "combined_top_fixes",
        f"Apply the top {len(chosen)} fixes together ({names})",
        "The best-measured fixes that beat their random control, applied in one dataset.",
        FixSpec(candidate_path, steps, reference_path),
        int(rows.size + sum(s.count for s in steps)),
        rows,
    )


def _public(record: dict[str, Any], priority: int) -> dict[str, Any]:
    risk = record["risk_impact"]
    out = {
        "priority": priority,
        "category": record["category"],
        "title": record["title"],
        "description": record["description"],
        "impact": {
            "current": risk["current"],
            "expected": risk["expected"],
            "improvement": risk["improvement"],
        },
        "affected_rows": record["affected_rows"],
    }
    out.update({k: v for k, v in record.items() if k not in out and not k.startswith("_")})
    return out
