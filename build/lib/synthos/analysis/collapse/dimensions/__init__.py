"""One module per dimension, each with `NAME` and ``evaluate(comparison) -> DimensionResult``.

`EVALUATORS` maps every name of `DIMENSIONS` to its module's `evaluate`, in order.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import DIMENSIONS
from ..inputs import Comparison
from ..result import DimensionResult
from . import (
    correlation_preservation,
    distribution_fidelity,
    entropy_stability,
    generalization_gap,
    memorization,
    spectral_coherence,
    tail_preservation,
    training_stability,
)

_MODULES = (
    distribution_fidelity,
    correlation_preservation,
    entropy_stability,
    tail_preservation,
    memorization,
    spectral_coherence,
    training_stability,
    generalization_gap,
)
EVALUATORS: dict[str, Callable[[Comparison], DimensionResult]] = {
    module.NAME: module.evaluate for module in _MODULES
}
assert tuple(EVALUATORS) == DIMENSIONS

__all__ = ["EVALUATORS"]
