"""Analyses of a candidate dataset: diversity (strata, evenness, rare patterns, outliers,
correlations, clusters, stratified sample).

    from synthos.analysis import analyze_diversity, DiversityConfig, DiversityResult

Imports are lazy so that ``import synthos.analysis`` stays cheap (the engine and
scikit-learn load on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .diversity import DiversityConfig, DiversityResult, analyze_diversity
    from .plots import plot_strata

__all__ = ["DiversityConfig", "DiversityResult", "analyze_diversity", "plot_strata"]

_LAZY = {
    "DiversityConfig": ".diversity",
    "DiversityResult": ".diversity",
    "analyze_diversity": ".diversity",
    "plot_strata": ".plots",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'synthos.analysis' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
