"""Reference / holdout splits of a base dataset: two disjoint real samples of one distribution.

Tables and text are split at random in halves (stratified by the label when there is one).
Series are cut into blocks of whole seasons; a random half of the blocks forms the reference
and the rest the holdout, each kept in time order, so every seed gives another honest split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.bases import SERIES_BLOCK_SEASONS, TIME_COLUMN, BaseDataset

#: Shortest series block, in steps (a short season would give blocks too small to hold shape).
MIN_BLOCK_STEPS = 12
#: Every split series gets a fresh regular time axis starting here.
SERIES_START = "2000-01-01"


@dataclass(frozen=True)
class Split:
    """`reference` is what the candidate is compared with; `holdout` is disjoint real data from
    which clean controls and defective candidates are made."""

    reference: pd.DataFrame
    holdout: pd.DataFrame


def split_base(base: BaseDataset, seed: int) -> Split:
    """A disjoint reference / holdout split of `base`, deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    if base.modality == "time_series":
        return _split_series(base, rng)
    frame = base.frame
    if base.label is None:
        order = rng.permutation(len(frame))
        half = len(frame) // 2
        ref_rows, hold_rows = order[:half], order[half:]
    else:
        ref_parts, hold_parts = [], []
        for _, rows in frame.groupby(base.label, sort=True).indices.items():
            rows = rng.permutation(rows)
            half = len(rows) // 2
            ref_parts.append(rows[:half])
            hold_parts.append(rows[half:])
        ref_rows = rng.permutation(np.concatenate(ref_parts))
        hold_rows = rng.permutation(np.concatenate(hold_parts))
    return Split(
        frame.iloc[ref_rows].reset_index(drop=True), frame.iloc[hold_rows].reset_index(drop=True)
    )


def with_time_axis(values: pd.DataFrame) -> pd.DataFrame:
    """`values` with a regular daily `date` column in front (the spacing carries no meaning)."""
    dates = pd.date_range(SERIES_START, periods=len(values), freq="D")
    return pd.concat([pd.DataFrame({TIME_COLUMN: dates}), values.reset_index(drop=True)], axis=1)


def _split_series(base: BaseDataset, rng: np.random.Generator) -> Split:
    block = max(MIN_BLOCK_STEPS, SERIES_BLOCK_SEASONS * int(base.season or 1))
    starts = np.arange(0, len(base.frame) - block + 1, block)
    chosen = np.zeros(len(starts), dtype=bool)
    chosen[rng.permutation(len(starts))[: len(starts) // 2]] = True

    def gather(mask: np.ndarray) -> pd.DataFrame:
        parts = [base.frame.iloc[s : s + block] for s in starts[mask]]
        return with_time_axis(pd.concat(parts, ignore_index=True))

    return Split(gather(chosen), gather(~chosen))
