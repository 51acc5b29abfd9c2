"""TabularDataModule on real files: token layout, bins, categories, splits, vocab, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from synthos.datamodules import TabularDataModule, TabularVocab
from synthos.datamodules.sample_data import TABLE_TARGET, sample_table
from synthos.datamodules.tabular import BOS
from synthos.errors import DataError, ErrorCode
from synthos.task import LANGUAGE_MODEL

N = 240
COLUMNS = ["label", "x", "color", "rooms", "flag"]  # file order; target is `label`


def frame(n: int = N, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[::17] = np.nan
    # Frequent colours and a long tail of rare ones (for top-k + OTHER).
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[::11] = [f"rare{i}" for i in range(len(color[::11]))]
    color[5::23] = None
    return pd.DataFrame(
        {
            "label": np.where(rng.random(n) < 0.5, "yes", "no"),
            "x": x,
            "color": color,
            "rooms": rng.integers(1, 4, n),  # few distinct integers: categorical
            "flag": rng.random(n) < 0.3,
        }
    )


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "candidate.parquet"
    frame().to_parquet(path, index=False)
    return path


def make(path, **kwargs):
    args = dict(target_column="label", n_bins=8, max_categories=3, batch_size=16)
    args.update(kwargs)
    return TabularDataModule(str(path), **args)


def test_batches_task_spec_and_target_last(parquet):
    dm = make(parquet)
    spec = dm.task_spec()
    assert spec.kind == LANGUAGE_MODEL and spec.vocab_size == dm.vocab.size
    assert dm.columns_used == ["x", "color", "rooms", "flag", "label"], "target moved last"
    assert [c.kind for c in dm.vocab.columns] == [
        "numeric",
        "categorical",
        "categorical",
        "categorical",
        "categorical",
    ]
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["tokens"].dtype == torch.long and batch["tokens"].shape == (16, 11)
    assert batch["target_mask"].dtype == torch.bool and batch["target_mask"].shape == (16, 10)
    assert batch["target_mask"].sum(1).tolist() == [1] * 16 and batch["target_mask"][:, -1].all()
    # The masked input position is the target's column token; what follows is its value.
    assert (batch["tokens"][:, -2] == dm.vocab.column_token["label"]).all()
    targets = set(batch["tokens"][:, -1].tolist())
    assert targets <= set(dm.vocab.value_tokens("label"))
    # Every row of every split has the same length; all ids are in the vocabulary.
    for ds in dm.datasets.values():
        assert ds.tokens.shape[1] == 1 + dm.seq_len == 11
        assert ds.tokens.min() >= 0 and ds.tokens.max() < dm.vocab.size
        assert (ds.tokens[:, 0] == BOS).all()


def test_target_defaults_to_last_column_and_columns_subset(parquet):
    dm = make(parquet, target_column=None)
    assert dm.vocab.target == "flag" and dm.columns_used[-1] == "flag"
    dm = make(parquet, target_column="label", columns=["label", "x"])
    assert dm.seq_len == 4 and dm.columns_used == ["x", "label"]
    dm = make(parquet, target_column=None, columns=["x", "rooms"])
    assert dm.vocab.names == dm.columns_used == ["x", "rooms"]


def test_round_trip_row_tokens_decode_to_bins_and_categories(parquet):
    dm = make(parquet)
    dm.setup()
    vocab = dm.vocab
    raw = dm.split_table("train").to_pandas()
    tokens = dm.datasets["train"].tokens
    edges = np.asarray(vocab.column("x").edges)
    kept = vocab.column("color").categories
    counts = raw["color"].value_counts()
    ranked = sorted(counts.index, key=lambda v: (-counts[v], v))
    assert kept == ranked[:3] and set(kept) == {"red", "green", "blue"}, "top-3 by frequency"
    seen = {"nan": 0, "other": 0}
    for row, ids in zip(raw.itertuples(index=False), tokens, strict=True):
        decoded = vocab.decode(ids)
        assert list(decoded) == dm.columns_used
        x = decoded["x"]
        if np.isnan(row.x):
            assert x.role == "nan"
            seen["nan"] += 1
        else:
            assert x.role == "bin" and x.value == np.searchsorted(edges, row.x, side="right")
            assert x.low <= row.x < x.high
        c = decoded["color"]
        if pd.isna(row.color):
            assert c.role == "nan"
        elif row.color in kept:
            assert (c.role, c.value) == ("category", row.color)
        else:
            assert c.role == "other"
            seen["other"] += 1
        assert decoded["rooms"].value == str(row.rooms)
        assert decoded["flag"].value == str(row.flag).lower()
        assert decoded["label"].value == row.label
        # The decoded meanings map back to the same ids.
        assert [meaning_token(vocab, name, info) for name, info in decoded.items()] == list(
            ids[2::2]
        )
    assert seen["nan"] > 0 and seen["other"] > 0


def meaning_token(vocab, name, info):
    if info.role == "nan":
        return vocab.nan_token(name)
    if info.role == "other":
        return vocab.other_token(name)
    if info.role == "bin":
        return vocab.bin_token(name, info.value)
    return vocab.category_token(name, info.value)


def test_edges_are_training_quantiles_without_reference(parquet):
    dm = make(parquet)
    dm.setup()
    x = dm.split_table("train").column("x").to_numpy(zero_copy_only=False)
    x = x[np.isfinite(x)]
    expected = np.unique(np.quantile(x, np.linspace(0, 1, 9)[1:-1]))
    np.testing.assert_allclose(dm.vocab.column("x").edges, expected)
    assert dm.vocab.meta["fit_on"] == "candidate"


def test_reference_fits_edges_and_provides_held_out_rows(tmp_path, parquet):
    ref_path = tmp_path / "real.csv"
    reference = frame(n=300, seed=7, shift=5.0)
    reference.to_csv(ref_path, index=False)
    dm = make(parquet, reference_path=str(ref_path), val_fraction=0.2, test_fraction=0.1)
    dm.setup()
    rows = dm.split_rows
    # Train on every candidate row; val/test are disjoint held-out reference rows.
    assert dm.split_sources == {"train": "candidate", "val": "reference", "test": "reference"}
    assert sorted(rows["train"].tolist()) == list(range(N))
    assert (len(rows["val"]), len(rows["test"])) == (60, 30)
    assert not set(rows["val"].tolist()) & set(rows["test"].tolist())
    # Edges come from the reference rows that are not held out, numerically.
    fit_rows = np.setdiff1d(np.arange(300), np.concatenate([rows["val"], rows["test"]]))
    assert dm.vocab.meta["fit_rows"] == len(fit_rows) == 210
    x = reference["x"].to_numpy()[fit_rows]
    expected = np.unique(np.quantile(x[np.isfinite(x)], np.linspace(0, 1, 9)[1:-1]))
    np.testing.assert_allclose(dm.vocab.column("x").edges, expected)
    assert min(dm.vocab.column("x").edges) > 2, "edges follow the shifted reference"
    # The candidate sits below the reference: its values fall mostly in the first bin.
    first_bin = dm.vocab.bin_token("x", 0)
    assert np.mean(dm.datasets["train"].tokens[:, 2] == first_bin) > 0.8
    # Val rows are the reference rows, encoded with the same vocabulary.
    val = dm.datasets["val"].tokens
    expected_val = dm.vocab.encode(pa.Table.from_pandas(reference.iloc[rows["val"]]))
    np.testing.assert_array_equal(val, expected_val)


def test_splits_without_reference_partition_the_rows(parquet):
    dm = make(parquet, val_fraction=0.1, test_fraction=0.2, seed=3)
    dm.setup()
    rows = dm.split_rows
    assert (len(rows["val"]), len(rows["test"]), len(rows["train"])) == (24, 48, 168)
    assert sorted(np.concatenate(list(rows.values())).tolist()) == list(range(N))
    again = make(parquet, val_fraction=0.1, test_fraction=0.2, seed=3)
    again.setup()
    np.testing.assert_array_equal(again.datasets["test"].tokens, dm.datasets["test"].tokens)


def test_unseen_categories_become_other(tmp_path, parquet):
    held = frame(n=60, seed=9)
    held["color"] = "violet"
    held.to_parquet(tmp_path / "ref.parquet", index=False)
    dm = make(parquet, reference_path=str(tmp_path / "ref.parquet"), max_categories=64)
    dm.setup()
    assert "violet" in dm.vocab.column("color").categories
    # The candidate's colours were never seen in the reference.
    train = dm.datasets["train"].tokens[:, 4]
    nan, other = dm.vocab.nan_token("color"), dm.vocab.other_token("color")
    assert set(train.tolist()) == {nan, other}


def test_budget_caps_training_rows_but_not_the_vocabulary(parquet):
    full = make(parquet)
    small = make(parquet, max_rows=50)
    full.setup()
    small.setup()
    assert len(small.datasets["train"]) == 50 and len(full.datasets["train"]) == 192
    assert small.vocab == full.vocab
    np.testing.assert_array_equal(
        small.datasets["train"].tokens, full.datasets["train"].tokens[:50]
    )


def test_train_fraction_keeps_every_class_and_differs_by_seed(parquet):
    full = make(parquet)
    full.setup()
    labels = full.split_table("train").column("label").to_pylist()
    shares = {}
    for seed in (1, 2):
        dm = make(parquet, train_fraction=0.25, subsample_seed=seed)
        dm.setup()
        shares[seed] = dm
        part = dm.split_table("train").column("label").to_pylist()
        assert abs(len(part) - 0.25 * len(labels)) <= len(set(labels))
        for cls in set(labels):  # proportional per class, at least one row each
            want = max(1, round(0.25 * labels.count(cls)))
            assert part.count(cls) == want, (cls, part.count(cls), want)
        assert set(dm.split_rows["train"]) <= set(full.split_rows["train"])
        np.testing.assert_array_equal(dm.split_rows["test"], full.split_rows["test"])
        assert dm.vocab == full.vocab
    assert set(shares[1].split_rows["train"]) != set(shares[2].split_rows["train"])


def test_vocab_saved_deterministically_and_reloaded(tmp_path, parquet):
    first = tmp_path / "a" / "tabular_vocab.json"
    second = tmp_path / "b" / "tabular_vocab.json"
    make(parquet, vocab_path=str(first)).prepare_data()
    make(parquet, vocab_path=str(second)).prepare_data()
    assert first.read_bytes() == second.read_bytes()
    data = json.loads(first.read_text())
    assert data["target_column"] == "label" and len(data["tokens"]) == data["vocab_size"]
    reloaded = make(parquet, vocab_path=str(first))
    assert reloaded.vocab == TabularVocab.load(first)
    assert reloaded.vocab.size == data["vocab_size"]
    # It travels in checkpoints too.
    other = make(parquet)
    other.load_state_dict(reloaded.state_dict())
    assert other.vocab == reloaded.vocab
    with pytest.raises(ValueError, match="delete it or set vocab_path"):
        _ = make(parquet, vocab_path=str(first), n_bins=4).vocab
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError) as info:
        _ = make(parquet, vocab_path=str(tmp_path / "bad.json")).vocab
    assert info.value.code == ErrorCode.DATA_FORMAT


def test_sample_table(tmp_path):
    path = sample_table(tmp_path)
    table = pq.read_table(path)
    assert table.shape == (569, 31) and table.column_names[-1] == TABLE_TARGET["breast_cancer"]
    dm = TabularDataModule(str(path), batch_size=8)
    dm.setup()
    assert dm.vocab.target == "diagnosis" and dm.seq_len == 62
    assert dm.vocab.column("diagnosis").categories == ["benign", "malignant"]
    assert 0.5 < dm.majority_baseline("test") < 0.75


def test_dates_decimals_dictionaries_and_integral_floats(tmp_path):
    n = 80
    rng = np.random.default_rng(4)
    level = pa.array(rng.choice(["lo", "hi"], n)).dictionary_encode()
    grade = rng.integers(1, 4, n).astype(float)
    grade[::9] = np.nan  # pandas-style integers with gaps: still categories "1", "2", "3"
    table = pa.table(
        {
            "when": pa.array(pd.date_range("2024-01-01", periods=n, freq="D")[rng.permutation(n)]),
            "price": pa.array([f"{v:.2f}" for v in rng.uniform(1, 9, n)]).cast(pa.decimal128(6, 2)),
            "level": level,
            "grade": grade,
        }
    )
    pq.write_table(table, tmp_path / "mixed.parquet")
    dm = make(tmp_path / "mixed.parquet", target_column="grade", n_bins=4)
    dm.setup()
    kinds = {c.name: c.kind for c in dm.vocab.columns}
    assert kinds == {
        "when": "numeric",
        "price": "numeric",
        "level": "categorical",
        "grade": "categorical",
    }
    assert sorted(dm.vocab.column("grade").categories) == ["1", "2", "3"]
    assert len(dm.vocab.column("when").edges) == 3
    decoded = [dm.vocab.decode(row)["grade"].role for row in dm.datasets["train"].tokens]
    assert "nan" in decoded and "category" in decoded


# ---------------------------------------------------------------------------- errors


def expect(code, fn, **details):
    with pytest.raises(DataError) as info:
        fn()
    assert info.value.code == code, info.value
    for key, value in details.items():
        assert info.value.details.get(key) == value, info.value.details
    return info.value


def test_missing_target_or_column(parquet):
    err = expect(
        ErrorCode.DATA_SCHEMA, lambda: make(parquet, target_column="price").setup(), column="price"
    )
    assert "target column 'price'" in str(err)
    expect(ErrorCode.DATA_SCHEMA, lambda: make(parquet, columns=["x", "zz"]).setup(), column="zz")


def test_reference_missing_a_column(tmp_path, parquet):
    frame().drop(columns=["color"]).to_csv(tmp_path / "ref.csv", index=False)
    err = expect(
        ErrorCode.DATA_SCHEMA,
        lambda: make(parquet, reference_path=str(tmp_path / "ref.csv")).setup(),
        column="color",
        path=str(tmp_path / "ref.csv"),
    )
    assert "reference" in str(err)


def test_empty_and_too_small_data(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    expect(ErrorCode.DATA_EMPTY, lambda: make(tmp_path / "empty.csv", target_column="b").setup())
    frame(n=2).to_csv(tmp_path / "two.csv", index=False)
    expect(ErrorCode.DATA_EMPTY, lambda: make(tmp_path / "two.csv").setup())


def test_single_class_target(tmp_path):
    data = frame()
    data["label"] = "yes"
    data.to_csv(tmp_path / "one.csv", index=False)
    err = expect(ErrorCode.DATA_VALUE, lambda: make(tmp_path / "one.csv").setup(), column="label")
    assert "single class" in str(err) and "'yes'" in str(err)


def test_untokenizable_column_and_type_clash(tmp_path, parquet):
    table = pa.table({"tags": [[1, 2], [3]] * 20, "y": ["a", "b"] * 20})
    pq.write_table(table, tmp_path / "lists.parquet")
    expect(
        ErrorCode.DATA_SCHEMA,
        lambda: make(tmp_path / "lists.parquet", target_column="y").setup(),
        column="tags",
    )
    # `x` is numeric in the reference but text in the candidate.
    clash = frame()
    clash["x"] = "high"
    clash.to_csv(tmp_path / "clash.csv", index=False)
    expect(
        ErrorCode.DATA_SCHEMA,
        lambda: make(tmp_path / "clash.csv", reference_path=str(parquet)).setup(),
        column="x",
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_bins": 1},
        {"max_categories": 0},
        {"val_fraction": 0.6, "test_fraction": 0.4},
        {"max_rows": 0},
        {"train_fraction": 0.0},
        {"train_fraction": 1.5},
        {"columns": []},
        {"batch_size": 0},
    ],
)
def test_bad_settings(parquet, kwargs):
    with pytest.raises(ValueError):
        make(parquet, **kwargs)
