"""Language-model data: documents -> byte-level BPE tokens -> packed fixed-length sequences.

Splits are made by document (never inside one), so no validation or test text is seen in
training, and the tokenizer is trained on training documents only. Batches are LongTensors
of shape (B, seq_len + 1); the LightningModule shifts them into inputs and targets.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset

from synthos.datamodules import tokenizer as bpe
from synthos.datamodules.splits import SplitDataModule
from synthos.datamodules.subsample import quantile_buckets, stratified_subsample
from synthos.errors import DataError, ErrorCode
from synthos.task import LANGUAGE_MODEL, TaskSpec

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_ENCODE_CHUNK_DOCS = 1024


class PackedSequences(Dataset):
    """Windows of `seq_len + 1` tokens over one token stream, stepping by `seq_len`, so every
    token but the first is a prediction target exactly once."""

    def __init__(self, tokens: np.ndarray, seq_len: int) -> None:
        self.tokens = tokens
        self.seq_len = seq_len
        self.n = max(0, (len(tokens) - 1) // seq_len)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.n:
            raise IndexError(index)
        start = index * self.seq_len
        return torch.from_numpy(self.tokens[start : start + self.seq_len + 1].astype(np.int64))


def default_cache_dir() -> Path:
    return Path(os.environ.get("SYNTHOS_CACHE_DIR", Path.home() / ".cache" / "synthos"))


class TextDataModule(SplitDataModule):
    """Text column of a JSONL/Parquet/CSV/... file as packed next-token sequences.

    Args:
        path: the dataset (anything `synthos.datamodules.loading.read_table` reads).
        text_column: column holding one document per row.
        reference_path: real text to evaluate on (same text column): the model trains on
            every candidate document and is validated and tested on held-out reference
            documents; the tokenizer is trained on the remaining reference documents, so
            every candidate evaluated against one reference shares one tokenizer and one
            test set.
        vocab_size: BPE vocabulary size to train (the actual size may be smaller on tiny data;
            `task_spec()` reports the actual one).
        seq_len: tokens the model sees; sequences carry one more token for the shifted target.
        val_fraction / test_fraction: fractions of documents held out, chosen by a seeded
            permutation.
        tokenizer_path: where tokenizer.json is saved or, if present, loaded from; default
            a cache directory keyed by the data and settings ($SYNTHOS_CACHE_DIR or
            ~/.cache/synthos).
        tokenizer_sample_docs / tokenizer_sample_bytes: bound on the training sample of the
            tokenizer, so its cost does not grow with the dataset.
        max_tokens: data budget, the most training tokens used (the first ones in the
            seeded document order, i.e. a random subset of documents).
        seed: document split, tokenizer sample and shuffling.
        train_fraction: share of training documents used (stratified by length); the
            held-out splits do not change with it.
        subsample_seed: which documents that share is (cascade variants differ by it).
    """

    def __init__(
        self,
        path: str,
        text_column: str = "text",
        reference_path: str | None = None,
        vocab_size: int = 4096,
        seq_len: int = 256,
        batch_size: int = 16,
        num_workers: int = 0,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        tokenizer_path: str | None = None,
        tokenizer_sample_docs: int = 20_000,
        tokenizer_sample_bytes: int = 20_000_000,
        max_tokens: int | None = None,
        seed: int = 0,
        train_fraction: float = 1.0,
        subsample_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if vocab_size < bpe.MIN_VOCAB_SIZE:
            raise ValueError(f"vocab_size must be >= {bpe.MIN_VOCAB_SIZE}, got {vocab_size}")
        if seq_len < 1 or batch_size < 1 or num_workers < 0:
            raise ValueError("seq_len and batch_size must be >= 1 and num_workers >= 0")
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1) or (
            val_fraction + test_fraction >= 1
        ):
            raise ValueError("val_fraction and test_fraction must be in [0, 1) with sum < 1")
        if max_tokens is not None and max_tokens < seq_len + 1:
            raise ValueError(f"max_tokens must be >= seq_len + 1 = {seq_len + 1}, got {max_tokens}")
        if tokenizer_sample_docs < 1 or tokenizer_sample_bytes < 1:
            raise ValueError("tokenizer_sample_docs and tokenizer_sample_bytes must be >= 1")
        self.path = str(path)
        self.text_column = text_column
        self.reference_path = str(reference_path) if reference_path else None
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.tokenizer_sample_docs = tokenizer_sample_docs
        self.tokenizer_sample_bytes = tokenizer_sample_bytes
        self.max_tokens = max_tokens
        self.seed = seed
        self.train_fraction = train_fraction
        self.subsample_seed = subsample_seed
        self._tokenizer_path = tokenizer_path
        self._docs: dict[str, list[str]] | None = None
        self._order: dict[str, tuple[str, np.ndarray]] = {}
        #: Row numbers in the source file of each split; val/test (and the tokenizer's
        #: documents) index the reference when one is given (see `split_sources`).
        self.split_rows: dict[str, np.ndarray] = {}
        self.split_sources: dict[str, str] = {}
        self._tokenizer = None
        self.datasets: dict[str, PackedSequences] = {}

    # ---------------------------------------------------------------- documents and splits

    def _load_documents(self) -> None:
        """Read the text column(s) once and make the splits."""
        if self._docs is not None:
            return
        docs, rows = {}, {}
        docs["candidate"], rows["candidate"] = self._read_documents(self.path)
        if self.reference_path is not None:
            docs["reference"], rows["reference"] = self._read_documents(self.reference_path)
        self._docs = docs
        self._split(rows)

    def _read_documents(self, path: str) -> tuple[list[str], np.ndarray]:
        """The non-empty documents of one file with their row numbers there."""
        from synthos.datamodules.loading import read_table

        table = read_table(path, columns=[self.text_column])
        if self.text_column not in table.column_names:
            raise DataError(
                f"no text column {self.text_column!r}; columns are {table.column_names}",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=self.text_column,
                expected=f"a column named {self.text_column!r}",
            )
        column = table.column(self.text_column)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (
            pa.types.is_string(column.type)
            or pa.types.is_large_string(column.type)
            or pa.types.is_null(column.type)
        ) and not getattr(pa.types, "is_string_view", lambda _t: False)(column.type):
            raise DataError(
                f"text column {self.text_column!r} has type {column.type}",
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=self.text_column,
                expected="a string column",
            )
        if len(column) == 0:
            raise DataError(
                "the dataset has no rows",
                code=ErrorCode.DATA_EMPTY,
                path=path,
                column=self.text_column,
                expected="at least one row",
            )
        nulls = np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))
        if len(nulls):
            raise DataError(
                f"text column {self.text_column!r} has {len(nulls)} missing value(s)",
                code=ErrorCode.DATA_VALUE,
                path=path,
                column=self.text_column,
                row=int(nulls[0]),
                expected="a string in every row",
            )
        texts = column.to_pylist()
        rows = np.array([i for i, t in enumerate(texts) if t.strip()], dtype=np.int64)
        if len(rows) == 0:
            raise DataError(
                f"every value of text column {self.text_column!r} is empty",
                code=ErrorCode.DATA_EMPTY,
                path=path,
                column=self.text_column,
                expected="at least one non-blank document",
            )
        return [texts[i] for i in rows], rows

    def _split(self, rows: dict[str, np.ndarray]) -> None:
        """Seeded permutation of documents: the first ones to val, then test, the rest train
        (and the tokenizer). With a reference, val/test/tokenizer come from its permutation
        and train is every candidate document."""
        held_source = "reference" if self.reference_path is not None else "candidate"
        docs = self._docs[held_source]
        n = len(docs)
        n_val = _count(n, self.val_fraction)
        n_test = _count(n, self.test_fraction)
        if n - n_val - n_test < 1:
            raise DataError(
                f"{n} non-empty document(s) of the {held_source} cannot be split into "
                "train/val/test",
                code=ErrorCode.DATA_EMPTY,
                path=self.reference_path or self.path,
                column=self.text_column,
                expected=f"at least {n_val + n_test + 1} documents",
            )
        order = np.random.default_rng(self.seed).permutation(n)
        self._order = {
            "val": (held_source, order[:n_val]),
            "test": (held_source, order[n_val : n_val + n_test]),
            "tokenizer": (held_source, order[n_val + n_test :]),
        }
        if self.reference_path is None:
            self._order["train"] = self._order["tokenizer"]
        else:
            train = np.random.default_rng([self.seed, 2]).permutation(len(self._docs["candidate"]))
            self._order["train"] = ("candidate", train)
        self.split_sources = {name: self._order[name][0] for name in SPLITS}
        self.split_rows = {
            name: rows[self._order[name][0]][self._order[name][1]] for name in SPLITS
        }

    def split_documents(self, split: str) -> list[str]:
        """The documents of one split (train, val, test, or tokenizer: what the tokenizer is
        trained on), in the seeded order used for training."""
        self._load_documents()
        source, idx = self._order[split]
        return [self._docs[source][i] for i in idx]

    # ---------------------------------------------------------------- tokenizer

    @property
    def tokenizer_path(self) -> Path:
        if self._tokenizer_path:
            return Path(self._tokenizer_path)
        return default_cache_dir() / "tokenizers" / self._fingerprint() / "tokenizer.json"

    def _fingerprint(self) -> str:
        """Identifies the data and the settings a tokenizer was trained with."""
        try:
            stat = os.stat(self.path)
            source = [os.path.abspath(self.path), stat.st_size, stat.st_mtime_ns]
        except OSError:
            source = [self.path]
        key = {
            "source": source,
            "reference": self.reference_path,
            "text_column": self.text_column,
            "vocab_size": self.vocab_size,
            "sample_docs": self.tokenizer_sample_docs,
            "sample_bytes": self.tokenizer_sample_bytes,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def tokenizer(self):
        """The tokenizer, loaded from `tokenizer_path` or trained there on first use."""
        if self._tokenizer is None:
            self._tokenizer = self._load_or_train_tokenizer()
        return self._tokenizer

    def _load_or_train_tokenizer(self):
        path = self.tokenizer_path
        if path.exists():
            return self._load_existing(path)
        sample = bpe.sample_documents(
            self.split_documents("tokenizer"),
            max_docs=self.tokenizer_sample_docs,
            max_bytes=self.tokenizer_sample_bytes,
        )
        tok = bpe.train_tokenizer(sample, self.vocab_size)
        meta = {
            "vocab_size": self.vocab_size,
            "actual_vocab_size": tok.get_vocab_size(),
            "fingerprint": self._fingerprint(),
            "sample_docs": len(sample),
            "data": self.path,
        }
        bpe.save_tokenizer(tok, path, meta=meta)
        log.info("trained a %d-token BPE on %d docs -> %s", tok.get_vocab_size(), len(sample), path)
        return bpe.load_tokenizer(path)

    def _load_existing(self, path: Path):
        try:
            tok = bpe.load_tokenizer(path)
        except Exception as exc:
            raise DataError(
                f"cannot load tokenizer: {' '.join(str(exc).split())[:300]}",
                code=ErrorCode.DATA_FORMAT,
                path=str(path),
                expected="a Hugging Face tokenizer.json",
            ) from exc
        if tok.token_to_id(bpe.EOS_TOKEN) is None:
            raise DataError(
                f"tokenizer has no {bpe.EOS_TOKEN} token",
                code=ErrorCode.DATA_FORMAT,
                path=str(path),
                expected=f"a tokenizer with the special token {bpe.EOS_TOKEN}",
            )
        meta = bpe.load_meta(path)
        if meta is not None and meta.get("vocab_size") != self.vocab_size:
            raise ValueError(
                f"tokenizer at {path} was trained with vocab_size={meta.get('vocab_size')} but "
                f"vocab_size={self.vocab_size} is configured; delete it or set tokenizer_path"
            )
        if meta is not None and meta.get("fingerprint") != self._fingerprint():
            log.warning("reusing tokenizer %s trained on other data or settings", path)
        return tok

    # ---------------------------------------------------------------- Lightning hooks

    def prepare_data(self) -> None:
        """Train and save the tokenizer once (rank 0); setup() on every rank loads it."""
        _ = self.tokenizer

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        tok = self.tokenizer
        eos = bpe.eos_id(tok)
        datasets = {}
        for split in SPLITS:
            docs = self.split_documents(split)
            if split == "train" and self.train_fraction < 1:
                strata = quantile_buckets(np.array([len(d) for d in docs]))
                keep = stratified_subsample(strata, self.train_fraction, self.subsample_seed)
                docs = [docs[i] for i in keep]
            if not docs:
                datasets[split] = PackedSequences(np.zeros(0, dtype=np.int32), self.seq_len)
                continue
            budget = self.max_tokens if split == "train" else None
            tokens = _encode(tok, docs, eos, budget)
            ds = PackedSequences(tokens, self.seq_len)
            if len(ds) == 0:
                raise DataError(
                    f"the {split} split has {len(tokens)} tokens, fewer than one sequence of "
                    f"seq_len + 1 = {self.seq_len + 1}",
                    code=ErrorCode.DATA_EMPTY,
                    path=self.path,
                    column=self.text_column,
                    expected="more text, a smaller seq_len or a larger split fraction",
                )
            datasets[split] = ds
        self.datasets = datasets

    def task_spec(self) -> TaskSpec:
        """What a model for this data needs: the tokenizer's actual vocabulary size."""
        return TaskSpec(kind=LANGUAGE_MODEL, vocab_size=self.tokenizer.get_vocab_size())


def _count(n: int, fraction: float) -> int:
    """Documents for a held-out split: rounded, and at least one when the fraction is > 0."""
    if fraction <= 0:
        return 0
    return max(1, round(n * fraction))


def _encode(tok, docs: list[str], eos: int, budget: int | None) -> np.ndarray:
    """Token ids of `docs` with EOS after each document, stopping once `budget` is reached."""
    parts: list[np.ndarray] = []
    total = 0
    for start in range(0, len(docs), _ENCODE_CHUNK_DOCS):
        for enc in tok.encode_batch(docs[start : start + _ENCODE_CHUNK_DOCS]):
            ids = np.fromiter((*enc.ids, eos), dtype=np.int32, count=len(enc.ids) + 1)
            parts.append(ids)
            total += len(ids)
        if budget is not None and total >= budget:
            break
    tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    return tokens[:budget] if budget is not None else tokens
