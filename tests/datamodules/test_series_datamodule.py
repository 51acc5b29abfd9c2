"""TimeSeriesDataModule on real files: time-ordered splits, windows, scaling, errors."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from synthos.datamodules import TimeSeriesDataModule
from synthos.datamodules.sample_data import SERIES_SEASON_LENGTH, sample_series
from synthos.errors import DataError, ErrorCode
from synthos.task import FORECASTING

N = 200
FEATURES = ["load", "temp", "count"]


def frame(n: int = N) -> pd.DataFrame:
    """Trend plus season so that train-only statistics differ from whole-series ones."""
    t = np.arange(n)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "load": 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n),
            "site": ["a"] * n,
            "temp": 20 + 5 * np.cos(2 * np.pi * t / 30) - 0.01 * t,
            "count": (t % 13).astype(np.int64),
        }
    )


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "series.csv"
    frame().to_csv(path, index=False)
    return path


def make(path, **kwargs):
    args = dict(context_len=16, horizon=4, batch_size=8, time_column="date")
    args.update(kwargs)
    return TimeSeriesDataModule(str(path), **args)


def test_batches_and_task_spec(csv):
    dm = make(csv, season_length=7)
    spec = dm.task_spec()
    assert spec.kind == FORECASTING
    assert (spec.n_features, spec.horizon, spec.season_length) == (3, 4, 7)
    assert dm.feature_columns == FEATURES, "numeric columns only, time column excluded"
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.float32 and batch.shape == (8, 20, 3)
    assert dm.hparams["context_len"] == 16


def test_splits_are_consecutive_time_ranges_without_overlap(csv):
    dm = make(csv)
    dm.setup()
    (a, b), (c, d), (e, f) = (dm.split_ranges[s] for s in ("train", "val", "test"))
    assert (a, b, c, d, e, f) == (0, 140, 140, 170, 170, 200)
    dates = pd.to_datetime(frame()["date"]).to_numpy()
    assert dates[b - 1] < dates[c] and dates[d - 1] < dates[e]
    assert dm.split_time_ranges["train"] == ("2020-01-01", "2020-05-19")
    assert dm.split_time_ranges["val"][0] == "2020-05-20"
    assert dm.split_time_ranges["test"][1] == "2020-07-18"
    # Every window lies inside its own split's range (checked through the window contents).
    raw = frame()[FEATURES].to_numpy()
    for split, (lo, hi) in dm.split_ranges.items():
        ds = dm.datasets[split]
        assert len(ds) == hi - lo - 20 + 1
        assert ds.starts.min() >= 0 and ds.starts.max() + 20 <= hi - lo
        window = dm.denormalize(ds[len(ds) - 1].numpy().astype(np.float64))
        np.testing.assert_allclose(window, raw[hi - 20 : hi], rtol=1e-5, atol=1e-5)


def test_windows_equal_the_source_rows(csv):
    dm = make(csv, normalize=False, stride=3)
    dm.setup()
    raw = frame()[FEATURES].to_numpy()
    for split, (lo, _hi) in dm.split_ranges.items():
        ds = dm.datasets[split]
        assert np.array_equal(ds.starts, np.arange(len(ds)) * 3)
        for i in range(len(ds)):
            s = lo + int(ds.starts[i])
            np.testing.assert_allclose(ds[i].numpy(), raw[s : s + 20], rtol=1e-6)


def test_normalisation_uses_the_train_range_only(csv):
    dm = make(csv)
    dm.setup()
    raw = frame()[FEATURES].to_numpy()
    train = raw[:140]
    np.testing.assert_allclose(dm.mean, train.mean(axis=0))
    np.testing.assert_allclose(dm.std, train.std(axis=0))
    assert not np.allclose(dm.mean, raw.mean(axis=0)), "the trend makes the two differ"
    scaled = np.concatenate([dm.datasets["train"][i].numpy() for i in (0, 120)])
    expected = (np.concatenate([train[0:20], train[120:140]]) - train.mean(0)) / train.std(0)
    np.testing.assert_allclose(scaled, expected, rtol=1e-4, atol=1e-5)
    # Train windows are standardised; val windows (later, higher load) are not centred.
    all_train = dm.datasets["train"].values
    np.testing.assert_allclose(all_train.mean(0), 0, atol=1e-5)
    assert dm.datasets["val"].values[:, 0].mean() > 1.0
    state = dm.state_dict()
    other = make(csv)
    other.load_state_dict(state)
    np.testing.assert_allclose(other.denormalize(np.zeros(3)), dm.mean)


def test_constant_column_keeps_unit_scale(tmp_path):
    df = frame()
    df["count"] = 5
    df.to_csv(tmp_path / "c.csv", index=False)
    dm = make(tmp_path / "c.csv")
    dm.setup()
    assert dm.std[2] == 1.0 and np.isfinite(dm.datasets["train"].values).all()


def test_column_subset_order_and_unsorted_time(tmp_path):
    df = frame()
    shuffled = df.sample(frac=1.0, random_state=1)
    shuffled.to_parquet(tmp_path / "s.parquet")
    dm = make(tmp_path / "s.parquet", columns=["temp", "load"], normalize=False)
    dm.setup()
    assert dm.feature_columns == ["temp", "load"] and dm.task_spec().n_features == 2
    assert np.array_equal(shuffled.index.to_numpy()[dm.row_index], np.arange(N))
    np.testing.assert_allclose(dm.datasets["train"][0].numpy(), df[["temp", "load"]][:20])


def test_timestamp_time_column_with_time_zone(tmp_path):
    df = frame()
    df["date"] = pd.date_range("2020-01-01", periods=N, freq="h", tz="UTC")
    df.iloc[::-1].to_parquet(tmp_path / "tz.parquet")
    dm = make(tmp_path / "tz.parquet", normalize=False)
    dm.setup()
    assert np.array_equal(dm.row_index, np.arange(N)[::-1])
    assert dm.split_time_ranges["train"][0].startswith("2020-01-01 00:00:00")
    np.testing.assert_allclose(dm.datasets["test"][0].numpy(), df[FEATURES][170:190])


def test_max_windows_spreads_over_the_train_range(csv):
    dm = make(csv, max_windows=10)
    dm.setup()
    starts = dm.datasets["train"].starts
    assert len(starts) == 10 and starts[0] == 0 and starts[-1] == 140 - 20
    assert np.all(np.diff(starts) > 0)
    assert len(dm.datasets["val"]) == 30 - 20 + 1, "the budget applies to training only"


def test_zero_validation_fraction(csv):
    dm = make(csv, val_fraction=0.0)
    dm.setup()
    assert dm.split_ranges["val"] == (170, 170) and len(dm.datasets["val"]) == 0


def test_co2_sample_with_its_season(tmp_path):
    dm = TimeSeriesDataModule(
        str(sample_series(tmp_path)),
        time_column="date",
        context_len=64,
        horizon=8,
        season_length=SERIES_SEASON_LENGTH["co2"],
    )
    spec = dm.task_spec()
    assert (spec.n_features, spec.season_length, spec.horizon) == (1, 52, 8)
    dm.setup()
    assert dm.split_ranges["test"] == (2284 - 343, 2284)
    assert next(iter(dm.val_dataloader())).shape == (32, 72, 1)


def test_multivariate_macro_sample(tmp_path):
    dm = TimeSeriesDataModule(
        str(sample_series(tmp_path, "macro")),
        context_len=12,
        horizon=4,
        season_length=SERIES_SEASON_LENGTH["macro"],
        batch_size=4,
    )
    assert dm.task_spec().n_features == 12
    dm.setup()
    assert dm.time_column_used in (None, "date")
    batch = next(iter(dm.test_dataloader()))
    assert batch.shape == (4, 16, 12) and torch.isfinite(batch).all()


# ------------------------------------------------------------------------- bad input


def expect_data_error(dm, code, **details):
    with pytest.raises(DataError) as err:
        dm.setup()
    assert err.value.code == code, err.value
    for key, value in details.items():
        assert err.value.details.get(key) == value, err.value.details
    return err.value


def test_missing_column(csv):
    expect_data_error(make(csv, columns=["load", "wind"]), ErrorCode.DATA_SCHEMA, column="wind")
    expect_data_error(make(csv, time_column="when"), ErrorCode.DATA_SCHEMA, column="when")


def test_non_numeric_column(csv):
    err = expect_data_error(make(csv, columns=["site"]), ErrorCode.DATA_SCHEMA, column="site")
    assert "numeric" in str(err)


def test_no_numeric_columns(tmp_path):
    pd.DataFrame({"date": frame()["date"], "site": "x"}).to_csv(tmp_path / "s.csv", index=False)
    err = expect_data_error(make(tmp_path / "s.csv"), ErrorCode.DATA_SCHEMA)
    assert "no numeric columns" in err.message


@pytest.mark.parametrize("bad", [np.nan, np.inf, None])
def test_non_finite_value_names_column_and_row(tmp_path, bad):
    df = frame()
    df["temp"] = df["temp"].astype(object)
    df.loc[57, "temp"] = bad
    df.to_parquet(tmp_path / "bad.parquet")
    err = expect_data_error(
        make(tmp_path / "bad.parquet"), ErrorCode.DATA_VALUE, column="temp", row=57
    )
    assert "temp" in err.message and "57" in err.message


def test_nan_in_csv(tmp_path):
    df = frame()
    df.loc[33, "load"] = np.nan
    df.to_csv(tmp_path / "nan.csv", index=False)
    expect_data_error(make(tmp_path / "nan.csv"), ErrorCode.DATA_VALUE, column="load", row=33)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    expect_data_error(make(path), ErrorCode.DATA_EMPTY, path=str(path))


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("date,load\n")
    expect_data_error(make(path), ErrorCode.DATA_EMPTY, path=str(path))


def test_missing_file(tmp_path):
    expect_data_error(make(tmp_path / "nope.csv"), ErrorCode.DATA_NOT_FOUND)


def test_too_short_for_one_window_per_split(tmp_path):
    frame(100).to_csv(tmp_path / "short.csv", index=False)
    # 100 rows: val and test get 15 rows each, less than a window of 16 + 4.
    err = expect_data_error(make(tmp_path / "short.csv"), ErrorCode.DATA_EMPTY)
    assert "val" in err.message and "20" in err.message
    make(tmp_path / "short.csv", context_len=10, horizon=2).setup()


def test_bad_arguments_fail_early(csv):
    for kwargs in (
        {"horizon": 0},
        {"season_length": 52, "context_len": 16},
        {"val_fraction": 0.5, "test_fraction": 0.5},
        {"max_windows": 0},
    ):
        with pytest.raises(ValueError):
            make(csv, **kwargs)


# ------------------------------------------------------------------------- with a Trainer


class TinyForecaster(pl.LightningModule):
    def __init__(self, context_len: int, horizon: int, n_features: int) -> None:
        super().__init__()
        self.context_len, self.horizon = context_len, horizon
        self.net = torch.nn.Linear(context_len, horizon)

    def step(self, batch):
        x, y = batch[:, : self.context_len], batch[:, self.context_len :]
        pred = self.net(x.transpose(1, 2)).transpose(1, 2)
        return torch.nn.functional.mse_loss(pred, y)

    def training_step(self, batch, _idx):
        return self.step(batch)

    def validation_step(self, batch, _idx):
        self.log("val/loss", self.step(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_fits_with_a_trainer(csv):
    dm = make(csv)
    spec = dm.task_spec()
    model = TinyForecaster(16, spec.horizon, spec.n_features)
    trainer = pl.Trainer(
        max_steps=3,
        limit_val_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(model, datamodule=dm)
    (metrics,) = trainer.validate(model, datamodule=dm)
    assert np.isfinite(metrics["val/loss"])
