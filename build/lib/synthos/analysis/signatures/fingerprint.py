"""The fingerprint: a fixed-length, schema-free vector that says what a dataset is like.

Two parts, each of fixed length whatever the dataset's columns:

* intrinsic (`INTRINSIC`, from the dataset alone): redundancy (duplicate rows over every
  row, near duplicates and clumping among neighbours: `nearness`), the shape of each
  column pooled over columns (`table_stats`: distinct and top-value shares, values piled
  on the edges, tail share, kurtosis, skewness, range, histogram entropy; categorical
  entropy), the dependence spectrum (effective rank of the correlation matrix), n-gram
  statistics of text (`text_stats`) and the autocorrelation and spectrum of series
  (`series_stats`). These are what collapse changes without any reference: copies raise
  duplicate shares, recursive resampling and mode collapse lower entropy and diversity,
  clipping piles values on the edges, smoothing moves power to low frequencies.
* relative (`RELATIVE`, only when a reference is given): candidate against reference
  (mean shift in reference standard deviations, log ratio of spreads, KS statistics, mass
  beyond the reference's 2 %/98 % quantiles, categorical total variation, change of the
  correlations, rows copied from the reference, distance to the closest reference row,
  coverage and precision of the reference's support, text vocabulary shift), then the
  difference candidate - reference of every intrinsic statistic (`delta_<name>`).

A statistic that does not apply (a text statistic of a table, a correlation of one column)
is NaN: the index treats it as typical. Each feature has a floor, the smallest change of
it that means something, which the index uses as the least spread it standardises by.

Deterministic: the same rows in any order or file format give the same vector (the sample
is keyed by content, every statistic is order-free, and series are read in time order);
the seed changes the sample of datasets larger than it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import nearness, series_stats, table_stats, text_stats
from .reading import SAMPLE_ROWS, SERIES_ROWS, DatasetSample, read_dataset

#: Bumped whenever a feature's definition changes; signatures of other versions are not
#: compared.
FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class Feature:
    name: str
    floor: float


def _features(*pairs: tuple[str, float]) -> tuple[Feature, ...]:
    return tuple(Feature(name, floor) for name, floor in pairs)


INTRINSIC: tuple[Feature, ...] = _features(
    ("duplicate_rows", 0.005),
    ("near_duplicate_share", 0.01),
    ("nn_spread", 0.1),
    ("distinct_share", 0.02),
    ("top_value_share", 0.01),
    ("edge_pileup", 0.1),
    ("edge_pileup_max", 0.1),
    ("tail_share", 0.005),
    ("tail_share_max", 0.005),
    ("kurtosis", 0.05),
    ("skewness", 0.05),
    ("range_iqr", 0.05),
    ("histogram_entropy", 0.01),
    ("missing_share", 0.005),
    ("category_entropy", 0.01),
    ("category_top_share", 0.01),
    ("effective_rank", 0.02),
    ("top_eigen_share", 0.02),
    ("mean_abs_correlation", 0.02),
    ("doc_length_log", 0.05),
    ("doc_length_cv", 0.02),
    ("distinct_1", 0.01),
    ("distinct_2", 0.01),
    ("distinct_3", 0.01),
    ("unigram_entropy_norm", 0.005),
    ("hapax_share", 0.01),
    ("zipf_slope", 0.02),
    ("top10_share", 0.005),
    ("doc_repetition", 0.005),
    ("looping_docs", 0.005),
    ("acf1_levels", 0.02),
    ("acf1_increments", 0.02),
    ("acf2_increments", 0.02),
    ("spectral_peak_share", 0.005),
    ("spectral_entropy", 0.01),
    ("high_frequency_share", 0.01),
    ("increment_flatness", 0.01),
    ("cross_correlation", 0.02),
)
TWO_SAMPLE: tuple[Feature, ...] = _features(
    ("mean_shift", 0.02),
    ("log_sd_ratio", 0.02),
    ("abs_log_sd_ratio", 0.02),
    ("ks_mean", 0.01),
    ("ks_max", 0.01),
    ("tail_mass_ratio", 0.05),
    ("category_tv", 0.01),
    ("correlation_change", 0.01),
    ("copied_rows", 0.005),
    ("close_copy_share", 0.01),
    ("dcr_ratio", 0.05),
    ("coverage", 0.01),
    ("precision", 0.01),
    ("oov_share", 0.005),
    ("vocabulary_ratio", 0.01),
    ("unigram_js", 0.005),
)
RELATIVE: tuple[Feature, ...] = TWO_SAMPLE + tuple(
    Feature(f"delta_{f.name}", f.floor) for f in INTRINSIC
)
#: Reference quantiles beyond which candidate mass is counted (tail_mass_ratio).
TAIL_QUANTILE = 0.02


@dataclass(frozen=True)
class FingerprintConfig:
    """How a dataset is read: sample sizes, the sample's seed, engine threads, the time
    column of a series whose rows are not in time order, loader options."""

    sample_rows: int = SAMPLE_ROWS
    series_rows: int = SERIES_ROWS
    seed: int = 0
    threads: int | None = None
    time_column: str | None = None
    load_options: dict[str, Any] | None = None


@dataclass
class Fingerprint:
    """A dataset's fingerprint. `relative` is None without a reference."""

    modality: str
    intrinsic: np.ndarray
    relative: np.ndarray | None
    dataset: dict[str, Any]
    reference: dict[str, Any] | None = None
    seconds: float = 0.0
    version: int = FINGERPRINT_VERSION
    notes: dict[str, Any] = field(default_factory=dict)

    def named(self) -> dict[str, float | None]:
        """Feature name -> value (None where it does not apply)."""
        out = {f.name: _value(v) for f, v in zip(INTRINSIC, self.intrinsic, strict=True)}
        if self.relative is not None:
            out.update({f.name: _value(v) for f, v in zip(RELATIVE, self.relative, strict=True)})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "modality": self.modality,
            "features": self.named(),
            "dataset": self.dataset,
            "reference": self.reference,
            "seconds": round(self.seconds, 4),
        }


def _value(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def fingerprint(
    data: Any,
    reference: Any = None,
    *,
    modality: str | None = None,
    config: FingerprintConfig | None = None,
) -> Fingerprint:
    """The fingerprint of `data` (a path, pyarrow Table or pandas DataFrame), with the
    relative part when a `reference` is given."""
    config = config or FingerprintConfig()
    started = time.perf_counter()
    options = {
        "sample_rows": config.sample_rows,
        "series_rows": config.series_rows,
        "seed": config.seed,
        "threads": config.threads,
        "time_column": config.time_column,
        "load_options": config.load_options,
    }
    cand = read_dataset(data, modality=modality, **options)
    ref = None
    if reference is not None:
        ref = read_dataset(reference, modality=cand.modality, **options)
    return fingerprint_samples(cand, ref, seed=config.seed, started=started)


def fingerprint_samples(
    cand: DatasetSample,
    ref: DatasetSample | None = None,
    *,
    seed: int = 0,
    started: float | None = None,
) -> Fingerprint:
    """The fingerprint of datasets already read (`reading.read_dataset`)."""
    started = time.perf_counter() if started is None else started
    own = intrinsic_statistics(cand, seed)
    intrinsic = np.array([own[f.name] for f in INTRINSIC], dtype=np.float64)
    relative = None
    if ref is not None:
        pair = two_sample_statistics(cand, ref, seed)
        theirs = intrinsic_statistics(ref, seed)
        values = [pair[f.name] for f in TWO_SAMPLE]
        values += [own[f.name] - theirs[f.name] for f in INTRINSIC]
        relative = np.array(values, dtype=np.float64)
    return Fingerprint(
        modality=cand.modality,
        intrinsic=intrinsic,
        relative=relative,
        dataset=_describe(cand),
        reference=None if ref is None else _describe(ref),
        seconds=time.perf_counter() - started,
        notes=dict(cand.notes),
    )


def _describe(sample: DatasetSample) -> dict[str, Any]:
    return {
        "path": sample.path,
        "content_hash": sample.content_hash,
        "modality": sample.modality,
        "modality_reason": sample.modality_reason,
        "rows": sample.rows,
        "columns": len(sample.columns),
        "sample_rows": sample.sample.num_rows,
        "sampled": sample.sampled,
        "text_column": sample.text_column,
        "time_column": sample.time_column,
    }


def intrinsic_statistics(sample: DatasetSample, seed: int = 0) -> dict[str, float]:
    """Every intrinsic feature of one dataset (NaN where it does not apply)."""
    out = dict.fromkeys((f.name for f in INTRINSIC), math.nan)
    series = sample.modality == "time_series"
    if not series:
        out["duplicate_rows"] = sample.duplicate_rows / max(1, sample.rows)
    table = sample.sample
    if table.num_columns:
        out["missing_share"] = float(
            np.mean(
                [table.column(c).null_count / max(1, table.num_rows) for c in table.column_names]
            )
        )
    if sample.modality == "text":
        out.update(text_stats.text_shape(text_stats.tokenize(sample.texts())))
    else:
        numeric = [sample.numbers(c) for c in sample.numeric_columns]
        out.update(table_stats.pooled_shapes(numeric))
        out.update(
            table_stats.category_shapes([sample.labels(c) for c in sample.categorical_columns])
        )
        out.update(table_stats.dependence(sample.value_matrix()))
        if series:
            out.update(series_stats.series_shape(_series_rows(sample)))
    rows = nearness.Embedding(sample, seed).rows(sample)
    out.update(nearness.self_nearness(rows, nearness.WINDOW if series else 0))
    return out


def _series_rows(sample: DatasetSample) -> np.ndarray:
    """Value columns in time order, missing values carried forward (then dropped)."""
    if not sample.numeric_columns:
        return np.zeros((0, 0))
    frame = sample.sample.select(sample.numeric_columns).to_pandas().astype(np.float64)
    return frame.ffill().dropna().to_numpy()


def two_sample_statistics(
    cand: DatasetSample, ref: DatasetSample, seed: int = 0
) -> dict[str, float]:
    """The TWO_SAMPLE features of a candidate against its reference."""
    out = dict.fromkeys((f.name for f in TWO_SAMPLE), math.nan)
    numeric = [c for c in ref.numeric_columns if c in cand.numeric_columns]
    categorical = [c for c in ref.categorical_columns if c in cand.categorical_columns]
    if numeric:
        out.update(_marginal_shift(cand, ref, numeric))
        out["correlation_change"] = _correlation_change(cand, ref, numeric)
    if categorical:
        out["category_tv"] = float(
            np.mean([_total_variation(cand.labels(c), ref.labels(c)) for c in categorical])
        )
    out["copied_rows"] = _copied_share(cand, ref)
    if cand.modality == "text":
        out.update(
            text_stats.vocabulary_shift(
                text_stats.tokenize(cand.texts()), text_stats.tokenize(ref.texts())
            )
        )
    embedding = nearness.Embedding(ref, seed)
    overlap = nearness.WINDOW if cand.modality == "time_series" else 0
    out.update(nearness.reference_nearness(embedding.rows(cand), embedding.rows(ref), overlap))
    return out


def _marginal_shift(cand: DatasetSample, ref: DatasetSample, columns: list[str]) -> dict:
    from scipy.stats import ks_2samp

    shifts, ratios, ks, tails = [], [], [], []
    for column in columns:
        a, b = cand.numbers(column), ref.numbers(column)
        sd = float(np.std(b))
        if a.size < 2 or b.size < 2 or sd <= 0:
            continue
        shifts.append(abs(float(a.mean() - b.mean())) / sd)
        ratios.append(math.log(max(float(np.std(a)), 1e-12 * sd) / sd))
        ks.append(float(ks_2samp(a, b).statistic))
        lo, hi = np.quantile(b, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
        beyond = float(np.mean((a < lo) | (a > hi)))
        expected = float(np.mean((b < lo) | (b > hi)))
        tails.append(math.log((beyond + 1 / a.size) / (expected + 1 / a.size)))
    if not shifts:
        return {}
    return {
        "mean_shift": float(np.mean(shifts)),
        "log_sd_ratio": float(np.mean(ratios)),
        "abs_log_sd_ratio": float(np.mean(np.abs(ratios))),
        "ks_mean": float(np.mean(ks)),
        "ks_max": float(np.max(ks)),
        "tail_mass_ratio": float(np.mean(tails)),
    }


def _correlation_change(cand: DatasetSample, ref: DatasetSample, columns: list[str]) -> float:
    def matrix(sample: DatasetSample) -> np.ndarray | None:
        rows = sample.sample.select(columns).to_pandas().astype(np.float64).dropna().to_numpy()
        if rows.shape[0] < 10 or np.any(np.std(rows, axis=0) == 0):
            return None
        return table_stats.spearman_matrix(rows)

    a, b = matrix(cand), matrix(ref)
    if a is None or b is None or a.shape != b.shape or a.shape[0] < 2:
        return math.nan
    upper = np.triu_indices(a.shape[0], 1)
    return float(np.mean(np.abs(a[upper] - b[upper])))


def _total_variation(a: np.ndarray, b: np.ndarray) -> float:
    levels = np.union1d(np.unique(a), np.unique(b))
    p = np.array([np.mean(a == level) for level in levels])
    q = np.array([np.mean(b == level) for level in levels])
    return float(0.5 * np.abs(p - q).sum())


def _row_hashes(sample: DatasetSample, columns: list[str]) -> np.ndarray:
    frame = sample.sample.select(columns).to_pandas()
    for column in columns:
        if column in sample.numeric_columns:
            frame[column] = frame[column].astype(np.float64)
        else:
            frame[column] = frame[column].astype(str)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _copied_share(cand: DatasetSample, ref: DatasetSample) -> float:
    """Share of the candidate's sampled rows equal to a sampled reference row on their
    common columns (the samples are keyed by content with one seed, so a row both datasets
    hold tends to be in both samples)."""
    columns = [c for c in cand.sample.column_names if c in ref.sample.column_names]
    if not columns or cand.sample.num_rows == 0:
        return math.nan
    return float(np.isin(_row_hashes(cand, columns), _row_hashes(ref, columns)).mean())
