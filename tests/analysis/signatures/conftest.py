"""Real data for the signature tests: scikit-learn's breast-cancer table, the statsmodels
El Nino series and docstrings of the standard library, with defects made in the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def table() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame[[c for c in bunch.frame.columns if c.startswith("mean ")]].copy()
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()].astype(str)
    return frame


@pytest.fixture(scope="session")
def series() -> pd.DataFrame:
    from statsmodels.datasets import elnino

    values = elnino.load_pandas().data.drop(columns=["YEAR"]).to_numpy().ravel()
    dates = pd.date_range("1950-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({"date": dates, "sst": values})


#: Standard-library modules whose docstrings make the test corpus.
MODULES = (
    "argparse", "collections", "csv", "datetime", "decimal", "email", "functools", "http",
    "inspect", "itertools", "json", "logging", "os", "pathlib", "random", "re", "shutil",
    "socket", "statistics", "string", "subprocess", "tarfile", "textwrap", "threading",
    "unittest", "urllib", "uuid", "zipfile",
)  # fmt: skip


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    """Docstrings of standard-library functions and classes (at least 12 words, cut to 80)."""
    import importlib

    docs = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attribute in sorted(dir(module)):
            doc = getattr(getattr(module, attribute, None), "__doc__", None)
            words = doc.split() if isinstance(doc, str) else []
            if len(words) >= 12:
                docs.append(" ".join(words[:80]))
    docs = sorted(set(docs))[:400]
    return pd.DataFrame({"id": np.arange(len(docs)), "text": docs})


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two disjoint random halves."""
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return (
        frame.iloc[order[:half]].reset_index(drop=True),
        frame.iloc[order[half:]].reset_index(drop=True),
    )


def with_duplicates(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """`share` of the rows replaced by copies of other rows."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    targets = rng.choice(len(out), round(share * len(out)), replace=False)
    sources = rng.choice(np.setdiff1d(np.arange(len(out)), targets), len(targets))
    out.iloc[targets] = out.iloc[sources].to_numpy()
    return out
