"""The localizer's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LocalizeConfig:
    """What the localizer looks at and where a row counts as flagged.

    flag_score: a row is flagged when its score (1 - its smallest false-discovery q-value
        over the evidence) reaches this; 0.9 means a false-discovery rate of 10 % per
        evidence source.
    reference_rows: rows of the reference kept for nearest-neighbour work (the detector's
        seeded sample; exact copies are hashed over every reference row regardless).
    neighbours: K of the nearest / K-th nearest distance ratio of duplicates and copies
        (a group of up to K near-identical rows still stands out).
    support_k: reference rows whose mean distance is the out-of-support statistic.
    label_folds / label_rows: cross-validation folds of the label model and the most rows
        any fold's model trains on (every row is still predicted out of fold).
    model_rows: rows scored with the cascade's models (a seeded sample when more): each
        forward pass of even the smallest models costs far more than the data evidence.
    model_batch: rows per forward pass of a cascade model.
    max_regions: regions kept in the report (largest impact first).
    region_gap: flagged rows at most this many rows apart join one row range.
    min_range_rows: flagged rows in a run before the run is a row-range region.
    target_column / text_column / time_column: override the detector's inference.
    seed: every sample, split and model.
    threads: engine threads (default: all cores); model_threads: BLAS/OpenMP threads.
    load_options: passed to the loader (e.g. {"format": "csv"}).
    """

    flag_score: float = 0.9
    reference_rows: int = 100_000
    neighbours: int = 4
    support_k: int = 5
    label_folds: int = 5
    label_rows: int = 200_000
    model_rows: int = 5_000
    model_batch: int = 256
    max_regions: int = 50
    region_gap: int = 0
    min_range_rows: int = 2
    target_column: str | None = None
    text_column: str | None = None
    time_column: str | None = None
    seed: int = 0
    threads: int | None = None
    model_threads: int = 1
    load_options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not 0 < self.flag_score < 1:
            raise ValueError(f"flag_score must be in (0, 1), got {self.flag_score}")
        if self.neighbours < 2 or self.support_k < 1:
            raise ValueError("neighbours must be >= 2 and support_k >= 1")
        if self.label_folds < 2:
            raise ValueError(f"label_folds must be >= 2, got {self.label_folds}")
        for name in ("reference_rows", "label_rows", "model_rows", "model_batch", "max_regions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.region_gap < 0 or self.min_range_rows < 1:
            raise ValueError("region_gap must be >= 0 and min_range_rows >= 1")
