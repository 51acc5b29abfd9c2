"""A benchmark case: a reference, a candidate, and the ground truth of what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CLEAN = "clean"


@dataclass(frozen=True)
class Injected:
    """What a defect injector returns: the defective candidate and which of its rows (0-based
    positions) carry the defect. Defects that remove rows (truncation by deletion, dropped
    modes) leave no defective row behind; `removed_rows` counts what went missing."""

    candidate: pd.DataFrame
    defective_rows: np.ndarray
    removed_rows: int = 0


@dataclass(frozen=True)
class Case:
    """One detector input with its ground truth.

    `expected_failing` names the dimensions that must fail (empty for a clean control);
    `strength` is 0 for clean controls and 1 (weakest) to 3 (strongest) for defects, `level`
    the defect parameter behind it (a quantile, a rate, a number of generations, ...).
    """

    case_id: str
    base: str
    modality: str
    family: str
    strength: int
    level: float
    seed: int
    reference: pd.DataFrame
    candidate: pd.DataFrame
    expected_failing: frozenset[str]
    defective_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    removed_rows: int = 0

    @property
    def is_clean(self) -> bool:
        return self.family == CLEAN

    def ground_truth(self) -> dict:
        """The JSON-able ground truth (rows as a count and the first few indices)."""
        return {
            "family": self.family,
            "strength": self.strength,
            "level": self.level,
            "expected_failing": sorted(self.expected_failing),
            "defective_rows": len(self.defective_rows),
            "defective_row_sample": [int(i) for i in self.defective_rows[:20]],
            "removed_rows": self.removed_rows,
            "candidate_rows": len(self.candidate),
            "reference_rows": len(self.reference),
        }
