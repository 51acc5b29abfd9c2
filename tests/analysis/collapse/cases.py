"""Real data split into candidate and reference, and defects injected into the candidate.

Tables come from scikit-learn's bundled breast cancer data, text from the bundled Python
standard-library docstrings, series from statsmodels' bundled Mauna Loa CO2 record (all
through `synthos.datamodules.sample_data`; nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthos.datamodules.loading import read_table
from synthos.datamodules.sample_data import _table_frame, sample_series, sample_text

TEXT_DOCS = 1500
SEED = 0


def table_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = _table_frame("breast_cancer")
    order = np.random.default_rng(SEED).permutation(len(frame))
    half = len(frame) // 2
    return (
        frame.iloc[order[:half]].reset_index(drop=True),
        frame.iloc[order[half:]].reset_index(drop=True),
    )


def text_split(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = read_table(sample_text(data_dir), columns=["text"]).to_pandas()
    order = np.random.default_rng(SEED).permutation(len(frame))[:TEXT_DOCS]
    third = TEXT_DOCS // 3
    return (
        frame.iloc[order[:third]].reset_index(drop=True),
        frame.iloc[order[third:]].reset_index(drop=True),
    )


def series_split(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(sample_series(data_dir, "co2"))
    half = len(frame) // 2
    return frame.iloc[:half].reset_index(drop=True), frame.iloc[half:].reset_index(drop=True)


# --- tables --------------------------------------------------------------------------------


def _features(frame: pd.DataFrame) -> list[str]:
    return list(frame.columns[:-1])


def mean_shift(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    cols = _features(out)
    out[cols] = out[cols] + 0.8 * ref[cols].std()
    return out


def shuffle_columns(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    out = cand.copy()
    for col in _features(out):
        out[col] = rng.permutation(out[col].to_numpy())
    return out


def shrink_variance(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    cols = _features(out)
    out[cols] = ref[cols].mean() + 0.5 * (out[cols] - ref[cols].mean())
    return out


def truncate_tails(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    for col in _features(out):
        low, high = ref[col].quantile([0.1, 0.9])
        out[col] = out[col].clip(low, high)
    return out


def copy_reference(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return ref.sample(len(cand), replace=True, random_state=2).reset_index(drop=True)


def random_labels(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    target = out.columns[-1]
    out[target] = np.random.default_rng(3).permutation(out[target].to_numpy())
    return out


# --- text ----------------------------------------------------------------------------------


def _map_text(frame: pd.DataFrame, fn) -> pd.DataFrame:
    out = frame.copy()
    out["text"] = [fn(i, text) for i, text in enumerate(out["text"])]
    return out


def repeat_phrases(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return _map_text(cand, lambda _, t: " ".join(t.split()[:10] * 5))


def shuffle_words(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return _map_text(cand, lambda _, t: " ".join(rng.permutation(t.split())))


def common_words_only(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    words = pd.Series(" ".join(ref["text"]).lower().split()).value_counts()
    keep = set(words.index[:100])
    return _map_text(
        cand, lambda _, t: " ".join(w for w in t.lower().split() if w in keep) or "the"
    )


def copy_reference_docs(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return ref.iloc[: len(cand)].reset_index(drop=True)


# --- series --------------------------------------------------------------------------------


def _with_steps(frame: pd.DataFrame, steps: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    start = frame["co2"].iloc[0]
    out["co2"] = np.r_[start, start + np.cumsum(steps)]
    return out


def _steps(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(frame["co2"].to_numpy())


def smooth_series(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    out["co2"] = out["co2"].rolling(9, center=True, min_periods=1).mean()
    return out


def scale_steps(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return _with_steps(cand, 2.0 * _steps(cand))


def clip_steps(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    steps = _steps(cand)
    low, high = np.quantile(_steps(ref), [0.1, 0.9])
    return _with_steps(cand, np.clip(steps, low, high))


def copy_reference_stretch(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    out = cand.copy()
    out["co2"] = ref["co2"].to_numpy()[: len(cand)]
    return out


def shuffle_steps(cand: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return _with_steps(cand, np.random.default_rng(5).permutation(_steps(cand)))
