"""Row-level defects for the localizer benchmark, beside the collapse suite's own.

The collapse suite's families with defective rows (duplicates, near duplicates, memorised
copies, label noise, repetition, correlation breaking) are used as they are. Three families
are added here, at the suite's copy rates (5 / 15 / 30 % of rows; series 10 / 20 / 40 % of
steps), so every modality has rows that do not belong:

* tables, `shifted_rows`: two random feature columns of each chosen row moved by
  `SHIFT_SDS` reference standard deviations (up or down at random): out-of-distribution rows;
* text, `junk_documents`: documents replaced by junk of six kinds (random characters,
  markup, number tables, keyboard mash, one word repeated, a short fragment);
* series, `noisy_segments`: season-long segments with noise of `NOISE_SDS` increment
  standard deviations added to every value.

`duplicate_sources` names the rows a duplicate was copied from: exact duplicates cannot be
told from their source by content, so the benchmark scores them against the whole group.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd

from benchmarks.collapse_suite.bases import TEXT_COLUMN, BaseDataset
from benchmarks.collapse_suite.case import Case, Injected
from benchmarks.collapse_suite.families import COPY_RATES, SEGMENT_RATES, Defect
from benchmarks.collapse_suite.series_defects import segment_length, value_columns
from benchmarks.collapse_suite.split import Split
from benchmarks.collapse_suite.tabular_defects import feature_columns

SHIFT_SDS = 3.0
SHIFTED_COLUMNS = 2
NOISE_SDS = 2.0
JUNK_KINDS = ("characters", "markup", "numbers", "mash", "repeated", "fragment")


def shifted_rows(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the rows get two feature columns moved by SHIFT_SDS reference sds."""
    out = split.holdout.copy()
    columns = feature_columns(out, base.label)
    rows = np.sort(rng.choice(len(out), size=max(1, round(rate * len(out))), replace=False))
    spread = split.reference[columns].std().replace(0, 1.0)
    for row in rows:
        for column in rng.choice(columns, size=min(SHIFTED_COLUMNS, len(columns)), replace=False):
            value = float(out.at[row, column]) + rng.choice([-1, 1]) * SHIFT_SDS * spread[column]
            if pd.api.types.is_integer_dtype(out[column]):
                value = round(value)
            out.at[row, column] = value
    return Injected(out, rows)


def _junk(kind: str, words: list[str], rng: np.random.Generator) -> str:
    length = max(8, len(words))
    if kind == "characters":
        pool = np.array(list(string.ascii_letters + string.digits + string.punctuation))
        return "".join(rng.choice(pool, size=6 * length))
    if kind == "markup":
        tags = ["<div class='nav'>", "</div>", "<br/>", "&nbsp;", "<li><a href='#'>", "</a></li>"]
        return " ".join(rng.choice(tags, size=length))
    if kind == "numbers":
        return " ".join(f"{v:.3f}" for v in rng.normal(size=length) * 100)
    if kind == "mash":
        rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
        return " ".join(
            "".join(rng.choice(list(rows[rng.integers(3)]), size=rng.integers(3, 9)))
            for _ in range(length)
        )
    if kind == "repeated":
        return " ".join([words[0] if words else "the"] * length)
    return " ".join(words[: max(1, min(3, len(words)))])


def junk_documents(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the documents replaced by junk, the kinds in turn."""
    docs = split.holdout[TEXT_COLUMN].tolist()
    rows = np.sort(rng.choice(len(docs), size=max(1, round(rate * len(docs))), replace=False))
    for i, row in enumerate(rows):
        docs[row] = _junk(JUNK_KINDS[i % len(JUNK_KINDS)], docs[row].split(), rng)
    return Injected(pd.DataFrame({TEXT_COLUMN: docs}), rows)


def noisy_segments(split: Split, base: BaseDataset, rate: float, rng) -> Injected:
    """`rate` of the steps, one season-long segment at a time, get noise of NOISE_SDS
    increment sds added."""
    columns = value_columns(split.holdout)
    values = split.holdout[columns].to_numpy(dtype=float).copy()
    length = segment_length(base)
    slots = len(values) // length
    count = min(slots - 1, max(1, round(rate * len(values) / length)))
    spread = np.diff(values, axis=0).std(axis=0)
    rows = []
    for slot in np.sort(rng.choice(slots, size=count, replace=False)):
        span = np.arange(slot * length, (slot + 1) * length)
        values[span] += NOISE_SDS * spread * rng.normal(size=(length, len(columns)))
        rows.append(span)
    out = split.holdout.copy()
    out[columns] = values
    return Injected(out, np.concatenate(rows))


ROW_DEFECTS: tuple[Defect, ...] = (
    Defect("shifted_rows", "tabular", shifted_rows, COPY_RATES, frozenset()),
    Defect("junk_documents", "text", junk_documents, COPY_RATES, frozenset()),
    Defect("noisy_segments", "time_series", noisy_segments, SEGMENT_RATES, frozenset()),
)


def duplicate_sources(case: Case) -> np.ndarray:
    """The untouched rows each duplicate of `case` was copied from. Tables and text: the
    candidate row nearest to each copy (equal, for exact duplicates); series: the segment
    of the same length that each pasted segment matches best."""
    defective = np.asarray(case.defective_rows)
    if case.modality == "time_series":
        return _segment_sources(case, defective)
    clean = np.setdiff1d(np.arange(len(case.candidate)), defective)
    if case.modality == "text":
        sets = [set(d.split()) for d in case.candidate[TEXT_COLUMN]]
        return np.unique([max(clean, key=lambda j: _jaccard(sets[i], sets[j])) for i in defective])
    numbers = case.candidate.select_dtypes("number").to_numpy(dtype=float)
    scale = np.where(numbers.std(axis=0) > 0, numbers.std(axis=0), 1.0)
    x = numbers / scale
    nearest = [clean[np.argmin(((x[clean] - x[i]) ** 2).sum(axis=1))] for i in defective]
    return np.unique(nearest)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def _segment_sources(case: Case, defective: np.ndarray) -> np.ndarray:
    values = case.candidate[value_columns(case.candidate)].to_numpy(dtype=float)
    runs = np.split(defective, np.flatnonzero(np.diff(defective) > 1) + 1)
    taken = set(defective.tolist())
    sources = []
    for run in runs:
        length = len(run)
        segment = values[run]
        best, where = np.inf, None
        for start in range(len(values) - length + 1):
            span = range(start, start + length)
            if taken.intersection(span):
                continue
            distance = float(((values[start : start + length] - segment) ** 2).sum())
            if distance < best:
                best, where = distance, start
        if where is not None:
            sources.extend(range(where, where + length))
    return np.unique(np.asarray(sources, dtype=np.int64))
