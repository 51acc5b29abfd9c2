"""Every format written by the usual tools reads back equal; parts, globs, compression."""

from __future__ import annotations

import gzip
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.datamodules.loading import (
    DatasetLoader,
    detect_format,
    get_metadata,
    read_table,
    stream_chunks,
)

from .writers import EXTENSIONS, FORMATS, to_bytes, write, write_hdf5_columns


def assert_same(actual: pa.Table, expected: pa.Table, nan_is_null: bool = False) -> None:
    assert actual.column_names == expected.column_names
    assert actual.num_rows == expected.num_rows
    for name in expected.column_names:
        got = actual.column(name).to_pylist()
        want = expected.column(name).to_pylist()
        for g, w in zip(got, want, strict=True):
            if nan_is_null and w is None and isinstance(g, float) and math.isnan(g):
                continue
            if isinstance(w, float):
                assert g is not None and math.isclose(g, w, rel_tol=1e-9), (name, g, w)
            else:
                assert g == w, (name, g, w)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(tmp_path, sample_table, fmt):
    path = write(sample_table, tmp_path / f"data{EXTENSIONS[fmt]}", fmt)
    assert detect_format(path) == fmt
    nan_is_null = fmt == "hdf5"  # HDF5 has no nulls: missing floats are NaN
    table = read_table(path)
    assert_same(table, sample_table, nan_is_null)
    # Streaming gives the same rows in bounded batches.
    batches = list(stream_chunks(path, batch_rows=50))
    assert [b.num_rows for b in batches] == [50, 50, 50, 50, 50, 7]
    assert_same(pa.Table.from_batches(batches), sample_table, nan_is_null)
    # Column selection and max_rows.
    head = read_table(path, columns=["name", "id"], max_rows=10)
    assert head.column_names == ["name", "id"]
    assert head.column("id").to_pylist() == list(range(10))
    meta = get_metadata(path)
    assert meta.format == fmt
    assert meta.row_count == sample_table.num_rows and meta.row_count_exact
    assert meta.column_names == sample_table.column_names
    assert meta.num_bytes == path.stat().st_size
    assert meta.columns["id"].min == 0 and meta.columns["id"].max == 256
    assert meta.columns["score"].null_count == (0 if nan_is_null else 5)
    assert meta.columns["id"].distinct_estimate == 257
    assert math.isclose(meta.columns["id"].mean, 128.0)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "arrow_stream", "parquet"])
@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed(tmp_path, sample_table, fmt, codec):
    suffix = {"gzip": ".gz", "zstd": ".zst"}[codec]
    path = tmp_path / f"data{EXTENSIONS[fmt]}{suffix}"
    with pa.CompressedOutputStream(str(path), codec) as out:
        out.write(to_bytes(sample_table, fmt))
    assert detect_format(path) == fmt
    assert_same(read_table(path), sample_table)
    meta = get_metadata(path)
    assert meta.compression == codec and meta.row_count == sample_table.num_rows


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_feather_v1(tmp_path, sample_table, codec):
    path = tmp_path / ("v1.feather" + (".gz" if codec else ""))
    body = to_bytes(sample_table, "feather_v1")
    path.write_bytes(gzip.compress(body) if codec else body)
    assert detect_format(path) == "feather"
    batches = list(stream_chunks(path, batch_rows=100))
    assert [b.num_rows for b in batches] == [100, 100, 57]
    assert pa.Table.from_batches(batches).equals(sample_table)
    head = read_table(path, columns=["name", "id"], max_rows=10)
    assert head.column_names == ["name", "id"]
    assert head.column("id").to_pylist() == list(range(10))
    meta = get_metadata(path)
    assert meta.extra["feather_version"] == 1 and meta.row_count == 257 and meta.row_count_exact


def test_gzip_detected_without_extension(tmp_path, sample_table):
    path = tmp_path / "blob"
    path.write_bytes(gzip.compress(to_bytes(sample_table, "jsonl")))
    assert detect_format(path) == "jsonl"
    assert_same(read_table(path), sample_table)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "arrow"])
def test_directory_of_parts(tmp_path, sample_table, fmt):
    folder = tmp_path / "parts"
    (folder / "nested").mkdir(parents=True)
    pieces = [sample_table.slice(0, 100), sample_table.slice(100, 100), sample_table.slice(200)]
    targets = ["part-0", "part-1", "nested/part-2"]
    for piece, name in zip(pieces, targets, strict=True):
        write(piece, folder / f"{name}{EXTENSIONS[fmt]}", fmt)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.crc").write_bytes(b"\x00\x01")
    table = read_table(folder)
    assert sorted(table.column("id").to_pylist()) == list(range(257))
    meta = get_metadata(folder)
    assert meta.num_files == 3 and meta.row_count == 257
    batches = list(stream_chunks(folder, batch_rows=64))
    assert sum(b.num_rows for b in batches) == 257
    assert all(b.num_rows == 64 for b in batches[:-1])
    assert len({b.schema for b in batches}) == 1


def test_glob_patterns(tmp_path, sample_table):
    for i in range(3):
        pq.write_table(sample_table.slice(i * 100, 100), tmp_path / f"a-{i}.parquet")
    pq.write_table(sample_table, tmp_path / "other.parquet")
    (tmp_path / "sub").mkdir()
    pq.write_table(sample_table.slice(0, 5), tmp_path / "sub" / "a-9.parquet")
    assert read_table(tmp_path / "a-*.parquet").num_rows == 257
    assert read_table(str(tmp_path / "a-[01].parquet")).num_rows == 200
    assert read_table(str(tmp_path / "**" / "a-*.parquet")).num_rows == 262


def test_wrong_extension_still_loads(tmp_path, sample_table):
    path = tmp_path / "really_parquet.csv"
    path.write_bytes(to_bytes(sample_table, "parquet"))
    meta = get_metadata(path)
    assert meta.format == "parquet"
    assert "csv" in meta.extra["note"]
    assert_same(read_table(path), sample_table)
    text = tmp_path / "really_jsonl.parquet"
    text.write_bytes(to_bytes(sample_table, "jsonl"))
    assert_same(read_table(text), sample_table)


def test_json_layouts(tmp_path):
    by_key = tmp_path / "by_key.json"
    by_key.write_text('{"u1": {"age": 3, "name": "a"}, "u2": {"age": 4.5}, "u3": {}}')
    table = read_table(by_key)
    assert table.to_pylist() == [
        {"_key": "u1", "age": 3.0, "name": "a"},
        {"_key": "u2", "age": 4.5, "name": None},
        {"_key": "u3", "age": None, "name": None},
    ]
    renamed = read_table(by_key, json_key_column="user")
    assert renamed.column_names[0] == "user"
    array = tmp_path / "array.json"
    array.write_text('[\n {"a": [1, 2], "b": {"c": "x\\ny"}},\n {"a": [], "b": null}\n]\n')
    assert read_table(array).to_pylist() == [
        {"a": [1, 2], "b": {"c": "x\ny"}},
        {"a": [], "b": None},
    ]


def test_json_array_streams_in_windows(tmp_path):
    # Many records, small blocks: the element walker crosses window boundaries.
    rows = [{"i": i, "s": "x" * (i % 37), "f": i / 7} for i in range(20000)]
    path = tmp_path / "big.json"
    import json

    path.write_text(json.dumps(rows))
    loader = DatasetLoader(block_bytes=1 << 14)
    batches = list(loader.stream_chunks(path, batch_rows=3000))
    assert [b.num_rows for b in batches] == [3000] * 6 + [2000]
    table = pa.Table.from_batches(batches)
    assert table.column("i").to_pylist() == list(range(20000))


def test_hdf5_group_of_columns_and_metadata_key(tmp_path, sample_table):
    path = tmp_path / "cols.h5"
    write_hdf5_columns(sample_table, path, group="features")
    table = read_table(path)
    assert sorted(table.column_names) == sorted(sample_table.column_names)
    assert_same(table.select(sample_table.column_names), sample_table, nan_is_null=True)
    meta = get_metadata(path)
    assert meta.extra["hdf5_table"] == "features"
    assert meta.extra["hdf5_layout"] == "columns"


def test_hdf5_key_and_matrix(tmp_path):
    import h5py
    import numpy as np

    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("grid", data=np.arange(30, dtype="f4").reshape(10, 3))
        h5.create_dataset("other/ids", data=np.arange(4))
    table = read_table(path, hdf5_key="grid")
    assert table.column_names == ["grid_0", "grid_1", "grid_2"]
    assert table.column("grid_1").to_pylist() == [float(v) for v in range(1, 30, 3)]
    assert read_table(path, hdf5_key="other").column("ids").to_pylist() == [0, 1, 2, 3]


def test_csv_read_table_widens_types_stream_keeps_first(tmp_path):
    lines = ["n,label"] + [f"{i},a" for i in range(5000)] + ["2.5,b", "x,c"]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path, block_bytes=1 << 12)
    assert table.schema.field("n").type == pa.string()
    assert table.num_rows == 5002
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("\n".join(lines[:-1]) + "\n")
    assert read_table(numbers, block_bytes=1 << 12).schema.field("n").type == pa.float64()


def test_csv_rows_longer_than_a_block(tmp_path):
    long = "y" * 50_000
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "".join(f"{i},{long if i == 30 else 'x'}\n" for i in range(60)))
    batches = list(stream_chunks(path, batch_rows=7, block_bytes=4096))
    table = pa.Table.from_batches(batches)
    assert table.column("a").to_pylist() == list(range(60))
    assert table.column("b")[30].as_py() == long


def test_column_types_option(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("zip,v\n01234,1\n05678,2\n")
    table = read_table(path, column_types={"zip": pa.string(), "v": "float32"})
    assert table.column("zip").to_pylist() == ["01234", "05678"]
    assert table.schema.field("v").type == pa.float32()


def test_allow_empty_and_latin1_option(tmp_path):
    header_only = tmp_path / "h.csv"
    header_only.write_text("a,b\n")
    assert read_table(header_only, allow_empty=True).num_rows == 0
    latin = tmp_path / "l.csv"
    latin.write_bytes("name\ncafé\n".encode("latin-1"))
    assert read_table(latin, encoding="latin-1").column("name").to_pylist() == ["café"]


def test_excel_sheet_selection_and_mixed_columns(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "first"
    first.append(["a"])
    first.append([1])
    second = workbook.create_sheet("second")
    second.append(["num", "mixed", None])
    second.append([1, "x", None])
    second.append([2.5, 3, None])
    second.append([None, None, None])
    second.append(["#N/A", None, None])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    table = read_table(path, excel_sheet="second")
    assert table.to_pylist() == [
        {"num": 1.0, "mixed": "x"},
        {"num": 2.5, "mixed": "3"},
        {"num": None, "mixed": None},
    ]
    assert read_table(path, excel_sheet=0).column("a").to_pylist() == [1]


def test_parquet_footer_check_accepts_valid_files(tmp_path):
    """The footer guard must not reject real files: nested, dictionary, page index, ..."""
    import datetime
    import decimal

    table = pa.table(
        {
            "i8": pa.array([1, None, 3], pa.int8()),
            "u64": pa.array([1, 2, 2**63], pa.uint64()),
            "f32": pa.array([1.5, None, -2.0], pa.float32()),
            "s": ["a", None, "ccc"],
            "b": pa.array([b"\x00", b"", None], pa.binary()),
            "fixed": pa.array([b"ab", b"cd", None], pa.binary(2)),
            "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.5")]),
            "ts": pa.array([datetime.datetime(2020, 1, 1), None, datetime.datetime(2021, 5, 6)]),
            "date": pa.array([datetime.date(2020, 1, 1), None, datetime.date(1999, 12, 31)]),
            "flag": [True, None, False],
            "lst": [[1, 2], None, []],
            "st": [{"x": 1, "y": "a"}, None, {"x": None, "y": "b"}],
            "nested": [[{"k": [1]}], [], None],
        }
    )
    variants = [
        {},
        {"use_dictionary": False, "compression": "zstd"},
        {"write_page_index": True, "write_statistics": True},
        {"version": "1.0", "data_page_version": "2.0"},
    ]
    for i, kwargs in enumerate(variants):
        path = tmp_path / f"v{i}.parquet"
        pq.write_table(table, path, row_group_size=2, **kwargs)
        assert read_table(path).equals(table)
        meta = get_metadata(path)
        assert meta.columns["i8"].source == "footer", kwargs
        assert meta.columns["i8"].null_count == 1 and meta.columns["i8"].max == 3
        assert meta.columns["s"].min == "a" and meta.columns["s"].max == "ccc"


def test_json_extension_only_breaks_ties(tmp_path):
    lines = tmp_path / "lines.json"  # JSON Lines under a .json name: content wins
    lines.write_text('{"a": 1}\n{"a": 2}\n')
    assert detect_format(lines) == "jsonl"
    assert read_table(lines).column("a").to_pylist() == [1, 2]
    one = tmp_path / "one.json"  # one line: could be either, the extension decides
    one.write_text('{"k1": {"a": 1}, "k2": {"a": 2}}')
    assert read_table(one).column("_key").to_pylist() == ["k1", "k2"]
    one_record = tmp_path / "one.jsonl"
    one_record.write_text('{"k1": {"a": 1}, "k2": {"a": 2}}')
    assert read_table(one_record).column_names == ["k1", "k2"]
    pretty = tmp_path / "pretty.jsonl"  # pretty-printed array under a .jsonl name
    pretty.write_text('[\n  {"a": 1},\n  {"a": 2}\n]\n')
    assert read_table(pretty).column("a").to_pylist() == [1, 2]
