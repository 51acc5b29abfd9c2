"""Known collapse patterns on bundled real data: the cases `synthos signatures seed` stores.

The collapse suite (`benchmarks/collapse_suite`) is not part of the installed package, so
the library carries its own small generator of the same mechanisms, applied to real data
that installed packages bundle (scikit-learn tables, statsmodels series, the Python
standard library's docstrings through `synthos.datamodules.sample_data.sample_text`).
Nothing is downloaded.

Each base dataset is split at random into a reference and a disjoint holdout (series in
blocks of whole seasons, each side kept in time order); the holdout against its reference
is a clean case, and each defect is injected into a holdout at three strengths:

* copies: exact_duplicates / near_duplicates (another row plus 1 % noise; text: 5 % of the
  words swapped) / memorized_copies (a reference row) replacing 5, 15, 30 % of the rows
  (series: season-long segments over 10, 20, 40 % of the steps);
* tail_truncation: numbers clipped to the reference's q / 1-q quantiles, q = 2, 5, 10 %
  (text: the rarest words holding 5, 10, 20 % of the tokens deleted);
* variance_shrinkage / scale_shift: deviations from the mean times 0.8, 0.6, 0.4 /
  1.25, 1.5, 2; mean_shift: + 0.25, 0.5, 1 reference standard deviations;
* mode_collapse: only rows in the largest of 4 k-means modes of the reference survive
  (1, 2, 3 modes dropped; text on TF-IDF);
* recursive_resampling: a model refitted on its own samples for several generations
  (Gaussian mixture for tables: 5, 15, 40; word bigrams for text: 1, 3, 10; AR(season + 1)
  for series: 1, 5, 20);
* correlation_breaking (tables): each column permuted independently on 30, 60, 100 % of
  the rows; repetition (text): 10, 25, 50 % of documents become a loop of their first 8
  words; smoothing (series): moving average over 3, 5, 9 steps.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from .seed import CLEAN, SeedCase

STRENGTHS = (1, 2, 3)
TEXT_DOCUMENTS = 600
TEXT_WORDS = 120
MODES = 4


@dataclass(frozen=True)
class Base:
    name: str
    modality: str
    frame: pd.DataFrame
    label: str | None = None
    season: int | None = None


def _sklearn(loader: str, label: str | None, prefix: str = "") -> pd.DataFrame:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    frame = bunch.frame.drop(columns=["target"])
    frame = frame[[c for c in frame.columns if c.startswith(prefix)]]
    if label is None:
        frame["target"] = bunch.target.to_numpy(dtype=float)
    else:
        frame[label] = np.asarray(bunch.target_names)[bunch.target.to_numpy()].astype(str)
    return frame


def _series(name: str) -> pd.DataFrame:
    from statsmodels import datasets

    if name == "elnino":
        data = datasets.elnino.load_pandas().data.drop(columns=["YEAR"])
        return pd.DataFrame({"sst": data.to_numpy().ravel()})
    if name == "sunspots":
        return pd.DataFrame({"activity": datasets.sunspots.load_pandas().data["SUNACTIVITY"]})
    data = datasets.macrodata.load_pandas().data[["realgdp", "realcons", "realinv"]]
    return (100 * np.log(data).diff().dropna()).reset_index(drop=True)


def _text(cache_dir: Path) -> pd.DataFrame:
    from synthos.datamodules.sample_data import sample_text

    corpus = pd.read_json(sample_text(cache_dir), lines=True)
    rng = np.random.default_rng(0)
    picks = np.sort(rng.choice(len(corpus), min(TEXT_DOCUMENTS, len(corpus)), replace=False))
    docs = [" ".join(corpus["text"].iloc[i].split()[:TEXT_WORDS]) for i in picks]
    return pd.DataFrame({"text": docs})


_BASES: dict[str, Callable[[Path], Base]] = {
    "breast_cancer": lambda cache: Base(
        "breast_cancer",
        "tabular",
        _sklearn("load_breast_cancer", "diagnosis", "mean "),
        "diagnosis",
    ),
    "wine": lambda cache: Base("wine", "tabular", _sklearn("load_wine", "cultivar"), "cultivar"),
    "diabetes": lambda cache: Base("diabetes", "tabular", _sklearn("load_diabetes", None)),
    "elnino": lambda cache: Base("elnino", "time_series", _series("elnino"), season=12),
    "sunspots": lambda cache: Base("sunspots", "time_series", _series("sunspots"), season=11),
    "macro_growth": lambda cache: Base("macro_growth", "time_series", _series("macro"), season=4),
    "docstrings": lambda cache: Base("docstrings", "text", _text(cache)),
}
BASE_NAMES = tuple(_BASES)


def bases(names: tuple[str, ...] = BASE_NAMES, cache_dir: Path | None = None) -> Iterator[Base]:
    """The bundled real datasets the patterns are made from (loaded one at a time)."""
    cache = cache_dir or Path(tempfile.gettempdir()) / "synthos_signature_patterns"
    for name in names:
        if name not in _BASES:
            raise ValueError(f"unknown base {name!r}; choose from {BASE_NAMES}")
        yield _BASES[name](cache)


def split(base: Base, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, holdout): random halves, or for a series halves of two-season blocks."""
    rng = np.random.default_rng(seed)
    if base.modality != "time_series":
        order = rng.permutation(len(base.frame))
        half = len(order) // 2
        return (
            base.frame.iloc[order[:half]].reset_index(drop=True),
            base.frame.iloc[order[half:]].reset_index(drop=True),
        )
    block = max(12, 2 * int(base.season or 1))
    starts = np.arange(0, len(base.frame) - block + 1, block)
    chosen = np.zeros(len(starts), dtype=bool)
    chosen[rng.permutation(len(starts))[: len(starts) // 2]] = True

    def gather(mask: np.ndarray) -> pd.DataFrame:
        values = pd.concat(
            [base.frame.iloc[s : s + block] for s in starts[mask]], ignore_index=True
        )
        dates = pd.date_range("2000-01-01", periods=len(values), freq="D")
        return pd.concat([pd.DataFrame({"date": dates}), values], axis=1)

    return gather(chosen), gather(~chosen)


# ------------------------------------------------------------------------- the defects


def _numeric(frame: pd.DataFrame, base: Base) -> list[str]:
    return [c for c in frame.columns if c != base.label and pd.api.types.is_float_dtype(frame[c])]


def _copies(ref, cand, base, rate, rng, source: str, noise: float = 0.0) -> pd.DataFrame:
    out = cand.copy()
    n = len(out)
    if base.modality == "time_series":
        season = max(4, int(base.season or 4))
        donor = ref if source == "reference" else cand
        columns = _numeric(out, base)
        for _ in range(max(1, round(rate * n / season))):
            at, take = rng.integers(0, n - season), rng.integers(0, len(donor) - season)
            segment = donor[columns].to_numpy()[take : take + season]
            out.loc[at : at + season - 1, columns] = (
                segment
                + noise * rng.standard_normal(segment.shape) * donor[columns].std().to_numpy()
            )
        return out
    targets = rng.choice(n, max(1, round(rate * n)), replace=False)
    donor = ref if source == "reference" else cand.drop(index=targets)
    picks = donor.iloc[rng.integers(0, len(donor), len(targets))].reset_index(drop=True)
    if noise and base.modality == "text":
        picks["text"] = [_swap_words(doc, noise * 5, rng) for doc in picks["text"]]
    elif noise:
        columns = _numeric(picks, base)
        spread = cand[columns].std().to_numpy()
        picks[columns] = picks[columns].to_numpy() + noise * spread * rng.standard_normal(
            (len(picks), len(columns))
        )
    out.iloc[targets] = picks[out.columns].to_numpy()
    return out


def _swap_words(doc: str, share: float, rng: np.random.Generator) -> str:
    words = doc.split()
    for at in rng.choice(len(words), max(1, round(share * len(words))), replace=True):
        words[at] = words[rng.integers(len(words))]
    return " ".join(words)


def _clip(ref, cand, base, q, rng) -> pd.DataFrame:
    out = cand.copy()
    for column in _numeric(out, base):
        lo, hi = ref[column].quantile([q, 1 - q])
        out[column] = out[column].clip(lo, hi)
    return out


def _drop_rare_words(ref, cand, base, share, rng) -> pd.DataFrame:
    counts = Counter(w for doc in ref["text"] for w in doc.split())
    total, mass, rare = sum(counts.values()), 0, set()
    for word, count in sorted(counts.items(), key=lambda item: (item[1], item[0])):
        if mass + count > share * total:
            break
        rare.add(word)
        mass += count
    docs = [" ".join(w for w in d.split() if w in counts and w not in rare) for d in cand["text"]]
    return pd.DataFrame({"text": [d for d in docs if d]})


def _scale(ref, cand, base, factor, rng) -> pd.DataFrame:
    out = cand.copy()
    for column in _numeric(out, base):
        out[column] = out[column].mean() + factor * (out[column] - out[column].mean())
    return out


def _shift(ref, cand, base, sds, rng) -> pd.DataFrame:
    out = cand.copy()
    for column in _numeric(out, base):
        out[column] = out[column] + sds * ref[column].std()
    return out


def _modes(ref, cand, base, dropped, rng) -> pd.DataFrame:
    from sklearn.cluster import KMeans

    if base.modality == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(max_features=2000, sublinear_tf=True).fit(ref["text"])
        a, b = vectorizer.transform(ref["text"]), vectorizer.transform(cand["text"])
    else:
        columns = _numeric(ref, base)
        mean, sd = ref[columns].mean(), ref[columns].std().replace(0, 1.0)
        a = ((ref[columns] - mean) / sd).to_numpy()
        b = ((cand[columns] - mean) / sd).to_numpy()
    model = KMeans(MODES, n_init=4, random_state=int(rng.integers(2**31))).fit(a)
    kept = np.argsort(-np.bincount(model.labels_, minlength=MODES), kind="stable")[
        : MODES - dropped
    ]
    return cand[np.isin(model.predict(b), kept)].reset_index(drop=True)


def _resample(ref, cand, base, generations, rng) -> pd.DataFrame:
    generations = int(generations)
    if base.modality == "text":
        docs = list(cand["text"])
        for _ in range(generations):
            docs = _bigram_generation(docs, rng)
        return pd.DataFrame({"text": docs})
    if base.modality == "time_series":
        out = cand.copy()
        order = int(base.season or 4) + 1
        for column in _numeric(out, base):
            values = out[column].to_numpy(dtype=float)
            for _ in range(generations):
                values = ar_generation(values, order, rng)
            out[column] = values
        return out
    return _mixture_generations(cand, base, generations, rng)


def _mixture_generations(cand, base, generations, rng) -> pd.DataFrame:
    from sklearn.mixture import GaussianMixture

    columns = _numeric(cand, base)
    current = cand.reset_index(drop=True)
    for generation in range(generations):
        values = current[columns].to_numpy(dtype=float)
        mean, sd = values.mean(axis=0), values.std(axis=0) + 1e-12
        mixture = GaussianMixture(3, reg_covar=1e-3, random_state=int(rng.integers(2**31)))
        mixture.fit((values - mean) / sd)
        rows = len(cand) if generation == generations - 1 else 100
        owner = mixture.predict((values - mean) / sd)
        drawn, parts = mixture.sample(rows)
        out = pd.DataFrame(drawn * sd + mean, columns=columns)
        for column in [c for c in current.columns if c not in columns]:
            values = current[column].to_numpy()
            pools = [values[owner == k] if np.any(owner == k) else values for k in range(3)]
            out[column] = [pools[k][rng.integers(len(pools[k]))] for k in parts]
        current = out.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return current[list(cand.columns)]


def _bigram_generation(docs: list[str], rng: np.random.Generator) -> list[str]:
    successors: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        for prev, word in pairwise(["<s>", *doc.split(), "</s>"]):
            successors[prev].append(word)
    longest = max(len(doc.split()) for doc in docs)
    out = []
    for _ in docs:
        words, prev = [], "<s>"
        while len(words) < longest:
            prev = successors[prev][rng.integers(len(successors[prev]))]
            if prev == "</s>":
                break
            words.append(prev)
        out.append(" ".join(words) or "empty")
    return out


def ar_generation(series: np.ndarray, order: int, rng: np.random.Generator) -> np.ndarray:
    """One generation of recursive collapse of a series: an AR(order) model fitted to it,
    then a series of the same length drawn from the fit (after a burn-in)."""
    n = len(series)
    lags = np.column_stack([series[order - k - 1 : n - k - 1] for k in range(order)])
    design = np.column_stack([np.ones(len(lags)), lags])
    coef = np.linalg.lstsq(design, series[order:], rcond=None)[0]
    sigma = (series[order:] - design @ coef).std()
    burn = 5 * order + 50
    out = np.empty(n + burn)
    out[:order] = series[:order]
    noise = rng.normal(scale=sigma, size=n + burn)
    for t in range(order, n + burn):
        out[t] = coef[0] + coef[1:] @ out[t - order : t][::-1] + noise[t]
    return out[burn:]


def _break_correlations(ref, cand, base, rate, rng) -> pd.DataFrame:
    out = cand.copy()
    rows = rng.choice(len(out), max(2, round(rate * len(out))), replace=False)
    for column in out.columns:
        values = out[column].to_numpy().copy()
        values[rows] = values[rng.permutation(rows)]
        out[column] = values
    return out


def _repeat(ref, cand, base, rate, rng) -> pd.DataFrame:
    docs = list(cand["text"])
    for row in rng.choice(len(docs), max(1, round(rate * len(docs))), replace=False):
        words = docs[row].split()
        loop = words[:8] or ["empty"]
        docs[row] = " ".join((loop * (len(words) // len(loop) + 1))[: len(words)])
    return pd.DataFrame({"text": docs})


def _smooth(ref, cand, base, width, rng) -> pd.DataFrame:
    out = cand.copy()
    for column in _numeric(out, base):
        out[column] = out[column].rolling(int(width), center=True, min_periods=1).mean()
    return out


def _defects() -> dict[str, dict[str, tuple[Callable, tuple[float, ...]]]]:
    copies = {
        "exact_duplicates": (
            lambda r, c, b, x, g: _copies(r, c, b, x, g, "candidate"),
            (0.05, 0.15, 0.3),
        ),
        "near_duplicates": (
            lambda r, c, b, x, g: _copies(r, c, b, x, g, "candidate", 0.01),
            (0.05, 0.15, 0.3),
        ),
        "memorized_copies": (
            lambda r, c, b, x, g: _copies(r, c, b, x, g, "reference"),
            (0.05, 0.15, 0.3),
        ),
    }
    marginal = {
        "variance_shrinkage": (_scale, (0.8, 0.6, 0.4)),
        "scale_shift": (_scale, (1.25, 1.5, 2.0)),
        "mean_shift": (_shift, (0.25, 0.5, 1.0)),
    }
    return {
        "tabular": {
            **copies,
            **marginal,
            "tail_truncation": (_clip, (0.02, 0.05, 0.1)),
            "mode_collapse": (_modes, (1, 2, 3)),
            "recursive_resampling": (_resample, (5, 15, 40)),
            "correlation_breaking": (_break_correlations, (0.3, 0.6, 1.0)),
        },
        "text": {
            **copies,
            "tail_truncation": (_drop_rare_words, (0.05, 0.1, 0.2)),
            "mode_collapse": (_modes, (1, 2, 3)),
            "recursive_resampling": (_resample, (1, 3, 10)),
            "repetition": (_repeat, (0.1, 0.25, 0.5)),
        },
        "time_series": {
            **copies,
            **marginal,
            "tail_truncation": (_clip, (0.02, 0.05, 0.1)),
            "recursive_resampling": (_resample, (1, 5, 20)),
            "smoothing": (_smooth, (3, 5, 9)),
        },
    }


def known_patterns(
    splits: int = 10, cache_dir: Path | None = None, names: tuple[str, ...] = BASE_NAMES
) -> Iterator[SeedCase]:
    """Clean cases (one per split) and every defect at every strength, for every base."""
    defects = _defects()
    for base in bases(names, cache_dir):
        pairs = [split(base, seed) for seed in range(splits)]
        for seed, (ref, hold) in enumerate(pairs):
            yield SeedCase(
                f"{base.name}/clean/s{seed}", hold, CLEAN, 0, ref, base.modality, base.name
            )
        for number, (family, (inject, levels)) in enumerate(defects[base.modality].items()):
            for strength, level in zip(STRENGTHS, levels, strict=True):
                seed = (number + strength) % splits
                ref, hold = pairs[seed]
                rng = np.random.default_rng([seed, number, strength])
                yield SeedCase(
                    f"{base.name}/{family}/{strength}/s{seed}",
                    inject(ref, hold, base, level, rng),
                    family,
                    strength,
                    ref,
                    base.modality,
                    base.name,
                )
