"""Bundled sample data, built at run time from what installed packages already ship.

Nothing is downloaded and nothing is copied into the repository: the text sample is the
documentation of the Python standard library (real English prose, deterministic for a given
Python install), the series samples are datasets that statsmodels bundles, the table samples
datasets that scikit-learn ships inside its package. Files are written once under `data_dir`
(atomically, so concurrent processes never see half a file) and reused.

Configs reach them through an OmegaConf resolver::

    data:
      path: ${synthos.sample:text,${paths.data_dir}}
      # or ${synthos.sample:series,${paths.data_dir}}        (CO2 weekly, season 52)
      # or ${synthos.sample:series,${paths.data_dir},macro}  (US macro quarterly, season 4)
      # or ${synthos.sample:table,${paths.data_dir}}         (breast cancer, target last)
      # or ${synthos.sample:table_candidate,${paths.data_dir}}  (its collapsed synthetic copy)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from synthos.fileio import atomic_write

SAMPLE_SUBDIR = "synthos_samples"
TEXT_FILE = "python_stdlib_docs.jsonl"

# Season length (in steps) of each bundled series, for `TimeSeriesDataModule(season_length=...)`.
SERIES_SEASON_LENGTH = {"co2": 52, "macro": 4}
SERIES_FILES = {"co2": "co2_weekly.csv", "macro": "us_macro_quarterly.csv"}

# The text sample stops growing here; the stdlib alone yields a few MB.
TEXT_MAX_BYTES = 5_000_000
TEXT_MIN_CHARS = 200
RESOLVER_NAME = "synthos.sample"

# Modules whose import has side effects (prints, opens a browser, needs a display, runs code)
# or that are test suites / tooling rather than documented library code.
_SKIP_TOP = {
    "this",
    "antigravity",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "lib2to3",
    "ensurepip",
    "venv",
    "pydoc_data",
    "readline",
    "rlcompleter",
    "site",
    "sitecustomize",
    "usercustomize",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
    "msilib",
    "winreg",
    "winsound",
    "msvcrt",
    "nturl2path",
}
_EXTRA_TOP = ("numpy", "pandas")
_SKIP_PARTS = {"test", "tests", "idle_test", "__main__"}


# --------------------------------------------------------------------------------------------
# Text: standard-library docstrings


def _collect_main(out_path: str, max_bytes: int, min_chars: int) -> None:
    """Runs in a child process (module imports may have side effects): walks the stdlib in
    sorted order and writes one JSON line per distinct, long-enough public docstring."""
    import warnings

    warnings.simplefilter("ignore")
    seen: set[str] = set()
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for modname in _documented_modules():
            if written >= max_bytes:
                return
            mod = _import_quietly(modname)
            if mod is None:
                continue
            for source, doc in _docstrings(modname, mod):
                if not isinstance(doc, str):
                    continue
                doc = doc.strip()
                if len(doc) < min_chars or doc in seen or len(doc.split()) < 20:
                    continue
                seen.add(doc)
                line = json.dumps({"text": doc, "source": source}, ensure_ascii=False)
                out.write(line + "\n")
                written += len(line.encode("utf-8")) + 1


def _public(name: str) -> bool:
    return not name.startswith("_")


def _import_quietly(modname: str) -> ModuleType | None:
    """The module, imported with its prints discarded; None when importing it fails."""
    import contextlib
    import importlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module(modname)
    except BaseException:
        return None


def _documented_modules() -> Iterator[str]:
    """The standard library first, then the numeric stack when installed (stdlib is ~1 MB):
    each top-level module, then its public submodules, in sorted order."""
    names = sorted(getattr(sys, "stdlib_module_names", ())) + list(_EXTRA_TOP)
    for top in names:
        if not _public(top) or top in _SKIP_TOP:
            continue
        yield from _module_names(top)


def _module_names(top: str) -> Iterator[str]:
    """`top`, then its public submodules (tests and private parts left out), sorted."""
    import pkgutil

    yield top
    path = getattr(_import_quietly(top), "__path__", None)
    if not path:
        return
    found = []
    for info in pkgutil.walk_packages(path, prefix=top + ".", onerror=lambda _n: None):
        parts = info.name.split(".")
        if any(not _public(p) or p in _SKIP_PARTS for p in parts[1:]):
            continue
        found.append(info.name)
    yield from sorted(set(found))


def _docstrings(modname: str, mod: ModuleType) -> Iterator[tuple[str, str | None]]:
    """(source, docstring) of the module, then of each public class and function it
    defines, and of each public method of those classes."""
    import inspect

    yield modname, inspect.getdoc(mod)
    for attr in sorted(vars(mod)):
        if not _public(attr):
            continue
        obj = vars(mod)[attr]
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)):
            continue
        if getattr(obj, "__module__", None) != modname:
            continue
        yield f"{modname}.{attr}", obj.__doc__ and inspect.cleandoc(obj.__doc__)
        if inspect.isclass(obj):
            yield from _method_docstrings(f"{modname}.{attr}", obj)


def _method_docstrings(source: str, cls: type) -> Iterator[tuple[str, str | None]]:
    """(source, docstring) of each public method (static and class methods included)."""
    import inspect

    members = vars(cls)
    for meth in sorted(members):
        if not _public(meth):
            continue
        fn = members[meth]
        if isinstance(fn, (staticmethod, classmethod)):
            fn = fn.__func__
        if inspect.isfunction(fn) or inspect.ismethoddescriptor(fn):
            doc = getattr(fn, "__doc__", None)
            yield f"{source}.{meth}", doc and inspect.cleandoc(doc)


_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_synthos_sample_data", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod._collect_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def sample_text(data_dir: str | os.PathLike) -> Path:
    """JSONL (`text`, `source`) of Python standard-library docstrings, ~2-5 MB.

    Collected in a child process so that importing hundreds of modules cannot touch this
    process; content is deterministic for a given Python installation.
    """
    path = Path(data_dir) / SAMPLE_SUBDIR / TEXT_FILE
    if path.exists() and path.stat().st_size > 0:
        return path

    def write(tmp: Path) -> None:
        env = dict(os.environ, PYTHONHASHSEED="0")
        args = [_CHILD, __file__, str(tmp), str(TEXT_MAX_BYTES), str(TEXT_MIN_CHARS)]
        with tempfile.TemporaryDirectory() as cwd:  # an empty cwd: nothing shadows the stdlib
            proc = subprocess.run(
                [sys.executable, "-c", *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=600,
                check=False,
            )
        if proc.returncode != 0 or tmp.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"collecting stdlib docstrings failed ({proc.returncode}): {tail}")

    atomic_write(path, write)
    return path


def _text_halves(data_dir: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """The docstrings split in two by a hash of their source: (reference, generator half)."""
    import hashlib

    docs = [json.loads(line) for line in sample_text(data_dir).read_text().splitlines() if line]
    halves: tuple[list[dict], list[dict]] = ([], [])
    for doc in docs:
        digest = hashlib.sha256(str(doc.get("source", doc["text"][:64])).encode()).digest()
        halves[digest[0] % 2].append(doc)
    return halves


def _write_jsonl(path: Path, docs: list[dict]) -> Path:
    from synthos.fileio import atomic_write_text

    return atomic_write_text(path, "".join(json.dumps(d) + "\n" for d in docs))


def sample_text_reference(data_dir: str | os.PathLike) -> Path:
    """JSONL of the real half of the docstrings: the reference of the text pair."""
    path = Path(data_dir) / SAMPLE_SUBDIR / "python_stdlib_docs_reference.jsonl"
    if path.exists() and path.stat().st_size > 0:
        return path
    return _write_jsonl(path, _text_halves(data_dir)[0])


def sample_text_candidate(data_dir: str | os.PathLike, seed: int = 0) -> Path:
    """JSONL of synthetic docstrings: a word-trigram Markov chain fitted on the other half of
    the docstrings, one generated document per real one with the same number of words. Its
    flaw is the one of any n-gram generator: local fluency without long-range structure."""
    import random

    path = Path(data_dir) / SAMPLE_SUBDIR / "python_stdlib_docs_candidate.jsonl"
    if path.exists() and path.stat().st_size > 0:
        return path
    source = _text_halves(data_dir)[1]
    chain: dict[tuple[str, str], list[str]] = {}
    for doc in source:
        words = ["<s>", "<s>", *doc["text"].split(" "), "</s>"]
        for a, b, c in zip(words, words[1:], words[2:], strict=False):
            chain.setdefault((a, b), []).append(c)
    rng = random.Random(seed)
    generated = []
    for index, doc in enumerate(source):
        words, state = [], ("<s>", "<s>")
        for _ in range(len(doc["text"].split(" "))):
            word = rng.choice(chain.get(state) or ["</s>"])
            if word == "</s>":
                state = ("<s>", "<s>")
                continue
            words.append(word)
            state = (state[1], word)
        generated.append({"text": " ".join(words), "source": f"trigram-{index}"})
    return _write_jsonl(path, generated)


# --------------------------------------------------------------------------------------------
# Series: statsmodels datasets


def _co2_frame():
    """Weekly atmospheric CO2 at Mauna Loa, 1958-03-29 .. 2001-12-29: 2284 steps, season 52;
    the 59 missing weeks are filled by time interpolation."""
    import pandas as pd
    from statsmodels.datasets import co2

    df = co2.load_pandas().data
    df = df.interpolate(method="time").bfill().ffill()
    out = pd.DataFrame({"date": df.index.strftime("%Y-%m-%d"), "co2": df["co2"].to_numpy()})
    return out


def _macro_frame():
    """US macroeconomic data, 1959Q1 .. 2009Q3: 203 quarterly steps, 12 numeric columns,
    season 4 (multivariate)."""
    import pandas as pd
    from statsmodels.datasets import macrodata

    df = macrodata.load_pandas().data
    time = pd.PeriodIndex.from_fields(
        year=df["year"].astype(int), quarter=df["quarter"].astype(int), freq="Q"
    )
    values = df.drop(columns=["year", "quarter"])
    out = pd.concat(
        [pd.DataFrame({"date": time.to_timestamp().strftime("%Y-%m-%d")}), values], axis=1
    )
    return out


_SERIES_FRAMES = {"co2": _co2_frame, "macro": _macro_frame}


def sample_series(data_dir: str | os.PathLike, name: str = "co2") -> Path:
    """CSV with a `date` column (ISO dates) and numeric columns from a statsmodels dataset.

    `co2`: 2284 weekly steps, 1 column, season 52. `macro`: 203 quarterly steps, 12 columns,
    season 4. Season lengths are in SERIES_SEASON_LENGTH.
    """
    if name not in _SERIES_FRAMES:
        raise ValueError(f"unknown sample series {name!r}; choose from {sorted(_SERIES_FRAMES)}")
    path = Path(data_dir) / SAMPLE_SUBDIR / SERIES_FILES[name]
    if path.exists() and path.stat().st_size > 0:
        return path
    frame = _SERIES_FRAMES[name]()
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))
    return path


# --------------------------------------------------------------------------------------------
# Tables: scikit-learn's bundled datasets (shipped inside the package, never downloaded)

#: name -> (loader in sklearn.datasets, target column, file); the target column comes last.
TABLES = {
    "breast_cancer": ("load_breast_cancer", "diagnosis", "breast_cancer.parquet"),
    "wine": ("load_wine", "cultivar", "wine.parquet"),
    "diabetes": ("load_diabetes", "progression", "diabetes.parquet"),
    "digits": ("load_digits", "digit", "digits.parquet"),
}
TABLE_TARGET = {name: target for name, (_, target, _) in TABLES.items()}


def _table_frame(name: str):
    """The dataset as a DataFrame with the target last; class labels as their names."""
    import sklearn.datasets

    loader, target, _ = TABLES[name]
    kwargs = {"scaled": False} if name == "diabetes" else {}
    bunch = getattr(sklearn.datasets, loader)(as_frame=True, **kwargs)
    frame = bunch.frame.drop(columns=["target"])
    labels = bunch.target.to_numpy()
    if getattr(bunch, "target_names", None) is not None:
        frame[target] = [str(bunch.target_names[int(i)]) for i in labels]
    else:
        frame[target] = labels
    return frame


def sample_table(data_dir: str | os.PathLike, name: str = "breast_cancer") -> Path:
    """Parquet of a real table bundled by scikit-learn, the target column last.

    `breast_cancer` (default): 569 rows, 30 numeric features, target `diagnosis`
    ("malignant" 212 / "benign" 357). `wine`: 178 rows, 13 numeric features, target
    `cultivar` (3 classes). `diabetes`: 442 rows, 10 features, numeric target `progression`.
    `digits`: 1797 rows, 64 pixel intensities (0-16), target `digit` (10 classes).
    Targets are in TABLE_TARGET.
    """
    if name not in TABLES:
        raise ValueError(f"unknown sample table {name!r}; choose from {sorted(TABLES)}")
    path = Path(data_dir) / SAMPLE_SUBDIR / TABLES[name][2]
    if path.exists() and path.stat().st_size > 0:
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(_table_frame(name), preserve_index=False)
    table = table.replace_schema_metadata(None)  # no pandas metadata: same bytes every time
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    return path


#: The synthetic candidate's generator: `CANDIDATE_GENERATIONS` rounds of fitting a
#: class-conditional Gaussian to the previous round's rows and sampling `CANDIDATE_ROWS` new
#: rows from it at `CANDIDATE_TEMPERATURE` (standard deviations scaled by it).
CANDIDATE_GENERATIONS = 5
CANDIDATE_TEMPERATURE = 0.8
CANDIDATE_ROWS = 1000


def _collapsed_candidate(reference, target: str, seed: int):
    """A synthetic table derived from `reference` by recursive fit-and-resample, the
    mechanism of model collapse: each generation a generator (class-conditional Gaussian, as
    many tabular generators are at heart) is fit to the previous generation's output and
    sampled at temperature < 1. After 5 generations the within-class spread of every feature
    is about 0.8^5 = 0.33 of the real one (overall standard deviations 0.28-0.83 of the real
    ones on breast_cancer): tails are gone, rare extreme rows never appear, the class balance
    has drifted (benign 56 % instead of 63 %) and every feature is Gaussian within a class.
    Values are clipped to the real range and rounded to the real data's precision, as a
    generator's post-processing would."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    features = [c for c in reference.columns if c != target]
    low = reference[features].min().to_numpy()
    high = reference[features].max().to_numpy()
    decimals = [_decimals(reference[c]) for c in features]
    labels = reference[target].to_numpy()
    values = reference[features].to_numpy(dtype=float)
    for _ in range(CANDIDATE_GENERATIONS):
        classes, counts = np.unique(labels, return_counts=True)
        drawn = rng.multinomial(CANDIDATE_ROWS, counts / counts.sum())
        parts, part_labels = [], []
        for cls, n in zip(classes, drawn, strict=True):
            rows = values[labels == cls]
            mean = rows.mean(axis=0)
            cov = np.cov(rows, rowvar=False) + 1e-9 * np.eye(rows.shape[1])
            parts.append(rng.multivariate_normal(mean, cov * CANDIDATE_TEMPERATURE**2, size=n))
            part_labels.append(np.full(n, cls, dtype=labels.dtype))
        values = np.clip(np.concatenate(parts), low, high)
        labels = np.concatenate(part_labels)
    order = rng.permutation(len(labels))
    frame = pd.DataFrame(values[order], columns=features)
    for column, places in zip(features, decimals, strict=True):
        frame[column] = frame[column].round(places).astype(reference[column].dtype)
    frame[target] = labels[order]
    return frame


def _decimals(column) -> int:
    """Decimal places the real column is recorded with (0 for integer columns)."""
    if column.dtype.kind in "iu":
        return 0
    text = column.astype(str)
    return int(text.str.split(".").str[1].str.len().fillna(0).max())


def sample_table_candidate(data_dir: str | os.PathLike, name: str = "breast_cancer") -> Path:
    """Parquet of a synthetic candidate derived from the real table `name` (its reference,
    `sample_table(data_dir, name)`) with a documented flaw: recursive resampling at
    temperature 0.8 over 5 generations (`_collapsed_candidate`), 1000 rows. Deterministic."""
    if name not in TABLES:
        raise ValueError(f"unknown sample table {name!r}; choose from {sorted(TABLES)}")
    path = Path(data_dir) / SAMPLE_SUBDIR / f"{Path(TABLES[name][2]).stem}_candidate.parquet"
    if path.exists() and path.stat().st_size > 0:
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _collapsed_candidate(_table_frame(name), TABLES[name][1], seed=0)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    return path


# --------------------------------------------------------------------------------------------
# OmegaConf resolver


def sample_path(kind: str, data_dir: str, name: str | None = None) -> str:
    """Resolver body: `text`, `series`, `table`, `table_candidate`, `text_reference` or
    `text_candidate` (optionally with a name) -> file path."""
    if kind == "text":
        return str(sample_text(data_dir))
    if kind == "series":
        return str(sample_series(data_dir, name or "co2"))
    if kind == "table":
        return str(sample_table(data_dir, name or "breast_cancer"))
    if kind == "table_candidate":
        return str(sample_table_candidate(data_dir, name or "breast_cancer"))
    if kind == "text_reference":
        return str(sample_text_reference(data_dir))
    if kind == "text_candidate":
        return str(sample_text_candidate(data_dir))
    raise ValueError(
        f"unknown sample kind {kind!r}; expected 'text', 'series', 'table', "
        "'table_candidate', 'text_reference' or 'text_candidate'"
    )


def register_resolvers() -> None:
    """Register `${synthos.sample:KIND,DATA_DIR[,NAME]}`; safe to call any number of times."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER_NAME):
        OmegaConf.register_new_resolver(RESOLVER_NAME, sample_path)
