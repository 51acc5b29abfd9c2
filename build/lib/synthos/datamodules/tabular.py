"""Tabular data for the language-model objective: every row becomes one token sequence.

A row of C columns (the target column last) is the sequence of L + 1 = 2C + 1 tokens

    [BOS, <col:c1>, v1, <col:c2>, v2, ..., <col:target>, v_target]

where each value token belongs to its column:

- numeric columns are quantile-binned: `n_bins` equal-frequency bins (fewer when values
  repeat), edges fit on the reference data when one is given, else on the training rows;
  a value goes to bin `searchsorted(edges, value, side="right")`, so values below or above
  the fitted range fall in the first or last bin;
- categorical columns (strings, booleans, and integer-valued columns with at most `n_bins`
  distinct values) get one token per category for the `max_categories` most frequent ones
  and an OTHER token for the rest and for categories never seen in fitting;
- a missing value (null, NaN, or an empty string in a categorical column) is its column's
  NaN token.

Token ids are a pure function of the fitted vocabulary (column order, bin edges, category
lists), which is saved as JSON (`vocab_path`) next to the checkpoints and inside them.

Splits: without a reference, a seeded permutation of the rows gives val, test and train (as
for text). With a reference (`reference_path`, e.g. the real data a synthetic candidate
imitates), the model trains on every candidate row and is evaluated on held-out reference
rows (val, test); the remaining reference rows fit the vocabulary, so every candidate
evaluated against one reference shares one vocabulary and one test set.

Batches are dicts `{"tokens": LongTensor (B, L + 1), "target_mask": BoolTensor (B, L)}`;
`target_mask` marks the input position (the target's column token) whose next-token
prediction is the target value. The headline metric is the accuracy there (`target_acc`).

The tables are read whole (selected columns only); `max_rows` caps the training rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset

from synthos.datamodules.splits import SplitDataModule
from synthos.datamodules.subsample import quantile_buckets, stratified_subsample
from synthos.datamodules.text import SPLITS, _count
from synthos.errors import DataError, ErrorCode
from synthos.fileio import atomic_write_text
from synthos.task import LANGUAGE_MODEL, TaskSpec

log = logging.getLogger(__name__)

PAD, BOS = 0, 1
SPECIAL_TOKENS = ("<pad>", "<bos>")
NUMERIC, CATEGORICAL = "numeric", "categorical"
VOCAB_FORMAT = "synthos.tabular_vocab"
VOCAB_VERSION = 1


# ------------------------------------------------------------------------------------------
# Vocabulary


@dataclass
class ColumnVocab:
    """How one column's values become tokens.

    numeric: `edges` (ascending, distinct) make `len(edges) + 1` bins.
    categorical: `categories` (as strings, most frequent first) plus OTHER.
    Token ids are assigned by `TabularVocab`.
    """

    name: str
    kind: str
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def n_values(self) -> int:
        """Value tokens: NaN, then the bins, or NaN, OTHER and the categories."""
        if self.kind == NUMERIC:
            return 1 + len(self.edges) + 1
        return 2 + len(self.categories)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == NUMERIC:
            out["edges"] = list(self.edges)
        else:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class TokenInfo:
    """What a token stands for. `role` is one of pad, bos, column, nan, bin, category, other;
    `value` is the bin index (with `low`/`high` its range) or the category string."""

    token: int
    role: str
    column: str | None = None
    value: Any = None
    low: float | None = None
    high: float | None = None


class TabularVocab:
    """Token ids for a fixed list of columns (the target last).

    Layout: 0 <pad>, 1 <bos>, then one column token per column (in column order), then each
    column's value tokens in column order: numeric [NaN, bin 0, ..., bin k-1], categorical
    [NaN, OTHER, category 0, ...].
    """

    def __init__(self, columns: list[ColumnVocab], meta: dict[str, Any] | None = None) -> None:
        if not columns:
            raise ValueError("a tabular vocabulary needs at least one column")
        self.columns = list(columns)
        self.meta = dict(meta or {})
        self.column_token = {c.name: len(SPECIAL_TOKENS) + i for i, c in enumerate(columns)}
        self.value_base: dict[str, int] = {}
        next_id = len(SPECIAL_TOKENS) + len(columns)
        for c in columns:
            self.value_base[c.name] = next_id
            next_id += c.n_values
        self.size = next_id

    # ---------------------------------------------------------------- ids

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def target(self) -> str:
        return self.columns[-1].name

    @property
    def seq_len(self) -> int:
        """Model input length L (the sequences hold L + 1 tokens)."""
        return 2 * len(self.columns)

    def column(self, name: str) -> ColumnVocab:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def nan_token(self, name: str) -> int:
        return self.value_base[name]

    def other_token(self, name: str) -> int:
        if self.column(name).kind != CATEGORICAL:
            raise ValueError(f"column {name!r} is numeric: it has no OTHER token")
        return self.value_base[name] + 1

    def bin_token(self, name: str, index: int) -> int:
        return self.value_base[name] + 1 + index

    def category_token(self, name: str, category: str) -> int:
        return self.value_base[name] + 2 + self.column(name).categories.index(category)

    def value_tokens(self, name: str) -> range:
        """Ids of every value token of one column (e.g. the target's possible values)."""
        base = self.value_base[name]
        return range(base, base + self.column(name).n_values)

    def token_strings(self) -> list[str]:
        """A readable name for every id, in id order."""
        out = list(SPECIAL_TOKENS) + [f"<col:{c.name}>" for c in self.columns]
        for c in self.columns:
            out.append(f"<{c.name}:nan>")
            if c.kind == NUMERIC:
                bounds = [-math.inf, *c.edges, math.inf]
                out += [
                    f"<{c.name}:bin{i}[{bounds[i]:.6g},{bounds[i + 1]:.6g})>"
                    for i in range(len(c.edges) + 1)
                ]
            else:
                out.append(f"<{c.name}:other>")
                out += [f"<{c.name}={v}>" for v in c.categories]
        return out

    # ---------------------------------------------------------------- encode / decode

    def encode(self, table: pa.Table, path: str | None = None) -> np.ndarray:
        """(rows, 2C + 1) int32 token ids of `table` (which must hold every column)."""
        n = table.num_rows
        out = np.empty((n, 1 + 2 * len(self.columns)), dtype=np.int32)
        out[:, 0] = BOS
        for j, c in enumerate(self.columns):
            if c.name not in table.column_names:
                raise DataError(
                    f"no column {c.name!r}; columns are {table.column_names}",
                    code=ErrorCode.DATA_SCHEMA,
                    path=path,
                    column=c.name,
                    expected=f"the columns the tokenizer was fit on: {self.names}",
                )
            column = table.column(c.name)
            out[:, 1 + 2 * j] = self.column_token[c.name]
            base = self.value_base[c.name]
            if c.kind == NUMERIC:
                values = _numeric_values(column, c.name, path)
                bins = np.searchsorted(np.asarray(c.edges, dtype=np.float64), values, "right")
                ids = np.where(np.isnan(values), base, base + 1 + bins)
            else:
                strings = _category_strings(column, c.name, path)
                missing = pc.is_null(strings).to_numpy(zero_copy_only=False)
                index = pc.index_in(strings, value_set=pa.array(c.categories, pa.string()))
                found = pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
                ids = np.where(missing, base, np.where(found < 0, base + 1, base + 2 + found))
            out[:, 2 + 2 * j] = ids
        return out

    def describe(self, token: int) -> TokenInfo:
        """What one token id stands for."""
        token = int(token)
        if not 0 <= token < self.size:
            raise ValueError(f"token {token} is outside the vocabulary of {self.size}")
        if token < len(SPECIAL_TOKENS):
            return TokenInfo(token, SPECIAL_TOKENS[token].strip("<>"))
        if token < len(SPECIAL_TOKENS) + len(self.columns):
            return TokenInfo(token, "column", self.columns[token - len(SPECIAL_TOKENS)].name)
        for c in self.columns:
            offset = token - self.value_base[c.name]
            if not 0 <= offset < c.n_values:
                continue
            if offset == 0:
                return TokenInfo(token, "nan", c.name)
            if c.kind == NUMERIC:
                bounds = [-math.inf, *c.edges, math.inf]
                i = offset - 1
                return TokenInfo(token, "bin", c.name, i, bounds[i], bounds[i + 1])
            if offset == 1:
                return TokenInfo(token, "other", c.name)
            return TokenInfo(token, "category", c.name, c.categories[offset - 2])
        raise AssertionError("unreachable")  # pragma: no cover

    def decode(self, tokens) -> dict[str, TokenInfo]:
        """One row's tokens [BOS, col, value, ...] -> {column: its value token's meaning}.

        Checks the layout (BOS first, each column token in place)."""
        ids = [int(t) for t in np.asarray(tokens).reshape(-1)]
        if len(ids) != 1 + self.seq_len or ids[0] != BOS:
            raise ValueError(f"expected {1 + self.seq_len} tokens starting with BOS, got {ids}")
        out = {}
        for j, c in enumerate(self.columns):
            if ids[1 + 2 * j] != self.column_token[c.name]:
                raise ValueError(f"position {1 + 2 * j} should be the column token of {c.name!r}")
            info = self.describe(ids[2 + 2 * j])
            if info.column != c.name or info.role == "column":
                raise ValueError(f"position {2 + 2 * j} is not a value of column {c.name!r}")
            out[c.name] = info
        return out

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": VOCAB_FORMAT,
            "version": VOCAB_VERSION,
            "vocab_size": self.size,
            "target_column": self.target,
            "columns": [c.to_dict() for c in self.columns],
            "meta": self.meta,
            "tokens": self.token_strings(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularVocab:
        if data.get("format") != VOCAB_FORMAT or data.get("version") != VOCAB_VERSION:
            raise ValueError(
                f"not a version-{VOCAB_VERSION} {VOCAB_FORMAT} file "
                f"(format={data.get('format')!r}, version={data.get('version')!r})"
            )
        columns = [
            ColumnVocab(
                name=c["name"],
                kind=c["kind"],
                edges=[float(e) for e in c.get("edges", [])],
                categories=[str(v) for v in c.get("categories", [])],
            )
            for c in data["columns"]
        ]
        vocab = cls(columns, data.get("meta"))
        if data.get("vocab_size") not in (None, vocab.size):
            raise ValueError(f"vocab_size {data['vocab_size']} does not match its columns")
        return vocab

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON atomically (sorted keys: the same vocabulary gives the same bytes)."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write_text(path, text + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> TabularVocab:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"cannot load the tabular vocabulary: {' '.join(str(exc).split())[:300]}",
                code=ErrorCode.DATA_FORMAT,
                path=str(path),
                expected=f"a {VOCAB_FORMAT} JSON file",
            ) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TabularVocab):
            return NotImplemented
        return [c.to_dict() for c in self.columns] == [c.to_dict() for c in other.columns]

    __hash__ = None  # type: ignore[assignment]


def fit_vocab(
    table: pa.Table,
    columns: list[str],
    n_bins: int = 16,
    max_categories: int = 64,
    path: str | None = None,
    meta: dict[str, Any] | None = None,
) -> TabularVocab:
    """Fit bins and category lists on `table`; `columns` in order, the target last."""
    fitted = []
    for name in columns:
        column = table.column(name)
        kind = column_kind(column, n_bins, name, path)
        if kind == NUMERIC:
            values = _numeric_values(column, name, path)
            finite = values[np.isfinite(values)]
            edges: list[float] = []
            if len(finite):
                qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
                edges = np.unique(np.quantile(finite, qs)).tolist()
            fitted.append(ColumnVocab(name, NUMERIC, edges=edges))
        else:
            strings = _category_strings(column, name, path).drop_null()
            counts = pc.value_counts(strings).to_pylist() if len(strings) else []
            ranked = sorted(counts, key=lambda d: (-d["counts"], d["values"]))
            top = [d["values"] for d in ranked[:max_categories]]
            fitted.append(ColumnVocab(name, CATEGORICAL, categories=top))
    return TabularVocab(fitted, meta)


# ------------------------------------------------------------------------------------------
# Column values


def _is_string(typ: pa.DataType) -> bool:
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or getattr(pa.types, "is_string_view", lambda _t: False)(typ)
    )


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _integral(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.round(finite)))


def column_kind(column: pa.ChunkedArray, n_bins: int, name: str, path: str | None) -> str:
    """numeric (binned) or categorical, from the type and, for integers, the distinct count."""
    column = _decoded(column)
    typ = column.type
    if pa.types.is_boolean(typ) or _is_string(typ) or pa.types.is_null(typ):
        return CATEGORICAL
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        values = _numeric_values(column, name, path)
        if pa.types.is_floating(typ) and not _integral(values):
            return NUMERIC
        distinct = len(np.unique(values[np.isfinite(values)]))
        return CATEGORICAL if distinct <= n_bins else NUMERIC
    if pa.types.is_decimal(typ) or pa.types.is_temporal(typ):
        return NUMERIC
    raise DataError(
        f"column {name!r} has type {typ}, which cannot be tokenized",
        code=ErrorCode.DATA_SCHEMA,
        path=path,
        column=name,
        expected="numbers, strings, booleans, dates or timestamps (or leave it out of columns)",
    )


def _numeric_values(column: pa.ChunkedArray, name: str, path: str | None) -> np.ndarray:
    """float64 values with NaN for missing ones; temporal values as their integer ticks."""
    column = _decoded(column)
    typ = column.type
    try:
        # Ticks beyond 2**53 (nanosecond timestamps) lose digits below a microsecond in
        # float64, which no quantile bin can tell apart: an unsafe cast is meant there.
        exact = True
        if pa.types.is_temporal(typ):
            if pa.types.is_date32(typ) or pa.types.is_time32(typ):
                column = column.cast(pa.int32())
            column = column.cast(pa.int64())
            exact = False
        elif pa.types.is_boolean(typ):
            column = column.cast(pa.int8())
        values = column.cast(pa.float64(), safe=exact)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(
            f"column {name!r} has type {typ}, not numbers: {str(exc)[:200]}",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            column=name,
            expected="a numeric column (it is numeric in the data the bins were fit on)",
        ) from exc
    return values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _category_strings(column: pa.ChunkedArray, name: str, path: str | None) -> pa.ChunkedArray:
    """Categories as strings (null where missing or empty); integral floats print as
    integers, so 1.0 in one file and 1 in another are the same category."""
    column = _decoded(column)
    typ = column.type
    if pa.types.is_floating(typ):
        values = _numeric_values(column, name, path)
        if _integral(values) and np.all(np.abs(values[np.isfinite(values)]) < 2**53):
            ints = np.where(np.isfinite(values), values, 0).astype(np.int64)
            return pa.chunked_array([pa.array(ints, mask=~np.isfinite(values)).cast(pa.string())])
        return pa.chunked_array([pa.array(np.where(np.isnan(values), None, values.astype(str)))])
    try:
        strings = column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(
            f"column {name!r} has type {typ}, which cannot be read as categories",
            code=ErrorCode.DATA_SCHEMA,
            path=path,
            column=name,
            expected="strings, booleans or integers",
        ) from exc
    # CSV cannot tell an empty field from a missing one: both are missing.
    return pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings)


# ------------------------------------------------------------------------------------------
# Dataset and DataModule


class TabularRows(Dataset):
    """Encoded rows; item i is {"tokens": (L + 1,), "target_mask": (L,)}."""

    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens = tokens
        seq_len = tokens.shape[1] - 1
        self.target_mask = torch.zeros(seq_len, dtype=torch.bool)
        self.target_mask[-1] = True

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = torch.from_numpy(self.tokens[index].astype(np.int64))
        return {"tokens": row, "target_mask": self.target_mask}


class TabularDataModule(SplitDataModule):
    """Rows of a table as token sequences for a language model, the target column last.

    Args:
        path: the candidate dataset (anything `synthos.datamodules.loading.read_table` reads).
        target_column: the column to predict from the others; default the last column (of
            `columns` when given, else of the file).
        columns: the columns to use (the target is added if missing and always moved last);
            None uses every column.
        reference_path: real data to evaluate on: the model trains on every candidate row
            and is validated and tested on held-out reference rows; the remaining reference
            rows fit the bins and categories.
        n_bins: quantile bins per numeric column (fewer when values repeat).
        max_categories: category tokens per categorical column; rarer values share OTHER.
        val_fraction / test_fraction: rows held out (of the candidate, or of the reference
            when one is given), chosen by a seeded permutation.
        max_rows: data budget, the most training rows used (a seeded random subset). The
            vocabulary is fit on all training rows, so it does not change with the budget.
        train_fraction: data budget as a share of the training rows, stratified by the
            target (classes, or quantile buckets of a numeric target) so every class stays.
        subsample_seed: which rows that share is (cascade variants differ by it).
        vocab_path: where the vocabulary JSON is saved or, if present, loaded from (None:
            kept in memory and in checkpoints only).
        seed: splits, the training subset and shuffling.
    """

    def __init__(
        self,
        path: str,
        target_column: str | None = None,
        columns: list[str] | None = None,
        reference_path: str | None = None,
        n_bins: int = 16,
        max_categories: int = 64,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        max_rows: int | None = None,
        train_fraction: float = 1.0,
        subsample_seed: int = 0,
        vocab_path: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if n_bins < 2 or max_categories < 1:
            raise ValueError(
                f"n_bins must be >= 2 and max_categories >= 1, got {n_bins} and {max_categories}"
            )
        if batch_size < 1 or num_workers < 0:
            raise ValueError("batch_size must be >= 1 and num_workers >= 0")
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1) or (
            val_fraction + test_fraction >= 1
        ):
            raise ValueError("val_fraction and test_fraction must be in [0, 1) with sum < 1")
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        if not 0 < train_fraction <= 1:
            raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
        if columns is not None and len(columns) == 0:
            raise ValueError("columns must be None (all) or a non-empty list")
        self.path = str(path)
        self.target_column = target_column
        self.columns = list(dict.fromkeys(columns)) if columns is not None else None
        self.reference_path = str(reference_path) if reference_path else None
        self.n_bins = n_bins
        self.max_categories = max_categories
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.max_rows = max_rows
        self.train_fraction = train_fraction
        self.subsample_seed = subsample_seed
        self.vocab_path = vocab_path
        self.seed = seed

        #: Columns in sequence order, the target last.
        self.columns_used: list[str] | None = None
        #: Row numbers in the source file of each split; val/test index the reference
        #: when one is given (see `split_sources`).
        self.split_rows: dict[str, np.ndarray] = {}
        self.split_sources: dict[str, str] = {}
        self._tables: dict[str, pa.Table] | None = None
        self._fit_source: tuple[str, np.ndarray] | None = None
        self._vocab: TabularVocab | None = None
        self.datasets: dict[str, TabularRows] = {}

    # ---------------------------------------------------------------- reading and splits

    def _resolve_columns(self, names: list[str]) -> list[str]:
        target = self.target_column
        wanted = list(self.columns) if self.columns is not None else list(names)
        if target is None:
            target = wanted[-1]
        for col in [*wanted, target]:
            if col not in names:
                what = "target column" if col == target else "column"
                raise DataError(
                    f"no {what} {col!r}; columns are {names}",
                    code=ErrorCode.DATA_SCHEMA,
                    path=self.path,
                    column=col,
                    expected="one of the file's columns",
                )
        return [c for c in wanted if c != target] + [target]

    def _read(self, path: str, columns: list[str] | None, role: str) -> pa.Table:
        from synthos.datamodules.loading import get_metadata, read_table

        names = get_metadata(path, exact_row_count=False, preview_rows=0).schema.names
        if columns is None:
            columns = self._resolve_columns(names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(
                f"the {role} has no column {missing[0]!r}; its columns are {names}",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=missing[0],
                expected=f"every column of the candidate that is used: {columns}",
            )
        table = read_table(path, columns=columns)
        if table.num_rows == 0:
            raise DataError(
                f"the {role} has no rows",
                code=ErrorCode.DATA_EMPTY,
                path=path,
                expected="at least one row",
            )
        return table.select(columns)

    def _load(self) -> None:
        """Read the data and make the splits once; cheap on later calls."""
        if self._tables is not None:
            return
        candidate = self._read(self.path, None, "dataset")
        columns = candidate.column_names
        tables = {"candidate": candidate}
        if self.reference_path is None:
            order, n_val, n_test = self._permute(candidate.num_rows, self.path, 0)
            held = {"val": order[:n_val], "test": order[n_val : n_val + n_test]}
            train = order[n_val + n_test :]
            fit = ("candidate", train)
            sources = {"train": "candidate", "val": "candidate", "test": "candidate"}
        else:
            reference = self._read(self.reference_path, columns, "reference")
            tables["reference"] = reference
            order, n_val, n_test = self._permute(reference.num_rows, self.reference_path, 1)
            held = {"val": order[:n_val], "test": order[n_val : n_val + n_test]}
            fit = ("reference", order[n_val + n_test :])
            train = np.random.default_rng([self.seed, 2]).permutation(candidate.num_rows)
            sources = {"train": "candidate", "val": "reference", "test": "reference"}
        if self.train_fraction < 1:
            train = train[self._stratified_share(candidate, train)]
        if self.max_rows is not None:
            train = train[: self.max_rows]
        self.columns_used = columns
        self.split_rows = {"train": train, **held}
        self.split_sources = sources
        self._fit_source = fit
        self._tables = tables

    def _stratified_share(self, candidate: pa.Table, train: np.ndarray) -> np.ndarray:
        """Positions in `train` of a `train_fraction` share, proportional per target class."""
        target = self.target_column or candidate.column_names[-1]
        values = candidate.column(target).take(pa.array(train, pa.int64()))
        if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
            numeric = values.to_numpy(zero_copy_only=False).astype(np.float64)
            if np.unique(numeric[np.isfinite(numeric)]).size > self.max_categories:
                return stratified_subsample(
                    quantile_buckets(np.nan_to_num(numeric)),
                    self.train_fraction,
                    self.subsample_seed,
                )
        labels = np.asarray([str(v) for v in values.to_pylist()])
        return stratified_subsample(labels, self.train_fraction, self.subsample_seed)

    def _permute(self, n: int, path: str, stream: int) -> tuple[np.ndarray, int, int]:
        n_val = _count(n, self.val_fraction)
        n_test = _count(n, self.test_fraction)
        if n - n_val - n_test < 1:
            role = "reference" if stream else "dataset"
            what = "fitting the vocabulary" if stream else "training"
            raise DataError(
                f"the {role} has {n} row(s): too few for val/test rows and at least one for {what}",
                code=ErrorCode.DATA_EMPTY,
                path=path,
                expected=f"at least {n_val + n_test + 1} rows or smaller val/test fractions",
            )
        return np.random.default_rng([self.seed, stream]).permutation(n), n_val, n_test

    def split_table(self, split: str) -> pa.Table:
        """The raw rows of one split (in the seeded order used for training)."""
        self._load()
        table = self._tables[self.split_sources[split]]
        return table.take(pa.array(self.split_rows[split], pa.int64()))

    # ---------------------------------------------------------------- vocabulary

    @property
    def vocab(self) -> TabularVocab:
        """The vocabulary, loaded from `vocab_path` or fit (and saved there) on first use."""
        if self._vocab is None:
            self._vocab = self._load_or_fit_vocab()
        return self._vocab

    def _settings(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "max_categories": self.max_categories}

    def _fingerprint(self, source_path: str) -> str:
        try:
            stat = os.stat(source_path)
            source = [os.path.abspath(source_path), stat.st_size, stat.st_mtime_ns]
        except OSError:
            source = [source_path]
        key = {
            "source": source,
            "columns": self.columns_used,
            **self._settings(),
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def _load_or_fit_vocab(self) -> TabularVocab:
        self._load()
        role, rows = self._fit_source
        source_path = self.path if role == "candidate" else self.reference_path
        fingerprint = self._fingerprint(source_path)
        path = Path(self.vocab_path) if self.vocab_path else None
        if path is not None and path.exists():
            vocab = TabularVocab.load(path)
            settings = {k: vocab.meta.get(k) for k in self._settings()}
            if vocab.names != self.columns_used or settings != self._settings():
                raise ValueError(
                    f"the tabular vocabulary at {path} was fit for columns {vocab.names} with "
                    f"{settings}, but columns {self.columns_used} with {self._settings()} are "
                    "configured; delete it or set vocab_path"
                )
            if vocab.meta.get("fingerprint") != fingerprint:
                log.warning("reusing tabular vocabulary %s fit on other data or settings", path)
            return vocab
        table = self._tables[role].take(pa.array(rows, pa.int64()))
        meta = {
            **self._settings(),
            "fit_on": role,
            "fit_rows": len(rows),
            "data": source_path,
            "fingerprint": fingerprint,
        }
        vocab = fit_vocab(
            table, self.columns_used, self.n_bins, self.max_categories, source_path, meta
        )
        if path is not None:
            vocab.save(path)
            log.info(
                "fit a %d-token tabular vocabulary on %d %s rows -> %s",
                vocab.size,
                len(rows),
                role,
                path,
            )
        return vocab

    # ---------------------------------------------------------------- Lightning hooks

    def prepare_data(self) -> None:
        """Fit and save the vocabulary once (rank 0); setup() on every rank loads it."""
        _ = self.vocab

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        vocab = self.vocab
        datasets = {}
        for split in SPLITS:
            source = self.split_sources[split]
            path = self.path if source == "candidate" else self.reference_path
            tokens = vocab.encode(self.split_table(split), path)
            datasets[split] = TabularRows(tokens)
        self._check_target(datasets["train"].tokens)
        self.datasets = datasets

    def _check_target(self, train: np.ndarray) -> None:
        classes = np.unique(train[:, -1])
        if len(classes) < 2:
            only = self.vocab.describe(int(classes[0])) if len(classes) else None
            shown = "nothing" if only is None else f"{only.role} {only.value!r}"
            raise DataError(
                f"target column {self.vocab.target!r} has a single class in the "
                f"{len(train)} training row(s) ({shown}): there is nothing to predict",
                code=ErrorCode.DATA_VALUE,
                path=self.path,
                column=self.vocab.target,
                expected="at least two distinct target values (or bins) in the training rows",
            )

    def task_spec(self) -> TaskSpec:
        """What a model for this data needs: the vocabulary size."""
        return TaskSpec(kind=LANGUAGE_MODEL, vocab_size=self.vocab.size)

    @property
    def seq_len(self) -> int:
        """Model input length L = 2 x columns (batches carry L + 1 tokens)."""
        return self.vocab.seq_len

    def majority_baseline(self, split: str = "test") -> float:
        """Target accuracy on `split` of always predicting the most common training target."""
        self.setup()
        train = self.datasets["train"].tokens[:, -1]
        values, counts = np.unique(train, return_counts=True)
        majority = values[np.argmax(counts)]
        held = self.datasets[split].tokens[:, -1]
        return float(np.mean(held == majority)) if len(held) else math.nan

    def state_dict(self) -> dict:
        """The vocabulary travels inside checkpoints."""
        return {"vocab": self._vocab.to_dict()} if self._vocab is not None else {}

    def load_state_dict(self, state_dict: dict) -> None:
        if not state_dict.get("vocab"):
            return
        vocab = TabularVocab.from_dict(state_dict["vocab"])
        if self._vocab is None:
            self._vocab = vocab
        elif vocab != self._vocab:
            log.warning("the checkpoint's tabular vocabulary differs from the one in use")
