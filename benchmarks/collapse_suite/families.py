"""The catalogue of defects: for each family and modality, its injector, its three levels
(weakest first) and the dimensions it must make fail.

Levels are fixed a priori from what the defect means, not tuned to the detector: a weakest
level is still a defect a user would want to hear about (2 % of each tail gone, 5 % of the
rows copied, a 20 % loss of spread, a quarter-standard-deviation shift, one of four modes
dropped, the first generations of recursive resampling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.collapse_suite import series_defects as series
from benchmarks.collapse_suite import tabular_defects as tabular
from benchmarks.collapse_suite import text_defects as text
from benchmarks.collapse_suite.bases import BaseDataset
from benchmarks.collapse_suite.case import Injected

Injector = Callable[..., Injected]

DISTRIBUTION = "distribution_fidelity"
CORRELATION = "correlation_preservation"
ENTROPY = "entropy_stability"
TAIL = "tail_preservation"
MEMORIZATION = "memorization"
SPECTRAL = "spectral_coherence"
GENERALIZATION = "generalization_gap"

#: Recursive resampling of tables: the sample's generations (intermediate generations of
#: 100 rows, see recursive.TABLE_GENERATION_ROWS).
TABLE_GENERATIONS = (5, 15, 40)


@dataclass(frozen=True)
class Defect:
    """One defect family for one modality."""

    family: str
    modality: str
    inject: Injector
    levels: tuple[float, float, float]
    expected_failing: frozenset[str]
    applies: Callable[[BaseDataset], bool] = lambda base: True


def _has_label(base: BaseDataset) -> bool:
    return base.label is not None


def _multivariate(base: BaseDataset) -> bool:
    return base.frame.shape[1] >= 2


def _seasonal(min_season: int) -> Callable[[BaseDataset], bool]:
    return lambda base: (base.season or 0) >= min_season


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


COPY_RATES = (0.05, 0.15, 0.30)
SEGMENT_RATES = (0.10, 0.20, 0.40)
TAIL_QUANTILES = (0.02, 0.05, 0.10)
SHRINK_FACTORS = (0.8, 0.6, 0.4)
SCALE_FACTORS = (1.25, 1.5, 2.0)
MEAN_SHIFTS = (0.25, 0.5, 1.0)
DROPPED_MODES = (1, 2, 3)

DEFECTS: tuple[Defect, ...] = (
    # tables
    Defect("tail_truncation", "tabular", tabular.tail_truncation, TAIL_QUANTILES, _set(TAIL)),
    Defect(
        "variance_shrinkage",
        "tabular",
        tabular.variance_shrinkage,
        SHRINK_FACTORS,
        _set(ENTROPY),
    ),
    Defect("mode_collapse", "tabular", tabular.mode_collapse, DROPPED_MODES, _set(ENTROPY)),
    Defect(
        "recursive_resampling",
        "tabular",
        tabular.recursive_resampling,
        TABLE_GENERATIONS,
        _set(ENTROPY, TAIL),
    ),
    Defect("exact_duplicates", "tabular", tabular.exact_duplicates, COPY_RATES, _set(MEMORIZATION)),
    Defect("near_duplicates", "tabular", tabular.near_duplicates, COPY_RATES, _set(MEMORIZATION)),
    Defect("memorized_copies", "tabular", tabular.memorized_copies, COPY_RATES, _set(MEMORIZATION)),
    Defect(
        "correlation_breaking",
        "tabular",
        tabular.correlation_breaking,
        (0.3, 0.6, 1.0),
        _set(CORRELATION),
    ),
    Defect(
        "label_noise",
        "tabular",
        tabular.label_noise,
        (0.1, 0.25, 0.4),
        _set(CORRELATION, GENERALIZATION),
        _has_label,
    ),
    Defect("mean_shift", "tabular", tabular.mean_shift, MEAN_SHIFTS, _set(DISTRIBUTION)),
    Defect("scale_shift", "tabular", tabular.scale_shift, SCALE_FACTORS, _set(DISTRIBUTION)),
    # text
    Defect("tail_truncation", "text", text.tail_truncation, (0.05, 0.10, 0.20), _set(TAIL)),
    Defect("mode_collapse", "text", text.mode_collapse, DROPPED_MODES, _set(ENTROPY)),
    Defect(
        "recursive_resampling",
        "text",
        text.recursive_resampling,
        (1, 3, 10),
        _set(ENTROPY, TAIL),
    ),
    Defect("repetition", "text", text.repetition, (0.1, 0.25, 0.5), _set(ENTROPY)),
    Defect("exact_duplicates", "text", text.exact_duplicates, COPY_RATES, _set(MEMORIZATION)),
    Defect("near_duplicates", "text", text.near_duplicates, COPY_RATES, _set(MEMORIZATION)),
    Defect("memorized_copies", "text", text.memorized_copies, COPY_RATES, _set(MEMORIZATION)),
    # series
    Defect("tail_truncation", "time_series", tabular.tail_truncation, TAIL_QUANTILES, _set(TAIL)),
    Defect(
        "variance_shrinkage",
        "time_series",
        tabular.variance_shrinkage,
        SHRINK_FACTORS,
        _set(ENTROPY),
    ),
    Defect("smoothing", "time_series", series.smoothing, (3, 5, 9), _set(SPECTRAL)),
    Defect(
        "periodicity_loss",
        "time_series",
        series.periodicity_loss,
        (0.5, 0.75, 1.0),
        _set(SPECTRAL),
        _seasonal(6),
    ),
    Defect(
        "recursive_resampling",
        "time_series",
        series.recursive_resampling,
        (1, 5, 20),
        _set(SPECTRAL),
        _seasonal(12),
    ),
    Defect(
        "exact_duplicates",
        "time_series",
        series.exact_duplicates,
        SEGMENT_RATES,
        _set(MEMORIZATION),
    ),
    Defect(
        "near_duplicates",
        "time_series",
        series.near_duplicates,
        SEGMENT_RATES,
        _set(MEMORIZATION),
    ),
    Defect(
        "memorized_copies",
        "time_series",
        series.memorized_copies,
        SEGMENT_RATES,
        _set(MEMORIZATION),
    ),
    Defect(
        "correlation_breaking",
        "time_series",
        series.correlation_breaking,
        (0.4, 0.6, 1.0),
        _set(CORRELATION),
        _multivariate,
    ),
    Defect("mean_shift", "time_series", tabular.mean_shift, MEAN_SHIFTS, _set(DISTRIBUTION)),
    Defect("scale_shift", "time_series", tabular.scale_shift, SCALE_FACTORS, _set(DISTRIBUTION)),
)

FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(d.family for d in DEFECTS))


def defects_for(base: BaseDataset) -> list[Defect]:
    """The defects that apply to `base`."""
    return [d for d in DEFECTS if d.modality == base.modality and d.applies(base)]


DIVERSITY_TYPES = frozenset({"mode_collapse", "diversity_loss"})
#: The collapse type(s) a family's defect is, (family, modality) where the modality matters.
#: Set a priori from what the defect does, never from the detector's output: lost
#: diversity may be read as either of its two types (with or without lost tails).
EXPECTED_TYPES: dict[str, frozenset[str]] = {
    "tail_truncation": frozenset({"tail_loss"}),
    "variance_shrinkage": DIVERSITY_TYPES,
    "mode_collapse": DIVERSITY_TYPES,
    "recursive_resampling": DIVERSITY_TYPES,
    "recursive_resampling/time_series": frozenset({"structure_loss"}),
    "exact_duplicates": frozenset({"memorization"}),
    "near_duplicates": frozenset({"memorization"}),
    "memorized_copies": frozenset({"memorization"}),
    "correlation_breaking": frozenset({"correlation_loss"}),
    "label_noise": frozenset({"correlation_loss", "generalization_gap"}),
    "mean_shift": frozenset({"distribution_shift"}),
    "scale_shift": frozenset({"distribution_shift"}),
    "repetition": DIVERSITY_TYPES,
    "smoothing": frozenset({"structure_loss"}),
    "periodicity_loss": frozenset({"structure_loss"}),
}


def expected_types(family: str, modality: str) -> frozenset[str]:
    return EXPECTED_TYPES.get(f"{family}/{modality}", EXPECTED_TYPES[family])
