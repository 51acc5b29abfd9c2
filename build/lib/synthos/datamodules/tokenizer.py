"""Offline byte-level BPE (Hugging Face `tokenizers`) trained on a sample of the data.

Nothing is downloaded (DESIGN section 4): every dataset gets its own vocabulary, trained on a
bounded sample so the cost does not grow with the dataset. Byte-level means any string
round-trips exactly, so no input can be "out of vocabulary". Training is deterministic for
the same sample and settings, and the saved file is written atomically so several processes
(DDP ranks) may race to produce it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from synthos.fileio import atomic_write_text

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = (EOS_TOKEN, PAD_TOKEN)
# 256 byte symbols plus the special tokens: the smallest vocabulary a byte-level BPE can have.
MIN_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)
META_SUFFIX = ".meta.json"


def sample_documents(
    texts: Iterable[str], max_docs: int | None = None, max_bytes: int | None = None
) -> list[str]:
    """The first documents of `texts` up to `max_docs` documents and `max_bytes` UTF-8 bytes
    (at least one document), so training cost is bounded whatever the dataset size."""
    out: list[str] = []
    total = 0
    for text in texts:
        if max_docs is not None and len(out) >= max_docs:
            break
        size = len(text.encode("utf-8"))
        if max_bytes is not None and out and total + size > max_bytes:
            break
        out.append(text)
        total += size
    return out


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE with `vocab_size` entries at most (fewer when the text has fewer
    distinct merges); ids 0 and 1 are `<|endoftext|>` and `<|pad|>`."""
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(
            f"vocab_size must be >= {MIN_VOCAB_SIZE} (256 bytes + special tokens), got {vocab_size}"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    tokenizer.encode_special_tokens = True
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write tokenizer.json (and an optional `<name>.meta.json` describing how it was trained)
    via temp file + rename: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if meta is not None:
        atomic_write_text(meta_path(path), json.dumps(meta, indent=2, sort_keys=True))
    atomic_write_text(path, tokenizer.to_str())
    return path


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer.json written by `save_tokenizer` (or any HF tokenizer file).

    Always load through here: it sets `encode_special_tokens`, which the file format does
    not keep, so a literal "<|endoftext|>" inside a document is encoded as text and cannot
    forge a document boundary (and every string round-trips through encode/decode).
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.encode_special_tokens = True
    return tokenizer


def load_meta(path: str | os.PathLike) -> dict | None:
    """The training metadata saved next to a tokenizer, or None when there is none."""
    try:
        return json.loads(meta_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def meta_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + META_SUFFIX)


def eos_id(tokenizer: Tokenizer) -> int:
    token_id = tokenizer.token_to_id(EOS_TOKEN)
    if token_id is None:
        raise ValueError(f"tokenizer has no {EOS_TOKEN} token")
    return token_id
