"""Forecasting data: numeric columns of a table as sliding windows over time.

The series is split in time order (train, then val, then test) and every window lies wholly
inside its own split's time range, so no value a model is evaluated on was ever seen in
training, not even as context. Normalisation statistics come from the train range only.
Batches are FloatTensors of shape (B, context_len + horizon, F); the forecasting module cuts
the context and the targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset

from synthos.datamodules.splits import SplitDataModule
from synthos.datamodules.subsample import quantile_buckets, stratified_subsample
from synthos.errors import DataError, ErrorCode
from synthos.task import FORECASTING, TaskSpec

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class SeriesWindows(Dataset):
    """Windows `values[s : s + window]` for each start `s` of one split."""

    def __init__(self, values: np.ndarray, starts: np.ndarray, window: int) -> None:
        self.values = values
        self.starts = starts
        self.window = window

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> torch.Tensor:
        start = int(self.starts[index])
        return torch.from_numpy(self.values[start : start + self.window].copy())


def _is_numeric(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)


def _is_temporal(typ: pa.DataType) -> bool:
    return pa.types.is_timestamp(typ) or pa.types.is_date(typ)


@dataclass(frozen=True)
class _OrderedSeries:
    """The feature values in time order, the file row of each, and their time values (None
    without a time column)."""

    values: np.ndarray
    order: np.ndarray
    times: np.ndarray | None


def _split_time_ranges(
    column: pa.ChunkedArray, order: np.ndarray, split_ranges: dict[str, tuple[int, int]]
) -> dict[str, tuple[str, str]]:
    """The first and last time value of each non-empty split."""
    return {
        split: (str(column[int(order[lo])].as_py()), str(column[int(order[hi - 1])].as_py()))
        for split, (lo, hi) in split_ranges.items()
        if hi > lo
    }


class TimeSeriesDataModule(SplitDataModule):
    """Sliding forecasting windows over the numeric columns of a table.

    Args:
        path: the dataset (anything `synthos.datamodules.loading.read_table` reads); one row
            per time step.
        columns: feature columns; None takes every numeric column except the time column.
        time_column: orders the rows (sorted if the file is not); None uses a date/timestamp
            column when there is exactly one, else file order.
        context_len / horizon: a window is `context_len + horizon` consecutive steps.
        season_length: the season in steps, for the seasonal-naive baseline (must fit in the
            context).
        stride: steps between window starts.
        val_fraction / test_fraction: the last fractions of the time range, in that order.
        max_windows: data budget, the most training windows (evenly spaced over the train
            range, so the budget still covers all of it).
        normalize: scale each feature by the mean and std of the train range.
        train_fraction: share of training windows used (stratified over time, so every
            part of the train range keeps windows); val/test do not change with it.
        subsample_seed: which windows that share is (cascade variants differ by it).
    """

    def __init__(
        self,
        path: str,
        columns: list[str] | None = None,
        time_column: str | None = None,
        context_len: int = 64,
        horizon: int = 8,
        season_length: int = 1,
        stride: int = 1,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 32,
        num_workers: int = 0,
        max_windows: int | None = None,
        normalize: bool = True,
        seed: int = 0,
        train_fraction: float = 1.0,
        subsample_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, value in (
            ("context_len", context_len),
            ("horizon", horizon),
            ("season_length", season_length),
            ("stride", stride),
            ("batch_size", batch_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if season_length > context_len:
            raise ValueError(
                f"season_length={season_length} exceeds context_len={context_len}: the "
                "seasonal-naive baseline needs one full season of context"
            )
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1) or (
            val_fraction + test_fraction >= 1
        ):
            raise ValueError("val_fraction and test_fraction must be in [0, 1) with sum < 1")
        if max_windows is not None and max_windows < 1:
            raise ValueError(f"max_windows must be >= 1, got {max_windows}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.path = str(path)
        self.columns = list(columns) if columns is not None else None
        self.time_column = time_column
        self.context_len = context_len
        self.horizon = horizon
        self.season_length = season_length
        self.stride = stride
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.max_windows = max_windows
        self.normalize = normalize
        self.seed = seed
        self.train_fraction = train_fraction
        self.subsample_seed = subsample_seed
        self.window = context_len + horizon

        self.feature_columns: list[str] | None = None
        self.time_column_used: str | None = None
        # Position in the file of each (time-ordered) row, for reports and row-level analysis.
        self.row_index: np.ndarray | None = None
        self.times: np.ndarray | None = None
        # [start, end) rows of each split in time order, and its first/last time value.
        self.split_ranges: dict[str, tuple[int, int]] = {}
        self.split_time_ranges: dict[str, tuple[str, str]] = {}
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self._values: np.ndarray | None = None
        self.datasets: dict[str, SeriesWindows] = {}

    # ---------------------------------------------------------------- reading and checks

    def _error(self, message: str, code: ErrorCode, **where) -> DataError:
        return DataError(message, code=code, path=self.path, **where)

    def _load(self) -> None:
        """Read, validate, order and split the series once; cheap on later calls."""
        if self._values is not None:
            return
        table = self._read()
        time_col = self.time_column
        if time_col is None:
            temporal = [n for n in table.column_names if _is_temporal(table.schema.field(n).type)]
            time_col = temporal[0] if len(temporal) == 1 else None
        features = self._features(table, time_col)
        ordered = self._in_time_order(table, time_col, self._feature_values(table, features))
        self.split_ranges = self._split(len(ordered.values))
        self.feature_columns = features
        self.time_column_used = time_col
        self.row_index = ordered.order
        self.times = ordered.times
        if time_col is not None:
            self.split_time_ranges = _split_time_ranges(
                table.column(time_col), ordered.order, self.split_ranges
            )
        self.mean, self.std = self._scaling(ordered.values)
        self._values = ((ordered.values - self.mean) / self.std).astype(np.float32)

    def _read(self) -> pa.Table:
        """The table with the wanted columns (all without `columns`); each named column must
        exist and the table must have rows."""
        from synthos.datamodules.loading import read_table

        wanted = None
        if self.columns is not None:
            wanted = list(dict.fromkeys(self.columns + [c for c in [self.time_column] if c]))
        table = read_table(self.path, columns=wanted)
        names = table.column_names
        for col in (wanted or []) + ([self.time_column] if self.time_column else []):
            if col not in names:
                raise self._error(
                    f"no column {col!r}; columns are {names}", ErrorCode.DATA_SCHEMA, column=col
                )
        if table.num_rows == 0:
            raise self._error("the dataset has no rows", ErrorCode.DATA_EMPTY)
        return table

    def _features(self, table: pa.Table, time_col: str | None) -> list[str]:
        """The feature columns: those named (each must be numeric), else every numeric
        column but the time column (there must be one)."""
        if self.columns is not None:
            features = list(dict.fromkeys(self.columns))
            for col in features:
                typ = table.schema.field(col).type
                if not _is_numeric(typ):
                    raise self._error(
                        f"column {col!r} has type {typ}",
                        ErrorCode.DATA_SCHEMA,
                        column=col,
                        expected="a numeric column",
                    )
            return features
        names = table.column_names
        features = [n for n in names if n != time_col and _is_numeric(table.schema.field(n).type)]
        if not features:
            types = {n: str(table.schema.field(n).type) for n in names}
            raise self._error(
                f"no numeric columns to forecast; column types are {types}",
                ErrorCode.DATA_SCHEMA,
                expected="at least one integer or floating-point column",
            )
        return features

    def _feature_values(self, table: pa.Table, features: list[str]) -> np.ndarray:
        """The features as a (rows, features) float64 array; a missing or non-finite value is
        a DataError naming its column and row."""
        values = np.empty((table.num_rows, len(features)), dtype=np.float64)
        for j, col in enumerate(features):
            arr = table.column(col).cast(pa.float64()).to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(~np.isfinite(arr))
            if len(bad):
                row = int(bad[0])
                raw = table.column(col)[row].as_py()
                what = "a missing value" if raw is None else f"the value {arr[row]}"
                raise self._error(
                    f"column {col!r} has {what} at row {row} ({len(bad)} non-finite value(s) "
                    "in all; rows are 0-based, header not counted)",
                    ErrorCode.DATA_VALUE,
                    column=col,
                    row=row,
                    expected="finite numbers (fill or drop missing steps first)",
                )
            values[:, j] = arr
        return values

    def _in_time_order(
        self, table: pa.Table, time_col: str | None, values: np.ndarray
    ) -> _OrderedSeries:
        """The rows sorted by the time column (stable; a warning when they were not in
        order); file order without a time column."""
        order = np.arange(table.num_rows)
        times = None
        if time_col is not None:
            times = self._time_values(table.column(time_col), time_col)
            if np.any(np.diff(times) < 0):
                log.warning("%s: rows are not in %r order; sorting them", self.path, time_col)
                order = np.argsort(times, kind="stable")
                values = values[order]
                times = times[order]
        return _OrderedSeries(values, order, times)

    def _scaling(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of each feature over the train range (0 and 1 without
        normalisation)."""
        lo, hi = self.split_ranges["train"]
        if not self.normalize:
            return np.zeros(values.shape[1]), np.ones(values.shape[1])
        mean = values[lo:hi].mean(axis=0)
        std = values[lo:hi].std(axis=0)
        # A constant feature keeps scale 1 instead of dividing by ~0.
        return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)

    def _time_values(self, column: pa.ChunkedArray, name: str) -> np.ndarray:
        """The time column as sortable numbers (int64 for dates/timestamps)."""
        nulls = np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))
        if len(nulls):
            raise self._error(
                f"time column {name!r} has a missing value at row {int(nulls[0])}",
                ErrorCode.DATA_VALUE,
                column=name,
                row=int(nulls[0]),
                expected="a time value in every row",
            )
        typ = column.type
        if _is_temporal(typ):
            # Only the order matters: the raw integer (days, ms, ...) keeps it, time zone or not.
            if pa.types.is_date32(typ):
                column = column.cast(pa.int32())
            return column.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if _is_numeric(typ):
            return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            import pandas as pd

            try:
                parsed = pd.to_datetime(pd.Series(column.to_pylist()), format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise self._error(
                    f"time column {name!r} is not parseable as dates: {str(exc)[:200]}",
                    ErrorCode.DATA_VALUE,
                    column=name,
                    expected="ISO 8601 dates, timestamps or numbers",
                ) from exc
            return parsed.to_numpy().astype("datetime64[us]").astype(np.int64)
        raise self._error(
            f"time column {name!r} has type {typ}",
            ErrorCode.DATA_SCHEMA,
            column=name,
            expected="a date, timestamp, number or ISO 8601 string column",
        )

    def _split(self, n: int) -> dict[str, tuple[int, int]]:
        """Consecutive time ranges [train | val | test]; each must hold one whole window."""
        n_val = round(n * self.val_fraction)
        n_test = round(n * self.test_fraction)
        n_train = n - n_val - n_test
        bounds = {
            "train": (0, n_train),
            "val": (n_train, n_train + n_val),
            "test": (n_train + n_val, n),
        }
        fractions = {"train": 1.0, "val": self.val_fraction, "test": self.test_fraction}
        for split, (lo, hi) in bounds.items():
            if fractions[split] > 0 and hi - lo < self.window:
                raise self._error(
                    f"the series has {n} rows; its {split} split (rows {lo}..{hi - 1}, "
                    f"{hi - lo} rows) is shorter than one window of context_len + horizon = "
                    f"{self.window}",
                    ErrorCode.DATA_EMPTY,
                    expected=(
                        f"a longer series, a shorter context_len/horizon or larger {split} fraction"
                    ),
                )
        return bounds

    # ---------------------------------------------------------------- Lightning hooks

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self._load()
        for split, (lo, hi) in self.split_ranges.items():
            starts = np.arange(0, max(0, hi - lo - self.window + 1), self.stride)
            if split == "train" and self.max_windows is not None and len(starts) > self.max_windows:
                pick = np.unique(np.linspace(0, len(starts) - 1, self.max_windows).round())
                starts = starts[pick.astype(np.int64)]
            if split == "train" and self.train_fraction < 1:
                strata = quantile_buckets(starts, n_buckets=10)
                keep = stratified_subsample(strata, self.train_fraction, self.subsample_seed)
                starts = starts[keep]
            self.datasets[split] = SeriesWindows(self._values[lo:hi], starts, self.window)

    def task_spec(self) -> TaskSpec:
        """What a forecaster for this data needs: features, horizon and season."""
        self._load()
        return TaskSpec(
            kind=FORECASTING,
            n_features=len(self.feature_columns),
            horizon=self.horizon,
            season_length=self.season_length,
        )

    def denormalize(self, x):
        """Undo the train-range scaling of a (..., F) array or tensor."""
        if self.mean is None:
            self._load()
        if isinstance(x, torch.Tensor):
            std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device)
            mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
            return x * std + mean
        return np.asarray(x) * self.std + self.mean

    def state_dict(self) -> dict:
        """The scaling travels inside checkpoints, so predictions can be put back in units."""
        if self.mean is None:
            return {}
        return {
            "feature_columns": list(self.feature_columns),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict and self.mean is None:
            self.feature_columns = list(state_dict["feature_columns"])
            self.mean = np.asarray(state_dict["mean"], dtype=np.float64)
            self.std = np.asarray(state_dict["std"], dtype=np.float64)
