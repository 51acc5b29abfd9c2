"""Offline byte-level BPE: exact round trip, determinism, vocabulary size, safe saving."""

from __future__ import annotations

import pytest

from synthos.datamodules import tokenizer as bpe

TRICKY = [
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n\n",
    "unicode: naïve café, 日本語, emoji 🙂🚀, combining e\u0301",
    "a literal <|endoftext|> and <|pad|> inside a document",
    "",
    "\x00\x01 control bytes \x7f",
]


@pytest.fixture(scope="module")
def corpus(stdlib_docs):
    return stdlib_docs[:300]


@pytest.fixture(scope="module")
def tok300(corpus):
    return bpe.train_tokenizer(corpus, 300)


def test_round_trip_is_exact(tok300, corpus):
    for text in [*TRICKY, *corpus[:50]]:
        ids = tok300.encode(text).ids
        assert tok300.decode(ids) == text


def test_special_tokens_have_fixed_ids_and_text_cannot_forge_them(tok300):
    assert tok300.token_to_id(bpe.EOS_TOKEN) == 0 == bpe.eos_id(tok300)
    assert tok300.token_to_id(bpe.PAD_TOKEN) == 1
    ids = tok300.encode("x <|endoftext|> y").ids
    assert 0 not in ids and 1 not in ids


def test_vocab_size_is_honoured(corpus, tok300):
    assert tok300.get_vocab_size() == 300
    bigger = bpe.train_tokenizer(corpus, 600)
    assert bigger.get_vocab_size() == 600
    # Tiny text has fewer merges than asked for: the size is an upper bound.
    tiny = bpe.train_tokenizer(["abc abc abc"], 400)
    assert bpe.MIN_VOCAB_SIZE <= tiny.get_vocab_size() < 400
    with pytest.raises(ValueError, match="vocab_size"):
        bpe.train_tokenizer(corpus, 100)


def test_training_is_deterministic_and_compresses(corpus, tok300):
    again = bpe.train_tokenizer(corpus, 300)
    assert again.to_str() == tok300.to_str()
    text = corpus[0]
    assert len(tok300.encode(text).ids) < 0.8 * len(text.encode("utf-8"))


def test_save_and_load(tmp_path, tok300):
    path = bpe.save_tokenizer(tok300, tmp_path / "sub" / "tokenizer.json", meta={"vocab_size": 300})
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "tokenizer.json",
        "tokenizer.json.meta.json",
    ]
    loaded = bpe.load_tokenizer(path)
    assert bpe.load_meta(path) == {"vocab_size": 300}
    assert bpe.load_meta(tmp_path / "missing.json") is None
    for text in TRICKY:
        assert loaded.encode(text).ids == tok300.encode(text).ids
        assert loaded.decode(loaded.encode(text).ids) == text


def test_sample_documents_is_bounded():
    docs = ["aaaa", "bbbb", "cccc", "dddd"]
    assert bpe.sample_documents(docs, max_docs=2) == ["aaaa", "bbbb"]
    assert bpe.sample_documents(docs, max_bytes=9) == ["aaaa", "bbbb"]
    assert bpe.sample_documents(docs, max_bytes=1) == ["aaaa"], "never empty"
    assert bpe.sample_documents(iter(docs)) == docs
