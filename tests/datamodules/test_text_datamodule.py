"""TextDataModule on real files: document splits, packing, tokenizer lifecycle, errors."""

from __future__ import annotations

import json
import threading
import time

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from synthos.datamodules import TextDataModule
from synthos.datamodules import tokenizer as bpe
from synthos.errors import DataError, ErrorCode
from synthos.task import LANGUAGE_MODEL

N_DOCS = 120


def tag(i: int) -> str:
    return f"QZX{i:04d}"


@pytest.fixture(scope="module")
def docs(stdlib_docs):
    """Real prose, each document carrying a unique tag so leakage can be traced."""
    return [f"{tag(i)} {text[:600]}" for i, text in enumerate(stdlib_docs[:N_DOCS])]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def jsonl(tmp_path, docs):
    return write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": d} for i, d in enumerate(docs)])


def make(path, tmp_path, **kwargs):
    args = dict(
        vocab_size=300,
        seq_len=32,
        batch_size=4,
        val_fraction=0.1,
        test_fraction=0.1,
        tokenizer_path=str(tmp_path / "tok" / "tokenizer.json"),
    )
    args.update(kwargs)
    return TextDataModule(str(path), **args)


def split_stream(tokens: np.ndarray, eos: int) -> list[np.ndarray]:
    ends = np.flatnonzero(tokens == eos)
    assert len(ends) and ends[-1] == len(tokens) - 1, "every document ends with EOS"
    return np.split(tokens, ends + 1)[:-1]


def test_batches_are_packed_long_sequences(jsonl, tmp_path):
    dm = make(jsonl, tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    spec = dm.task_spec()
    assert spec.kind == LANGUAGE_MODEL and spec.vocab_size == 300
    batch = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.int64 and batch.shape == (4, 33)
    assert int(batch.max()) < spec.vocab_size and int(batch.min()) >= 0
    ds = dm.datasets["train"]
    assert len(ds) == (len(ds.tokens) - 1) // 32
    # Consecutive sequences share one token, so every token is a target exactly once.
    assert torch.equal(ds[0][-1:], ds[1][:1])
    assert torch.equal(torch.cat([ds[0], ds[1][1:]]), torch.from_numpy(ds.tokens[:65]).long())
    assert sum(b.shape[0] for b in dm.val_dataloader()) == len(dm.datasets["val"]) > 0
    assert dm.hparams["seq_len"] == 32 and dm.hparams["vocab_size"] == 300


def test_documents_split_without_leakage(jsonl, tmp_path, docs):
    dm = make(jsonl, tmp_path)
    dm.setup()
    rows = dm.split_rows
    assert len(rows["val"]) == len(rows["test"]) == round(0.1 * N_DOCS)
    all_rows = np.concatenate([rows["train"], rows["val"], rows["test"]])
    assert sorted(all_rows.tolist()) == list(range(N_DOCS)), "a partition of the documents"
    eos = bpe.eos_id(dm.tokenizer)
    for split in ("train", "val", "test"):
        # The token stream decodes back to exactly this split's documents, in order.
        pieces = split_stream(dm.datasets[split].tokens, eos)
        decoded = [dm.tokenizer.decode(p[:-1].tolist()) for p in pieces]
        assert decoded == [docs[r] for r in rows[split]]
    train_text = dm.tokenizer.decode(dm.datasets["train"].tokens.tolist())
    for r in (*rows["val"], *rows["test"]):
        assert tag(r) not in train_text
    for r in rows["train"][:20]:
        assert tag(r) in train_text


def test_reference_holds_out_real_documents_and_trains_on_every_candidate(tmp_path, docs):
    # Candidate: the first 60 documents; reference: the other 60 (real text to test on).
    cand = write_jsonl(tmp_path / "cand.jsonl", [{"text": d} for d in docs[:60]])
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"text": d} for d in docs[60:]])
    dm = make(cand, tmp_path, reference_path=str(ref))
    dm.setup()
    assert dm.split_sources == {"train": "candidate", "val": "reference", "test": "reference"}
    assert sorted(dm.split_rows["train"].tolist()) == list(range(60))
    assert len(dm.split_rows["val"]) == len(dm.split_rows["test"]) == 6
    eos = bpe.eos_id(dm.tokenizer)
    for split in ("val", "test"):
        pieces = split_stream(dm.datasets[split].tokens, eos)
        decoded = [dm.tokenizer.decode(p[:-1].tolist()) for p in pieces]
        assert decoded == [docs[60 + r] for r in dm.split_rows[split]]
    train_text = dm.tokenizer.decode(dm.datasets["train"].tokens.tolist())
    assert all(tag(i) in train_text for i in range(60))
    assert not any(tag(60 + r) in train_text for r in dm.split_rows["test"])
    # The tokenizer learns from the reference documents that are not held out, so two
    # candidates against one reference share it.
    other = write_jsonl(tmp_path / "other.jsonl", [{"text": d.upper()} for d in docs[:60]])
    second = make(
        other, tmp_path, reference_path=str(ref), tokenizer_path=str(tmp_path / "t2.json")
    )
    assert second.tokenizer.to_str() == dm.tokenizer.to_str()
    np.testing.assert_array_equal(second.split_rows["test"], dm.split_rows["test"])


def test_same_seed_same_everything_other_seed_other_split(jsonl, tmp_path):
    a = make(jsonl, tmp_path, tokenizer_path=str(tmp_path / "a" / "tokenizer.json"))
    b = make(jsonl, tmp_path, tokenizer_path=str(tmp_path / "b" / "tokenizer.json"))
    a.setup()
    b.setup()
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_text()
    for split in ("train", "val", "test"):
        assert np.array_equal(a.split_rows[split], b.split_rows[split])
    assert torch.equal(next(iter(a.train_dataloader())), next(iter(b.train_dataloader())))
    c = make(jsonl, tmp_path, seed=1, tokenizer_path=str(tmp_path / "c" / "tokenizer.json"))
    c.setup()
    assert not np.array_equal(a.split_rows["val"], c.split_rows["val"])


def test_task_spec_is_lazy_and_reuses_the_saved_tokenizer(jsonl, tmp_path, monkeypatch):
    path = tmp_path / "tok" / "tokenizer.json"
    dm = make(jsonl, tmp_path, vocab_size=280)
    assert not path.exists()
    spec = dm.task_spec()
    assert path.exists() and bpe.load_meta(path)["vocab_size"] == 280
    assert spec.vocab_size == dm.tokenizer.get_vocab_size() == 280
    started = time.perf_counter()
    assert dm.task_spec() == spec
    assert time.perf_counter() - started < 0.05

    def boom(*_a, **_k):
        raise AssertionError("must load the saved tokenizer, not train a new one")

    monkeypatch.setattr(bpe, "train_tokenizer", boom)
    again = make(jsonl, tmp_path, vocab_size=280)
    assert again.task_spec() == spec
    again.setup()
    assert again.tokenizer.to_str() == dm.tokenizer.to_str()
    with pytest.raises(ValueError, match="vocab_size=280"):
        make(jsonl, tmp_path, vocab_size=300).task_spec()


def test_corrupt_tokenizer_file_is_a_data_error(jsonl, tmp_path):
    path = tmp_path / "tok" / "tokenizer.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(DataError) as err:
        make(jsonl, tmp_path).task_spec()
    assert err.value.details["path"] == str(path)


def test_max_tokens_caps_training_data(jsonl, tmp_path):
    full = make(jsonl, tmp_path)
    full.setup()
    capped = make(jsonl, tmp_path, max_tokens=1000)
    capped.setup()
    assert len(capped.datasets["train"].tokens) == 1000
    assert len(capped.datasets["train"]) == 999 // 32
    assert np.array_equal(capped.datasets["train"].tokens, full.datasets["train"].tokens[:1000])
    assert np.array_equal(capped.datasets["val"].tokens, full.datasets["val"].tokens)


def test_parquet_and_csv_give_the_same_data(jsonl, tmp_path, docs):
    frame = pd.DataFrame({"id": range(len(docs)), "body": docs})
    frame.to_parquet(tmp_path / "docs.parquet")
    frame.to_csv(tmp_path / "docs.csv", index=False)
    ref = make(jsonl, tmp_path)
    ref.setup()
    for name in ("docs.parquet", "docs.csv"):
        dm = make(tmp_path / name, tmp_path, text_column="body")
        dm.setup()
        for split in ("train", "val", "test"):
            assert np.array_equal(dm.datasets[split].tokens, ref.datasets[split].tokens), name


def test_empty_documents_are_skipped_but_rows_keep_file_positions(tmp_path, docs):
    rows = [{"text": d} for d in docs[:40]]
    rows[3]["text"] = ""
    rows[7]["text"] = "   \n"
    dm = make(write_jsonl(tmp_path / "d.jsonl", rows), tmp_path)
    dm.setup()
    kept = sorted(np.concatenate(list(dm.split_rows.values())).tolist())
    assert kept == [i for i in range(40) if i not in (3, 7)]


def test_prepare_data_from_several_workers_at_once(jsonl, tmp_path):
    errors = []

    def work(seed_dir):
        try:
            make(jsonl, tmp_path).prepare_data()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tok_dir = tmp_path / "tok"
    assert sorted(p.name for p in tok_dir.iterdir()) == [
        "tokenizer.json",
        "tokenizer.json.meta.json",
    ]
    assert bpe.load_tokenizer(tok_dir / "tokenizer.json").get_vocab_size() == 300


# ------------------------------------------------------------------------- bad input


def expect_data_error(dm, code, **details):
    with pytest.raises(DataError) as err:
        dm.setup()
    assert err.value.code == code, err.value
    for key, value in details.items():
        assert err.value.details.get(key) == value, err.value.details
    return err.value


def test_missing_column(jsonl, tmp_path):
    err = expect_data_error(
        make(jsonl, tmp_path, text_column="body"), ErrorCode.DATA_SCHEMA, column="body"
    )
    assert "body" in err.message and err.details["path"] == str(jsonl)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    expect_data_error(make(path, tmp_path), ErrorCode.DATA_EMPTY, path=str(path))


def test_non_string_text(tmp_path):
    path = write_jsonl(tmp_path / "n.jsonl", [{"text": i} for i in range(20)])
    err = expect_data_error(make(path, tmp_path), ErrorCode.DATA_SCHEMA, column="text")
    assert "string" in str(err)


def test_mixed_types_in_json_text(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a fine document"}\n{"text": 42}\n')
    expect_data_error(make(path, tmp_path), ErrorCode.DATA_SCHEMA, column="text", row=1)


def test_missing_text_value_names_the_row(tmp_path, docs):
    rows = [{"text": d} for d in docs[:20]]
    rows[5] = {"text": None}
    expect_data_error(
        make(write_jsonl(tmp_path / "m.jsonl", rows), tmp_path),
        ErrorCode.DATA_VALUE,
        column="text",
        row=5,
    )


def test_all_empty_text(tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", [{"text": ""} for _ in range(5)])
    expect_data_error(make(path, tmp_path), ErrorCode.DATA_EMPTY, column="text")


def test_too_few_documents_to_split(tmp_path, docs):
    path = write_jsonl(tmp_path / "two.jsonl", [{"text": d} for d in docs[:2]])
    err = expect_data_error(make(path, tmp_path), ErrorCode.DATA_EMPTY)
    assert "2 non-empty document" in err.message


def test_held_out_split_too_short_for_one_sequence(tmp_path, docs):
    path = write_jsonl(tmp_path / "few.jsonl", [{"text": d} for d in docs[:10]])
    err = expect_data_error(make(path, tmp_path, seq_len=1000), ErrorCode.DATA_EMPTY)
    assert "split" in err.message and "1001" in err.message


def test_bad_arguments_fail_early(jsonl):
    for kwargs in (
        {"vocab_size": 100},
        {"seq_len": 0},
        {"val_fraction": 0.6, "test_fraction": 0.4},
        {"max_tokens": 10, "seq_len": 32},
    ):
        with pytest.raises(ValueError):
            TextDataModule(str(jsonl), **kwargs)


# ------------------------------------------------------------------------- with a Trainer


class TinyLM(pl.LightningModule):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab_size, 8)
        self.out = torch.nn.Linear(8, vocab_size)
        self.seen = 0

    def step(self, batch):
        x, y = batch[:, :-1], batch[:, 1:]
        logits = self.out(self.emb(x))
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    def training_step(self, batch, _idx):
        self.seen += batch.shape[0]
        return self.step(batch)

    def validation_step(self, batch, _idx):
        self.log("val/loss", self.step(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_fits_with_a_trainer(jsonl, tmp_path):
    dm = make(jsonl, tmp_path)
    model = TinyLM(dm.task_spec().vocab_size)
    trainer = pl.Trainer(
        max_steps=3,
        limit_val_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(model, datamodule=dm)
    assert model.seen == 12
    (metrics,) = trainer.validate(model, datamodule=dm)
    assert np.isfinite(metrics["val/loss"])
