"""The strata design: the dimensions that group rows into strata, set from the profile.

Every categorical column has a level dimension and every text column a length-bucket
dimension (their marginal counts are reported); the strata are the joint cells of a few
categorical, numeric and text dimensions, either the `strata_columns` asked for or chosen by
`strata.choose_dimensions` under `max_strata`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from synthos.errors import DataError, ErrorCode

from ..columns import Column
from ..strata import Dimension, categorical_levels, choose_dimensions
from .config import DiversityConfig
from .numeric import NumericStats
from .profile import Profile


@dataclass(frozen=True)
class StrataDesign:
    """dims: the dimensions of the strata key, in key order; marginal: the level (or length
    bucket) dimension of every categorical and text column, by column name."""

    dims: list[Dimension]
    marginal: dict[str, Dimension]

    @property
    def possible(self) -> int:
        """Number of strata that could occur."""
        return int(np.prod([d.cardinality for d in self.dims])) if self.dims else 1


def design_strata(
    profile: Profile, stats: dict[str, NumericStats], config: DiversityConfig, path: str
) -> StrataDesign:
    """Build every column's dimension and choose the strata dimensions among them."""
    marginal: dict[str, Dimension] = {}
    for col in profile.categorical:
        marginal[col.name] = _level_dimension(profile, col, config.max_levels)
    numeric = [
        _bin_dimension(profile, col, stats[col.name])
        for col in profile.numeric
        if col.name in stats
    ]
    for col in profile.text:
        marginal[col.name] = _length_dimension(profile, col)
    candidates = {
        "categorical": [marginal[c.name] for c in profile.categorical],
        "numeric": numeric,
        "text_length": [marginal[c.name] for c in profile.text],
    }
    if config.strata_columns:
        dims = _requested(config.strata_columns, candidates, profile, path)
    else:
        dims = choose_dimensions(candidates, config.max_strata)
    return StrataDesign(dims, marginal)


def _level_dimension(profile: Profile, col: Column, max_levels: int) -> Dimension:
    """Levels: the most frequent profile values; room for ``<other>`` and ``<null>``."""
    column = profile.sample.column(col.alias)
    nulls = column.null_count
    counted = pc.value_counts(column.drop_null()) if nulls else pc.value_counts(column)
    real = {
        str(v): int(c)
        for v, c in zip(
            counted.field("values").to_pylist(),
            counted.field("counts").to_pylist(),
            strict=True,
        )
    }
    levels = categorical_levels(real, max_levels)
    size = len(levels) + (1 if len(real) > len(levels) or not profile.exact else 0)
    size += 1 if nulls else 0
    return Dimension(col.name, "categorical", levels, size=max(size, 1))


def _bin_dimension(profile: Profile, col: Column, stats: NumericStats) -> Dimension:
    """Quantile bins of the profile values, and a bin for missing values if any."""
    edges = stats.strata_edges
    size = len(edges) + 1 + (1 if np.isnan(profile.values(col)).any() else 0)
    return Dimension(col.name, "numeric", edges, size=size)


def _length_dimension(profile: Profile, col: Column) -> Dimension:
    """Length buckets seen in the profile, and one for missing values if any."""
    column = profile.sample.column(col.alias)
    lengths = pc.utf8_length(column.drop_null()).to_numpy(zero_copy_only=False)
    buckets = set(np.floor(np.log2(lengths + 1.0)).astype(int).tolist()) if lengths.size else set()
    size = max(1, len(buckets)) + (1 if column.null_count else 0)
    return Dimension(col.name, "text_length", [], size=size)


def _requested(
    names: Sequence[str],
    candidates: dict[str, list[Dimension]],
    profile: Profile,
    path: str,
) -> list[Dimension]:
    by_column = {d.column: d for dims in candidates.values() for d in dims}
    for name in names:
        if name not in by_column:
            raise DataError(
                f"strata column {name!r} cannot be stratified (it was classified "
                f"as {profile.kind_of(name)})",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=name,
                expected="a categorical, numeric or text column",
            )
    return [by_column[name] for name in names]
