"""What a dimension could have seen: the smallest effect that would have failed it.

Each dimension scores ``100 exp(-excess / scale)``, the excess being what a difference
leaves beyond its noise allowance (z standard errors at the sizes compared). A dimension
fails when its score is under its threshold, that is when the excess exceeds
``scale ln(100 / threshold)`` (`needed_excess`). The smallest detectable effect is then
the allowance plus that excess, in the statistic's own units: a mean shift in reference
standard deviations, a ratio of spreads, a duplicate or copy rate, a lost share of a tail,
an AUC. It is computed from the same allowances the score used (median over the columns
or pairs tested, for an effect shared by them all), so a pass on small data reads "no mean
shift above 0.4 sd" rather than a bare PASS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def needed_excess(scale: float, threshold: float) -> float:
    """Excess beyond the noise allowance at which ``100 exp(-excess / scale)`` falls under
    `threshold`."""
    return scale * math.log(100.0 / max(threshold, 1e-9))


def middle(values: Iterable[float | None]) -> float | None:
    """Median of the finite values (the columns or pairs tested), None without one."""
    found = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.median(found)) if found else None


def effect(name: str, value: float | None, unit: str, text: str) -> dict[str, Any] | None:
    """One detectable effect; `text` is formatted with the value (None when unknown)."""
    if value is None or not math.isfinite(value):
        return None
    return {"effect": name, "value": value, "unit": unit, "text": text.format(value)}


def effects(*found: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [f for f in found if f is not None]
