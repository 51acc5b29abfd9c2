"""Thresholds from scored clean controls, checked on held-out splits.

Input: per-case records as a benchmark's results.json holds them (`case_id`, `modality`,
`family`, `seed` and `synthos: {error, scores}`; `family == "clean"` marks a clean control).
A record's seed chooses its split: even seeds calibrate, odd seeds check.

Procedure (the same for every dimension; nothing is tuned per case):

1. Per dimension, over the calibration controls where it is evaluated:
   threshold = Q_alpha(scores) - (MARGIN_POINTS + MARGIN_SPREAD x sd(scores)), with
   alpha = FPR_BUDGET / (number of dimensions evaluated): a Bonferroni split of the
   verdict's false-positive budget ("any dimension fails") over the dimensions; the margin
   allows for controls the calibration split did not contain. Clipped to [0, 100].
2. The same on each modality's controls alone, where a modality has at least MIN_CONTROLS
   of them (a modality's statistics have their own spread on real data); a modality whose
   Q_alpha is 100 (every control at the ceiling locates no tail) keeps the general one.
3. Extra controls (clean splits of other real tables) may join a modality's calibration,
   every one of them calibrating whatever its seed.
4. A dimension with fewer than MIN_CONTROLS controls keeps its current threshold.
5. Check: the verdict rule (collapse when any evaluated dimension is below its threshold)
   with the new thresholds, on the held-out and on the calibration split.

Defect cases never set a threshold; they only measure the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .config import DIMENSIONS, CollapseConfig

CLEAN = "clean"
FPR_BUDGET = 0.05
MARGIN_POINTS = 5.0
MARGIN_SPREAD = 0.5
MIN_CONTROLS = 10
#: The top of every dimension's score.
CEILING = 100.0
PROCEDURE = (
    "synthos.analysis.collapse.calibration: per dimension (and per modality where it has at "
    "least 10 controls), the alpha-quantile of its scores on the clean controls of the "
    "calibration splits (even seeds), alpha = 0.05 / number of evaluated dimensions, minus "
    "(5 + 0.5 x their standard deviation) points; a modality whose quantile is 100 keeps the "
    "all-modality threshold; extra real-table controls join their modality's calibration; "
    "dimensions without calibration controls keep their previous value"
)

Thresholds = tuple[dict[str, float], dict[str, dict[str, float]]]


@dataclass(frozen=True)
class DimensionCalibration:
    name: str
    controls: int
    quantile: float | None
    spread: float | None
    threshold: float
    calibrated: bool


@dataclass(frozen=True)
class Calibration:
    """New thresholds (general and per modality) and the record of how they were set."""

    general: dict[str, float]
    by_modality: dict[str, dict[str, float]]
    record: dict[str, Any]

    @property
    def thresholds(self) -> Thresholds:
        return self.general, self.by_modality

    def save(self, path: str | os.PathLike, config: CollapseConfig | None = None) -> Path:
        """Write a thresholds file (the format `CollapseConfig.from_thresholds_file` reads)."""
        config = config or CollapseConfig()
        config.thresholds, config.modality_thresholds = self.general, self.by_modality
        record = dict(self.record)  # the file keeps the number of misses, not their ids
        for split in ("check_held_out", "check_calibration_split"):
            record[split] = {**record[split], "misses": len(record[split]["misses"])}
        return config.save_thresholds(path, procedure=PROCEDURE, calibration=record)


def _scored(records: Iterable[dict]) -> list[dict]:
    return [r for r in records if not r["synthos"]["error"]]


def _is_clean(record: dict) -> bool:
    return record["family"] == CLEAN


def calibration_seeds(records: Iterable[dict]) -> frozenset[int]:
    """The seeds of the calibration split: the even ones."""
    return frozenset(r["seed"] for r in records if r["seed"] % 2 == 0)


def calibrate(
    records: Sequence[dict],
    dimensions: Sequence[str],
    current: dict[str, float],
    seeds: frozenset[int] | None,
) -> list[DimensionCalibration]:
    """Thresholds from the clean controls of `seeds` (None: every clean control)."""
    controls = [
        r for r in _scored(records) if _is_clean(r) and (seeds is None or r["seed"] in seeds)
    ]
    per_dimension = {
        name: np.array(
            [r["synthos"]["scores"][name] for r in controls if name in r["synthos"]["scores"]]
        )
        for name in dimensions
    }
    evaluated = [name for name, scores in per_dimension.items() if len(scores) >= MIN_CONTROLS]
    alpha = FPR_BUDGET / max(1, len(evaluated))
    out = []
    for name, scores in per_dimension.items():
        if name not in evaluated:
            out.append(DimensionCalibration(name, len(scores), None, None, current[name], False))
            continue
        quantile = float(np.quantile(scores, alpha))
        spread = float(scores.std(ddof=1))
        threshold = float(np.clip(quantile - (MARGIN_POINTS + MARGIN_SPREAD * spread), 0, 100))
        out.append(
            DimensionCalibration(name, len(scores), quantile, spread, round(threshold, 2), True)
        )
    return out


def threshold_of(thresholds: Thresholds, modality: str, name: str) -> float:
    general, by_modality = thresholds
    return by_modality.get(modality, {}).get(name, general[name])


def verdict(record: dict, thresholds: Thresholds) -> bool:
    """The detector's rule: collapse when any evaluated dimension is below its threshold."""
    return any(
        score < threshold_of(thresholds, record["modality"], name)
        for name, score in record["synthos"]["scores"].items()
    )


def check(records: Sequence[dict], thresholds: Thresholds, seeds: Iterable[int]) -> dict:
    """FPR and FNR of the verdict with `thresholds` on the cases of `seeds`."""
    seeds = set(seeds)
    chosen = [r for r in _scored(records) if r["seed"] in seeds]
    clean = [r for r in chosen if _is_clean(r)]
    defects = [r for r in chosen if not _is_clean(r)]
    false_alarms = [r["case_id"] for r in clean if verdict(r, thresholds)]
    misses = [r["case_id"] for r in defects if not verdict(r, thresholds)]
    return {
        "controls": len(clean),
        "defects": len(defects),
        "fpr": len(false_alarms) / len(clean) if clean else None,
        "fnr": len(misses) / len(defects) if defects else None,
        "false_alarms": false_alarms,
        "misses": misses,
    }


def _ceiling_keeps_general(
    dims: list[DimensionCalibration], general: dict[str, float]
) -> list[DimensionCalibration]:
    """A quantile at the score's ceiling locates no tail: the general threshold stands."""
    return [
        replace(d, threshold=general[d.name], calibrated=False)
        if d.calibrated and d.quantile is not None and d.quantile >= CEILING
        else d
        for d in dims
    ]


def by_modality(
    records: Sequence[dict],
    dimensions: Sequence[str],
    general: dict[str, float],
    seeds: frozenset[int] | None,
) -> dict[str, list[DimensionCalibration]]:
    """The procedure on each modality's controls alone (step 2)."""
    out = {}
    for modality in sorted({r["modality"] for r in records}):
        own = [r for r in records if r["modality"] == modality]
        out[modality] = _ceiling_keeps_general(calibrate(own, dimensions, general, seeds), general)
    return out


def with_extra_controls(
    records: Sequence[dict],
    extra: Sequence[dict],
    modality: str,
    general: dict[str, float],
    seeds: frozenset[int],
) -> list[DimensionCalibration]:
    """A modality's thresholds from its calibration controls together with every clean
    case of `extra` (step 3)."""
    own = [r for r in records if r["modality"] == modality and _is_clean(r) and r["seed"] in seeds]
    extra = [r for r in extra if r["modality"] == modality and _is_clean(r)]
    return _ceiling_keeps_general(calibrate(own + extra, DIMENSIONS, general, None), general)


def statistics(dims: Sequence[DimensionCalibration]) -> dict[str, dict]:
    return {
        d.name: {
            "controls": d.controls,
            "quantile": d.quantile,
            "sd": d.spread,
            "threshold": d.threshold,
            "calibrated": d.calibrated,
        }
        for d in dims
    }


def calibrate_thresholds(
    records: Sequence[dict],
    *,
    extra_controls: Sequence[dict] = (),
    current: dict[str, float] | None = None,
    command: str = "",
) -> Calibration:
    """The whole procedure of the module docstring on `records` (and `extra_controls`)."""
    current = current or CollapseConfig().thresholds
    seeds = calibration_seeds(records)
    dims = calibrate(records, DIMENSIONS, current, seeds)
    general = {d.name: d.threshold for d in dims}
    modality_dims = by_modality(records, DIMENSIONS, general, seeds)
    for modality in sorted({r["modality"] for r in extra_controls}):
        modality_dims[modality] = with_extra_controls(
            records, extra_controls, modality, general, seeds
        )
    own = {
        modality: {d.name: d.threshold for d in values if d.calibrated}
        for modality, values in modality_dims.items()
    }
    all_seeds = {r["seed"] for r in records}
    thresholds = (general, own)
    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "cases": len(records),
        "extra_controls": len(extra_controls),
        "dimensions": statistics(dims),
        "dimensions_by_modality": {m: statistics(v) for m, v in modality_dims.items()},
        "check_held_out": check(records, thresholds, all_seeds - seeds),
        "check_calibration_split": check(records, thresholds, all_seeds & seeds),
    }
    return Calibration(general, own, record)
