"""Small injected cases for the localizer: real rows split into candidate and reference, with
known rows made defective."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synthos.datamodules.loading import read_table
from synthos.datamodules.sample_data import _table_frame, sample_series, sample_text

SEED = 0
TEXT_DOCS = 400


@dataclass
class Injected:
    candidate: pd.DataFrame
    reference: pd.DataFrame
    rows: dict[str, np.ndarray]


def table() -> Injected:
    """Breast-cancer rows: duplicates of other candidate rows at rows 10-17 (a run), copies of
    reference rows scattered, flipped labels, and rows shifted far out on two columns."""
    frame = _table_frame("breast_cancer")
    order = np.random.default_rng(SEED).permutation(len(frame))
    reference = frame.iloc[order[:280]].reset_index(drop=True)
    candidate = frame.iloc[order[280:]].reset_index(drop=True).copy()
    rng = np.random.default_rng(1)
    duplicates = np.arange(10, 18)
    candidate.iloc[duplicates] = candidate.iloc[np.arange(200, 208)].to_numpy()
    copies = np.array([40, 77, 123, 150, 191])
    candidate.iloc[copies] = reference.iloc[[3, 30, 60, 90, 120]].to_numpy()
    target = candidate.columns[-1]
    flips = np.sort(rng.choice(np.arange(220, 289), size=12, replace=False))
    classes = np.unique(frame[target])
    candidate.loc[flips, target] = [classes[classes != v][0] for v in candidate.loc[flips, target]]
    shifted = np.array([60, 61, 62])
    for column in candidate.columns[:2]:
        candidate.loc[shifted, column] += 8 * reference[column].std()
    rows = {
        "duplicate": np.r_[duplicates, np.arange(200, 208)],
        "memorized": copies,
        "label_noise": flips,
        "out_of_distribution": shifted,
    }
    return Injected(candidate, reference, rows)


def duplicated_table() -> Injected:
    """Breast-cancer rows: a candidate whose rows 0-59 repeat rows 200-259 (a sixth of it
    duplicated), enough for the detector to call collapse."""
    frame = _table_frame("breast_cancer")
    order = np.random.default_rng(3).permutation(len(frame))
    reference, candidate = frame.iloc[order[:200]], frame.iloc[order[200:]].reset_index(drop=True)
    candidate.iloc[:60] = candidate.iloc[200:260].to_numpy()
    return Injected(candidate, reference, {"duplicate": np.r_[np.arange(60), np.arange(200, 260)]})


def text(data_dir: Path) -> Injected:
    """Standard-library docstrings with junk documents, exact duplicates and copies of
    reference documents."""
    frame = read_table(sample_text(data_dir), columns=["text"]).to_pandas()
    order = np.random.default_rng(SEED).permutation(len(frame))[:TEXT_DOCS]
    half = TEXT_DOCS // 2
    reference = frame.iloc[order[:half]].reset_index(drop=True)
    candidate = frame.iloc[order[half:]].reset_index(drop=True).copy()
    junk = np.array([5, 50, 95])
    candidate.loc[junk[0], "text"] = "zx9#q@ " * 60
    candidate.loc[junk[1], "text"] = "<div><br/>&nbsp;</div> " * 40
    candidate.loc[junk[2], "text"] = " ".join(f"{v:.4f}" for v in np.linspace(0, 90, 80))
    duplicates = np.array([20, 21])
    candidate.loc[duplicates, "text"] = candidate.loc[[150, 151], "text"].to_numpy()
    copies = np.array([120, 130])
    candidate.loc[copies, "text"] = reference.loc[[7, 8], "text"].to_numpy()
    rows = {
        "low_quality": junk,
        "duplicate": np.r_[duplicates, [150, 151]],
        "memorized": copies,
    }
    return Injected(candidate, reference, rows)


def series(data_dir: Path) -> Injected:
    """The CO2 record, first half reference, second half candidate, with a stretch of the
    reference pasted into the candidate."""
    frame = pd.read_csv(sample_series(data_dir, "co2"))
    half = len(frame) // 2
    reference = frame.iloc[:half].reset_index(drop=True)
    candidate = frame.iloc[half:].reset_index(drop=True).copy()
    values = [c for c in candidate.columns if pd.api.types.is_numeric_dtype(candidate[c])]
    span = np.arange(300, 360)
    shift = candidate.loc[span[0], values[0]] - reference.loc[100, values[0]]
    candidate.loc[span, values] = reference.loc[np.arange(100, 160), values].to_numpy() + shift
    return Injected(candidate, reference, {"memorized": span})
