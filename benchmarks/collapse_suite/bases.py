"""The real base datasets of the suite, from data a PyPI package ships or this repository.

Nothing is downloaded at run time: tables come from scikit-learn's bundled loaders and
palmerpenguins, series from statsmodels' bundled datasets, text from a frozen sample of
the docstrings that `synthos.datamodules.sample_data.sample_text` collects
(`freeze_text_bases`).
Series are made stationary (trend removed or growth rates) so that two disjoint stretches of
the same series are honest samples of one distribution.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Text documents are cut to this many words: the suite measures the detector, not throughput.
TEXT_MAX_WORDS = 120
#: Text documents taken per text base dataset (half reference, half holdout).
TEXT_DOCUMENTS = 600
#: Top-level packages whose docstrings form the `numeric_docs` text base dataset.
NUMERIC_STACK = ("numpy", "pandas")
#: Digits are average-pooled from 8x8 to 4x4 pixels (16 features) to keep SDMetrics' pairwise
#: report affordable; the label stays.
DIGITS_POOL = 2
#: Series are split into blocks of this many seasons; blocks go to reference or holdout.
SERIES_BLOCK_SEASONS = 2

TIME_COLUMN = "date"
TEXT_COLUMN = "text"


@dataclass(frozen=True)
class BaseDataset:
    """One real dataset; `label` names the class column of a table (None when there is none),
    `season` the period in steps of a series (None for tables and text)."""

    name: str
    modality: str
    frame: pd.DataFrame
    label: str | None = None
    season: int | None = None


def _sklearn_table(loader: str, label: str | None) -> pd.DataFrame:
    import sklearn.datasets

    kwargs = {"scaled": False} if loader == "load_diabetes" else {}
    bunch = getattr(sklearn.datasets, loader)(as_frame=True, **kwargs)
    frame = bunch.frame.drop(columns=["target"])
    if label is None:
        frame["target"] = bunch.target.to_numpy(dtype=float)
    else:
        names = np.asarray(bunch.target_names)
        frame[label] = names[bunch.target.to_numpy()].astype(str)
    return frame.reset_index(drop=True)


def _breast_cancer() -> pd.DataFrame:
    """The ten `mean ...` features of the breast-cancer table (their standard errors and
    worst values are near-copies of them and triple the pairwise cost of SDMetrics)."""
    frame = _sklearn_table("load_breast_cancer", "diagnosis")
    return frame[[c for c in frame.columns if c.startswith("mean ")] + ["diagnosis"]]


def _digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.reshape(-1, 8 // DIGITS_POOL, DIGITS_POOL, 8 // DIGITS_POOL, DIGITS_POOL)
    pooled = images.mean(axis=(2, 4)).reshape(len(images), -1)
    side = 8 // DIGITS_POOL
    columns = [f"px_{r}_{c}" for r in range(side) for c in range(side)]
    frame = pd.DataFrame(pooled, columns=columns)
    frame["digit"] = bunch.target.astype(str)
    return frame


def _penguins() -> pd.DataFrame:
    """Palmer penguins without the rows that have missing values (333 of 344 rows), the
    label last like every table here (the detector's default target)."""
    from palmerpenguins import load_penguins

    frame = load_penguins().dropna().reset_index(drop=True)
    for column in ("species", "island", "sex"):
        frame[column] = frame[column].astype(str)
    for column in ("flipper_length_mm", "body_mass_g", "year"):
        frame[column] = frame[column].astype(np.int64)
    return frame[[c for c in frame.columns if c != "species"] + ["species"]]


def _elnino() -> pd.DataFrame:
    """Monthly sea-surface temperature of the El Nino region, 1950-2010: 732 steps, season 12."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data.drop(columns=["YEAR"])
    return pd.DataFrame({"sst": wide.to_numpy().ravel()})


def _co2_seasonal() -> pd.DataFrame:
    """Weekly Mauna Loa CO2 minus its centred 52-week mean: the seasonal cycle and noise
    without the trend, 2232 steps, season 52."""
    from statsmodels.datasets import co2

    series = co2.load_pandas().data["co2"].interpolate().bfill().ffill()
    trend = series.rolling(52, center=True).mean()
    detrended = (series - trend).dropna()
    return pd.DataFrame({"co2_anomaly": detrended.to_numpy()})


def _sunspots() -> pd.DataFrame:
    """Yearly sunspot activity 1700-2008: 309 steps, the ~11-year cycle."""
    from statsmodels.datasets import sunspots

    return pd.DataFrame({"activity": sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()})


def _macro_growth() -> pd.DataFrame:
    """Quarterly growth (log-difference, percent) of five US macro series, 202 steps."""
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    columns = ["realgdp", "realcons", "realinv", "realgovt", "realdpi"]
    growth = 100 * np.log(data[columns]).diff().dropna()
    return growth.reset_index(drop=True)


#: The text bases, frozen: collected docstrings differ between Python builds (3.11.2 and
#: 3.11.7 give different samples), so a case id would name different text on each.
TEXT_BASES_FILE = Path(__file__).with_name("data") / "text_bases.jsonl.gz"


def _text(numeric_stack: bool) -> pd.DataFrame:
    """The frozen sample of one text base (`freeze_text_bases` wrote it)."""
    frozen = pd.read_json(TEXT_BASES_FILE, lines=True, compression="gzip")
    name = "numeric_docs" if numeric_stack else "stdlib_docs"
    return frozen.loc[frozen["base"] == name, [TEXT_COLUMN]].reset_index(drop=True)


def _collected_text(cache_dir: Path, numeric_stack: bool) -> pd.DataFrame:
    """Docstrings of the numeric stack (numpy, pandas) or of the rest of the standard
    library, each cut to TEXT_MAX_WORDS words; a fixed sample of TEXT_DOCUMENTS."""
    from synthos.datamodules.sample_data import sample_text

    corpus = pd.read_json(sample_text(cache_dir), lines=True)
    top = corpus["source"].str.split(".").str[0]
    docs = corpus.loc[top.isin(NUMERIC_STACK) == numeric_stack, "text"]
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(docs), size=min(TEXT_DOCUMENTS, len(docs)), replace=False))
    cut = [" ".join(docs.iloc[i].split()[:TEXT_MAX_WORDS]) for i in chosen]
    return pd.DataFrame({TEXT_COLUMN: cut})


def freeze_text_bases(path: Path = TEXT_BASES_FILE) -> Path:
    """Collects both text bases from this Python's docstrings into `path` (JSONL, gzip)."""
    with tempfile.TemporaryDirectory() as cache_dir:
        parts = [
            _collected_text(Path(cache_dir), numeric_stack=name == "numeric_docs").assign(base=name)
            for name in TEXT_NAMES
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(parts).to_json(path, orient="records", lines=True, compression="gzip")
    return path


_TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str | None]] = {
    "breast_cancer": (_breast_cancer, "diagnosis"),
    "wine": (lambda: _sklearn_table("load_wine", "cultivar"), "cultivar"),
    "iris": (lambda: _sklearn_table("load_iris", "species"), "species"),
    "diabetes": (lambda: _sklearn_table("load_diabetes", None), None),
    "digits": (_digits, "digit"),
    "penguins": (_penguins, "species"),
}
_SERIES: dict[str, tuple[Callable[[], pd.DataFrame], int]] = {
    "elnino": (_elnino, 12),
    "co2_seasonal": (_co2_seasonal, 52),
    "sunspots": (_sunspots, 11),
    "macro_growth": (_macro_growth, 4),
}
TABLE_NAMES = tuple(_TABLES)
SERIES_NAMES = tuple(_SERIES)
TEXT_NAMES = ("stdlib_docs", "numeric_docs")
ALL_NAMES = TABLE_NAMES + SERIES_NAMES + TEXT_NAMES


def load_base(name: str) -> BaseDataset:
    """The named base dataset."""
    if name in _TABLES:
        build, label = _TABLES[name]
        return BaseDataset(name, "tabular", build(), label=label)
    if name in _SERIES:
        build, season = _SERIES[name]
        return BaseDataset(name, "time_series", build(), season=season)
    if name in TEXT_NAMES:
        return BaseDataset(name, "text", _text(numeric_stack=name == "numeric_docs"))
    raise ValueError(f"unknown base dataset {name!r}; choose from {ALL_NAMES}")
