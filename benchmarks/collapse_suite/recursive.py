"""Recursive resampling: the model-collapse process itself.

A simple generative model is fitted to the data, sampled to a dataset of the same size, and
the next generation is fitted to that sample, and so on. Each finite-sample refit loses a
little of the tails and of the variance, and what is lost is never regained. Models:
a Gaussian mixture with per-component category frequencies for tables, a word bigram model
for text, an autoregression per column for series.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from synthos.analysis.signatures.patterns import ar_generation

#: Mixture components for tables; covariance regularisation (on standardised features).
MIXTURE_COMPONENTS = 3
MIXTURE_REG_COVAR = 1e-3
#: Rows each intermediate generation of a table is sampled to. The loss per generation grows
#: as the sample shrinks; a fixed size makes a number of generations mean the same collapse on
#: every base dataset. The last generation has as many rows as the input.
TABLE_GENERATION_ROWS = 100
#: Text: document boundary tokens of the bigram model.
START, END = "<s>", "</s>"


def resample_table(
    frame: pd.DataFrame, generations: int, rng: np.random.Generator, exclude: tuple[str, ...] = ()
) -> pd.DataFrame:
    """`generations` rounds of fit-and-sample of a mixture model (TABLE_GENERATION_ROWS rows
    per intermediate generation, len(frame) in the last).

    Numeric columns follow a Gaussian mixture (full covariance); the other columns are drawn
    from their frequencies within the sampled component. Integer columns are rounded.
    """
    numeric = [
        c for c in frame.columns if c not in exclude and pd.api.types.is_numeric_dtype(frame[c])
    ]
    categorical = [c for c in frame.columns if c not in numeric]
    current = frame.reset_index(drop=True)
    for generation in range(generations):
        rows = len(frame) if generation == generations - 1 else TABLE_GENERATION_ROWS
        current = _mixture_generation(current, numeric, categorical, rows, rng)
    for column in numeric:
        if pd.api.types.is_integer_dtype(frame[column]):
            current[column] = np.rint(current[column]).astype(frame[column].dtype)
    return current[list(frame.columns)]


def _mixture_generation(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    n: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    values = frame[numeric].to_numpy(dtype=float)
    mean, spread = values.mean(axis=0), values.std(axis=0)
    spread[spread == 0] = 1.0
    scaled = (values - mean) / spread
    mixture = GaussianMixture(
        n_components=min(MIXTURE_COMPONENTS, len(frame) // 10 or 1),
        covariance_type="full",
        reg_covar=MIXTURE_REG_COVAR,
        random_state=int(rng.integers(2**31)),
    ).fit(scaled)
    owner = mixture.predict(scaled)
    components = rng.choice(mixture.n_components, size=n, p=mixture.weights_)
    sample = np.empty((n, len(numeric)))
    for k in range(mixture.n_components):
        rows = np.flatnonzero(components == k)
        sample[rows] = rng.multivariate_normal(
            mixture.means_[k], mixture.covariances_[k], size=len(rows)
        )
    out = pd.DataFrame(sample * spread + mean, columns=numeric)
    for column in categorical:
        drawn = np.empty(n, dtype=object)
        for k in range(mixture.n_components):
            rows = np.flatnonzero(components == k)
            pool = frame[column].to_numpy()[owner == k]
            if len(pool) == 0:
                pool = frame[column].to_numpy()
            drawn[rows] = pool[rng.integers(len(pool), size=len(rows))]
        out[column] = pd.Series(drawn, dtype=frame[column].dtype)
    return out


def resample_text(docs: list[str], generations: int, rng: np.random.Generator) -> list[str]:
    """`generations` rounds of fitting a word bigram model and sampling as many documents,
    each no longer than the longest document of the previous generation."""
    current = list(docs)
    for _ in range(generations):
        current = _bigram_generation(current, rng)
    return current


def _bigram_generation(docs: list[str], rng: np.random.Generator) -> list[str]:
    successors: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        words = [START, *doc.split(), END]
        for prev, word in pairwise(words):
            successors[prev].append(word)
    table = {prev: np.array(words, dtype=object) for prev, words in successors.items()}
    longest = max(len(doc.split()) for doc in docs)
    out = []
    for _ in docs:
        words: list[str] = []
        prev = START
        while len(words) < longest:
            options = table[prev]
            prev = options[rng.integers(len(options))]
            if prev == END:
                break
            words.append(prev)
        out.append(" ".join(words) if words else options[0])
    return out


def resample_series(values: np.ndarray, order: int, generations: int, rng) -> np.ndarray:
    """`generations` rounds of fitting an AR(`order`) model by least squares to each column
    and simulating a series of the same length (Gaussian innovations, burn-in discarded)."""
    current = np.asarray(values, dtype=float)
    if current.ndim == 1:
        current = current[:, None]
    for _ in range(generations):
        current = np.column_stack(
            [ar_generation(current[:, j], order, rng) for j in range(current.shape[1])]
        )
    return current
