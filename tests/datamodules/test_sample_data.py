"""Bundled sample data: real, non-trivial, deterministic, reused, reachable from configs."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from synthos.datamodules import sample_data
from synthos.datamodules.sample_data import (
    SERIES_SEASON_LENGTH,
    register_resolvers,
    sample_series,
    sample_text,
)


def test_sample_text_is_real_prose_of_a_few_megabytes(stdlib_text, stdlib_docs):
    size = stdlib_text.stat().st_size
    assert 1_000_000 <= size <= 5_500_000, size
    assert len(stdlib_docs) > 1000
    assert all(len(doc) >= sample_data.TEXT_MIN_CHARS for doc in stdlib_docs)
    assert len(set(stdlib_docs)) == len(stdlib_docs), "docstrings are deduplicated"
    words = Counter(w.lower() for doc in stdlib_docs for w in re.findall(r"[A-Za-z]+", doc))
    for common in ("the", "return", "is", "of", "a", "object", "file"):
        assert words[common] > 500, common
    with open(stdlib_text, encoding="utf-8") as fh:
        sources = [json.loads(line)["source"] for line in fh]
    tops = {s.split(".")[0] for s in sources}
    assert {"json", "collections", "os"} <= tops
    assert not tops & {"this", "antigravity", "idlelib", "tkinter", "test"}
    assert not any(".tests." in s or s.startswith("_") for s in sources)


def test_sample_text_is_deterministic_and_reused(stdlib_text, tmp_path):
    again = sample_text(tmp_path)
    assert again.read_bytes() == stdlib_text.read_bytes()
    stamp = again.stat().st_mtime_ns
    assert sample_text(tmp_path) == again
    assert again.stat().st_mtime_ns == stamp, "an existing sample must not be rewritten"
    assert [p.name for p in again.parent.iterdir()] == [again.name], "no temp files left"


def test_sample_series_co2_is_weekly_with_a_52_week_season(tmp_path):
    path = sample_series(tmp_path)
    df = pd.read_csv(path)
    assert list(df.columns) == ["date", "co2"]
    assert len(df) == 2284
    assert df["co2"].notna().all()
    assert df["date"].iloc[0] == "1958-03-29" and df["date"].iloc[-1] == "2001-12-29"
    assert (pd.to_datetime(df["date"]).diff().dropna() == pd.Timedelta(days=7)).all()
    # The season is real: around a 52-week moving average, lag 52 repeats, lag 26 opposes.
    x = df["co2"].to_numpy()
    trend = pd.Series(x).rolling(52, center=True).mean().to_numpy()
    d = (x - trend)[~np.isnan(trend)]
    lag = SERIES_SEASON_LENGTH["co2"]
    corr = np.corrcoef(d[:-lag], d[lag:])[0, 1]
    anti = np.corrcoef(d[: -lag // 2], d[lag // 2 :])[0, 1]
    assert lag == 52 and corr > 0.9 and anti < -0.5


def test_sample_series_macro_is_multivariate_quarterly(tmp_path):
    path = sample_series(tmp_path, "macro")
    df = pd.read_csv(path)
    assert len(df) == 203 and df.columns[0] == "date"
    numeric = df.drop(columns="date")
    assert numeric.shape[1] == 12 and np.isfinite(numeric.to_numpy()).all()
    assert SERIES_SEASON_LENGTH["macro"] == 4
    assert df["date"].iloc[:2].tolist() == ["1959-01-01", "1959-04-01"]
    assert sample_series(tmp_path, "macro").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match="unknown sample series"):
        sample_series(tmp_path, "nope")


def test_resolver_in_an_omegaconf_config(stdlib_text):
    register_resolvers()
    register_resolvers()  # idempotent
    data_dir = str(stdlib_text.parent.parent)
    cfg = OmegaConf.create(
        {
            "paths": {"data_dir": data_dir},
            "text": {"path": "${synthos.sample:text,${paths.data_dir}}"},
            "series": {"path": "${synthos.sample:series,${paths.data_dir}}"},
            "macro": {"path": "${synthos.sample:series,${paths.data_dir},macro}"},
            "bad": "${synthos.sample:video,${paths.data_dir}}",
        }
    )
    assert cfg.text.path == str(stdlib_text)
    assert os.path.basename(cfg.series.path) == "co2_weekly.csv"
    assert os.path.exists(cfg.series.path) and os.path.exists(cfg.macro.path)
    assert os.path.dirname(cfg.macro.path) == os.path.dirname(cfg.text.path)
    with pytest.raises(Exception, match="unknown sample kind"):
        _ = cfg.bad
