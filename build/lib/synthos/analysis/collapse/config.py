"""The detector's settings and the thresholds file.

Thresholds live in ``thresholds.json`` next to this module (package data) so that a
calibration can replace them without touching code: ``{"procedure": str, "thresholds":
{dimension: float}, "thresholds_by_modality": {modality: {dimension: float}}, ...}``. The
statistics of each modality have their own spread on real data, so a modality's own
threshold, where the file has one, wins over the dimension's general one.
`CollapseConfig()` loads them; `save_thresholds` writes the same format back (extra keys
such as calibration statistics are kept by the caller).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.fileio import write_json_atomic

#: The eight dimensions, in the order of DESIGN section 6.
DIMENSIONS: tuple[str, ...] = (
    "distribution_fidelity",
    "correlation_preservation",
    "entropy_stability",
    "tail_preservation",
    "memorization",
    "spectral_coherence",
    "training_stability",
    "generalization_gap",
)

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


MODALITIES: tuple[str, ...] = ("tabular", "text", "time_series")


def load_thresholds(path: str | os.PathLike = THRESHOLDS_FILE) -> dict[str, float]:
    """Thresholds per dimension from a thresholds file; every dimension must be present."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    thresholds = {name: float(value) for name, value in payload["thresholds"].items()}
    missing = [name for name in DIMENSIONS if name not in thresholds]
    if missing:
        raise ValueError(f"{path} has no threshold for {', '.join(missing)}")
    return thresholds


def load_modality_thresholds(
    path: str | os.PathLike = THRESHOLDS_FILE,
) -> dict[str, dict[str, float]]:
    """Per-modality thresholds from a thresholds file (none when it has no such section)."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        modality: {name: float(value) for name, value in values.items()}
        for modality, values in payload.get("thresholds_by_modality", {}).items()
    }


@dataclass
class CollapseConfig:
    """How much data each statistic sees and where a score fails.

    thresholds: a dimension fails when its score is below its threshold.
    modality_thresholds: thresholds of one modality, winning over `thresholds` where set
        (pass ``{}`` to apply `thresholds` to every modality).
    sample_rows: rows drawn (uniformly, seeded) from each dataset for the statistics; exact
        duplicates and copies of reference rows always use every row.
    series_rows: a time series is read in order, up to this many steps.
    holdout_fraction: share of the reference sample kept apart as the null baseline (a real
        sample the candidate is compared against in the same way).
    knn_rows: rows per side in nearest-neighbour work (coverage, DCR, near duplicates).
    k: neighbours for the k-NN support radius (coverage).
    classifier_rows: rows per side for the discriminator and the TSTR / TRTR models.
    cv_folds: folds of the cross-validated discriminator AUC.
    z: standard errors a difference must exceed before it counts (noise allowance). A soft
        floor: scores fall gradually beyond it and the calibrated thresholds decide, so 2
        keeps scores graded for weak defects while still discounting most sampling noise.
    target_column: target of the TSTR / TRTR models (tabular); default the last analysed
        column that is not a key.
    text_column / time_column: override the column the modality inference picked.
    entity_column: a panel's entity key: with a time column, one series per entity
        (`inputs`).
    column_roles: column -> role (`roles.ROLES`), winning over inference and metadata.
    meaningful_keys: keys take part in exact-copy hashing of whole rows (they never enter
        the other statistics).
    metadata: SDV metadata JSON or Synthos roles YAML (a path or a parsed dict,
        `metadata`): roles, panel columns and target, under the settings above.
    max_tokens_per_doc: tokens kept per text document.
    weights: weight of each dimension in the overall score.
    seed: seed of every sample, split and model.
    threads: engine threads (default: all cores).
    model_threads: OpenMP and BLAS threads while detecting (models, nearest neighbours,
        linear algebra). The work items are small: on a busy machine, pool threads
        spin-waiting for a share of the cores cost more than they gain (ten- to
        thirtyfold slowdowns of the boosted trees measured on 2 shared cores), so the
        default is 1. The engine's threads are `threads`.
    """

    thresholds: dict[str, float] = field(default_factory=load_thresholds)
    modality_thresholds: dict[str, dict[str, float]] = field(
        default_factory=load_modality_thresholds
    )
    threshold_procedure: str | None = None
    sample_rows: int = 20_000
    series_rows: int = 100_000
    holdout_fraction: float = 0.5
    knn_rows: int = 4_000
    k: int = 5
    classifier_rows: int = 3_000
    cv_folds: int = 3
    z: float = 2.0
    target_column: str | None = None
    text_column: str | None = None
    time_column: str | None = None
    entity_column: str | None = None
    column_roles: dict[str, str] = field(default_factory=dict)
    meaningful_keys: bool = False
    metadata: str | dict[str, Any] | None = None
    max_tokens_per_doc: int = 256
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 1.0))
    seed: int = 0
    threads: int | None = None
    model_threads: int = 1
    load_options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.thresholds) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"unknown dimensions in thresholds: {sorted(unknown)}")
        missing = [name for name in DIMENSIONS if name not in self.thresholds]
        if missing:
            defaults = load_thresholds()
            self.thresholds = {**{n: defaults[n] for n in missing}, **self.thresholds}
        for modality, values in self.modality_thresholds.items():
            if modality not in MODALITIES:
                raise ValueError(f"unknown modality in thresholds: {modality!r}")
            unknown = set(values) - set(DIMENSIONS)
            if unknown:
                raise ValueError(f"unknown dimensions in {modality} thresholds: {sorted(unknown)}")
        if not 0.1 <= self.holdout_fraction <= 0.9:
            raise ValueError(f"holdout_fraction must be in [0.1, 0.9], got {self.holdout_fraction}")
        for name in ("sample_rows", "series_rows", "knn_rows", "classifier_rows"):
            if getattr(self, name) < 50:
                raise ValueError(f"{name} must be >= 50, got {getattr(self, name)}")
        if self.k < 1 or self.cv_folds < 2:
            raise ValueError("k must be >= 1 and cv_folds >= 2")

    @classmethod
    def from_thresholds_file(cls, path: str | os.PathLike, **overrides: Any) -> CollapseConfig:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            thresholds=load_thresholds(path),
            modality_thresholds=load_modality_thresholds(path),
            threshold_procedure=payload.get("procedure"),
            **overrides,
        )

    def threshold(self, name: str, modality: str | None) -> float:
        """Where `name` fails on data of `modality`."""
        return self.modality_thresholds.get(modality or "", {}).get(name, self.thresholds[name])

    def save_thresholds(
        self,
        path: str | os.PathLike = THRESHOLDS_FILE,
        procedure: str | None = None,
        **extra: Any,
    ) -> Path:
        """Write the thresholds in the thresholds-file format (atomically)."""
        payload = {
            "procedure": procedure or self.threshold_procedure or "set by hand",
            "thresholds": {name: float(self.thresholds[name]) for name in DIMENSIONS},
            "thresholds_by_modality": self.modality_thresholds,
            **extra,
        }
        return write_json_atomic(path, payload)
