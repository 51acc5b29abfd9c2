"""Every kind of bad input is a DataError with the right 1xxx code, naming the file."""

from __future__ import annotations

import gzip
import json
import math
import pickle
import tempfile
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.datamodules.loading import (
    check_finite,
    get_metadata,
    read_table,
    stream_chunks,
)
from synthos.datamodules.loading.readers import arrow_ipc
from synthos.errors import DataError, ErrorCode

from .writers import to_bytes


def expect_error(code: ErrorCode, path, call=read_table, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        result = call(path, **kwargs)
        if call is stream_chunks:
            list(result)
    error = info.value
    assert error.code == code, str(error)
    assert error.code.category == "data" and not error.retryable
    assert str(path) in error.details["path"], error.details
    assert str(path) in str(error)
    assert error.details["expected"], "every data error says what was expected"
    # Errors cross process boundaries intact (DDP, launchers).
    clone = pickle.loads(pickle.dumps(error))
    assert clone.code == error.code and clone.details == error.details
    return error


def test_file_not_found(tmp_path):
    missing = tmp_path / "nope.parquet"
    for call in (read_table, get_metadata, stream_chunks):
        expect_error(ErrorCode.DATA_NOT_FOUND, missing, call)
    expect_error(ErrorCode.DATA_NOT_FOUND, tmp_path / "*.csv")
    expect_error(ErrorCode.DATA_NOT_FOUND, tmp_path / "nodir" / "*.csv")


def test_stream_chunks_fails_at_call_time(tmp_path):
    with pytest.raises(DataError):
        stream_chunks(tmp_path / "missing.csv")  # not only when iterated


def test_empty_file_and_empty_directory(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    expect_error(ErrorCode.DATA_EMPTY, empty)
    expect_error(ErrorCode.DATA_EMPTY, empty, get_metadata)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\t\n")
    expect_error(ErrorCode.DATA_EMPTY, blank)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    expect_error(ErrorCode.DATA_EMPTY, folder)
    empty_gz = tmp_path / "e.csv.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    expect_error(ErrorCode.DATA_EMPTY, empty_gz)


def test_zero_rows(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n")
    error = expect_error(ErrorCode.DATA_EMPTY, header)
    assert "zero rows" in error.message
    expect_error(ErrorCode.DATA_EMPTY, header, stream_chunks)
    parquet = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"x": pa.array([], pa.int64())}), parquet)
    expect_error(ErrorCode.DATA_EMPTY, parquet)
    array = tmp_path / "zero.json"
    array.write_text("[]")
    expect_error(ErrorCode.DATA_EMPTY, array)
    assert get_metadata(parquet).row_count == 0  # describing an empty dataset is fine


def test_truncated_parquet(tmp_path, sample_table):
    data = to_bytes(sample_table, "parquet")
    for cut in (len(data) - 1, len(data) // 2, 10, 4):
        path = tmp_path / f"cut{cut}.parquet"
        path.write_bytes(data[:cut])
        error = expect_error(ErrorCode.DATA_CORRUPT, path)
        assert "truncated" in error.message or "corrupt" in error.message
        expect_error(ErrorCode.DATA_CORRUPT, path, get_metadata)


def test_corrupt_parquet_footer(tmp_path, sample_table):
    data = bytearray(to_bytes(sample_table, "parquet"))
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    for i in range(start, start + footer_len, 3):
        data[i] ^= 0xFF
    path = tmp_path / "footer.parquet"
    path.write_bytes(bytes(data))
    error = expect_error(ErrorCode.DATA_CORRUPT, path)
    assert "footer" in error.message.lower() or "parquet" in error.message.lower()
    # A footer length that points outside the file.
    data = bytearray(to_bytes(sample_table, "parquet"))
    data[-8:-4] = (10**9).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    expect_error(ErrorCode.DATA_CORRUPT, path)


def test_corrupt_parquet_pages(tmp_path, sample_table):
    data = bytearray(to_bytes(sample_table, "parquet"))
    for i in range(8, 400):
        data[i] = (data[i] * 7 + 13) % 256
    path = tmp_path / "pages.parquet"
    path.write_bytes(bytes(data))
    expect_error(ErrorCode.DATA_CORRUPT, path)


def test_feather_v1_crash_of_the_reader_is_data_corrupt(tmp_path, sample_table, monkeypatch):
    """pyarrow's v1 reader can crash on corrupt metadata (segfault or bus error, not always
    on the same bytes): it runs in a child process, and a crash there is DATA_CORRUPT."""
    path = tmp_path / "v1.feather"
    path.write_bytes(to_bytes(sample_table, "feather_v1"))
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(arrow_ipc, "_V1_TO_IPC", crash)
    error = expect_error(ErrorCode.DATA_CORRUPT, path)
    assert "crashed the reader" in error.message


def test_feather_v1_corrupt_metadata_names_the_problem_and_leaves_no_files(
    tmp_path, sample_table, monkeypatch
):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    good = to_bytes(sample_table, "feather_v1")
    path = tmp_path / "v1.feather"
    path.write_bytes(good[:-12] + (10**6).to_bytes(4, "little") + good[-8:])
    error = expect_error(ErrorCode.DATA_CORRUPT, path)
    assert error.message.startswith("corrupt Feather v1 file:")
    path.write_bytes(good)
    assert read_table(path).equals(sample_table)
    assert list(temp.iterdir()) == [], "the rewritten IPC file is removed"


def test_wrong_extension_unrecognisable(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(bytes(range(256)) * 4)
    error = expect_error(ErrorCode.DATA_FORMAT, path)
    assert "Parquet" in error.details["expected"]
    assert error.details["byte_offset"] == 0


def test_forced_format_that_does_not_match(tmp_path, sample_table):
    path = tmp_path / "data.bin"
    path.write_bytes(to_bytes(sample_table, "csv"))
    error = expect_error(ErrorCode.DATA_FORMAT, path, format="parquet")
    assert "PAR1" in error.details["expected"]
    assert read_table(path, format="csv").num_rows == sample_table.num_rows


def test_non_utf8_csv_gives_byte_offset(tmp_path):
    good = "".join(f"{i},plain text\n" for i in range(10000)).encode()
    bad_row = "10000,café\n".encode("latin-1")
    path = tmp_path / "latin.csv"
    path.write_bytes(b"n,text\n" + good + bad_row + b"10001,x\n")
    error = expect_error(ErrorCode.DATA_ENCODING, path)
    offset = error.details["byte_offset"]
    assert path.read_bytes()[offset] == 0xE9
    # Within the first bytes: caught while sniffing, with the exact offset too.
    head = tmp_path / "head.csv"
    head.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    error = expect_error(ErrorCode.DATA_ENCODING, head)
    assert error.details["byte_offset"] == 9


def test_non_utf8_jsonl_and_utf16(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"a": "ok"}\n' * 3 + '{"a": "caf\xe9"}\n'.encode("latin-1"))
    expect_error(ErrorCode.DATA_ENCODING, path)
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("a,b\n1,2\n".encode("utf-16"))
    expect_error(ErrorCode.DATA_ENCODING, utf16)


def test_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    error = expect_error(ErrorCode.DATA_FORMAT, path)
    assert error.details["row"] == 2
    assert "ragged" in error.message and "line 4" in error.message
    short_row = tmp_path / "short.tsv"
    short_row.write_text("a\tb\n1\t2\n3\n")
    error = expect_error(ErrorCode.DATA_FORMAT, short_row, stream_chunks)
    assert error.details["row"] == 1


def test_missing_requested_column(tmp_path, sample_table):
    for fmt, ext in (("parquet", ".parquet"), ("csv", ".csv"), ("jsonl", ".jsonl")):
        path = tmp_path / f"t{ext}"
        path.write_bytes(to_bytes(sample_table, fmt))
        error = expect_error(ErrorCode.DATA_SCHEMA, path, columns=["id", "nope"])
        assert error.details["column"] == "nope"
        expect_error(ErrorCode.DATA_SCHEMA, path, stream_chunks, columns=["nope"])


def test_mixed_types_in_json_field(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n{"a": "three", "b": "z"}\n')
    error = expect_error(ErrorCode.DATA_SCHEMA, path)
    assert error.details["column"] == "a"
    assert error.details["row"] == 2
    array = tmp_path / "mixed.json"
    array.write_text(json.dumps([{"v": [1]}, {"v": {"k": 1}}]))
    assert expect_error(ErrorCode.DATA_SCHEMA, array).details["column"] == "v"
    # Across blocks as well (types fixed by the first block).
    lines = [json.dumps({"a": i}) for i in range(3000)] + ['{"a": "x"}']
    big = tmp_path / "blocks.jsonl"
    big.write_text("\n".join(lines) + "\n")
    error = expect_error(ErrorCode.DATA_SCHEMA, big, block_bytes=4096)
    assert error.details["column"] == "a"
    error = expect_error(ErrorCode.DATA_SCHEMA, big, stream_chunks, block_bytes=4096)
    assert error.details["column"] == "a"


def test_int_then_float_json_is_not_mixed(tmp_path):
    lines = [json.dumps({"a": i}) for i in range(3000)] + ['{"a": 0.5}']
    path = tmp_path / "numbers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path, block_bytes=4096)
    assert table.schema.field("a").type == pa.float64()


def test_csv_stream_type_change(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(5000)) + "oops\n")
    error = expect_error(ErrorCode.DATA_SCHEMA, path, stream_chunks, block_bytes=4096)
    assert error.details["column"] == "n"
    assert error.details["row"] == 5000
    assert read_table(path, block_bytes=4096).schema.field("n").type == pa.string()


def test_malformed_json(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    error = expect_error(ErrorCode.DATA_FORMAT, path)
    assert error.details["row"] == 1
    assert error.details["byte_offset"] >= 9
    array = tmp_path / "broken.json"
    array.write_text('[{"a": 1}, {"a": 2}, {"a": 3,]')
    error = expect_error(ErrorCode.DATA_FORMAT, array)
    assert error.details["row"] == 2
    not_objects = tmp_path / "scalars.json"
    not_objects.write_text("[1, 2, 3]")
    error = expect_error(ErrorCode.DATA_FORMAT, not_objects)
    assert error.details["row"] == 0
    trailing = tmp_path / "trailing.json"
    trailing.write_text('[{"a": 1}] x')
    expect_error(ErrorCode.DATA_FORMAT, trailing)
    truncated = tmp_path / "truncated.json"
    truncated.write_text('[{"a": 1}, {"a": 2}')
    expect_error(ErrorCode.DATA_FORMAT, truncated)


def test_non_finite_numbers(tmp_path):
    values = [1.0, 2.0, math.nan, 4.0]
    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"x": values, "y": [1.0, math.inf, 3.0, 4.0], "s": list("abcd")}), path)
    assert read_table(path).num_rows == 4  # only checked on request
    error = expect_error(ErrorCode.DATA_VALUE, path, require_finite=["x"])
    assert error.details["row"] == 2 and error.details["column"] == "x"
    error = expect_error(ErrorCode.DATA_VALUE, path, stream_chunks, require_finite=True)
    assert error.details["row"] == 1 and error.details["column"] == "y"
    expect_error(ErrorCode.DATA_SCHEMA, path, require_finite=["s"])
    csv = tmp_path / "inf.csv"
    csv.write_text("v\n" + "".join(f"{i}.5\n" for i in range(100)) + "inf\n")
    error = expect_error(ErrorCode.DATA_VALUE, csv, stream_chunks, require_finite=["v"])
    assert error.details["row"] == 100
    with pytest.raises(DataError) as info:
        check_finite(pa.table({"z": [1.0, None]}), ["z"], path="mem", row_offset=10)
    assert info.value.details["row"] == 11


def test_hdf5_without_a_table(tmp_path):
    import h5py

    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("nothing")
        h5.attrs["note"] = "no datasets"
        h5.create_dataset("cube", data=np.zeros((2, 2, 2)))
    error = expect_error(ErrorCode.DATA_FORMAT, path)
    assert "no readable table" in error.message
    expect_error(ErrorCode.DATA_FORMAT, path, get_metadata)
    expect_error(ErrorCode.DATA_FORMAT, path, hdf5_key="cube")
    expect_error(ErrorCode.DATA_NOT_FOUND, path, hdf5_key="missing")
    unequal = tmp_path / "unequal.h5"
    with h5py.File(unequal, "w") as h5:
        h5["a"] = np.arange(3)
        h5["b"] = np.arange(4)
    expect_error(ErrorCode.DATA_FORMAT, unequal)


def test_truncated_hdf5(tmp_path, sample_table):
    from .writers import write_hdf5_compound

    path = tmp_path / "full.h5"
    write_hdf5_compound(sample_table, path)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 3])
    expect_error(ErrorCode.DATA_CORRUPT, cut)


def test_excel_over_the_limit(tmp_path, sample_table):
    from .writers import write_excel

    path = tmp_path / "big.xlsx"
    write_excel(sample_table, path)
    error = expect_error(ErrorCode.DATA_TOO_LARGE, path, excel_max_bytes=1000)
    assert "excel_max_bytes" in error.message
    error = expect_error(
        ErrorCode.DATA_TOO_LARGE, path, get_metadata, excel_max_uncompressed_bytes=1000
    )
    assert read_table(path).num_rows == sample_table.num_rows


def test_excel_problems(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["a", "b"])
    sheet.append([1, 2])
    sheet.append([3, 4, 5])
    ragged = tmp_path / "ragged.xlsx"
    workbook.save(ragged)
    error = expect_error(ErrorCode.DATA_FORMAT, ragged)
    assert error.details["row"] == 1
    expect_error(ErrorCode.DATA_NOT_FOUND, ragged, excel_sheet="nope")
    empty = openpyxl.Workbook()
    empty_path = tmp_path / "empty.xlsx"
    empty.save(empty_path)
    expect_error(ErrorCode.DATA_EMPTY, empty_path)
    not_xlsx = tmp_path / "files.xlsx"
    with zipfile.ZipFile(not_xlsx, "w") as archive:
        archive.writestr("readme.txt", "hello")
    expect_error(ErrorCode.DATA_FORMAT, not_xlsx)
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    expect_error(ErrorCode.DATA_FORMAT, legacy)


def test_truncated_and_corrupt_compression(tmp_path, sample_table):
    data = gzip.compress(to_bytes(sample_table, "csv"))
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    expect_error(ErrorCode.DATA_CORRUPT, path)
    zst = tmp_path / "bad.jsonl.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 20)
    expect_error(ErrorCode.DATA_CORRUPT, zst)


def test_truncated_arrow(tmp_path, sample_table):
    for fmt, ext in (("arrow", ".arrow"), ("arrow_stream", ".arrows"), ("feather", ".feather")):
        data = to_bytes(sample_table, fmt)
        path = tmp_path / f"cut{ext}"
        path.write_bytes(data[: len(data) * 2 // 3])
        expect_error(ErrorCode.DATA_CORRUPT, path)


def test_mixed_formats_in_directory(tmp_path, sample_table):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(to_bytes(sample_table, "parquet"))
    (folder / "b.csv").write_bytes(to_bytes(sample_table, "csv"))
    with pytest.raises(DataError) as info:
        read_table(folder)
    assert info.value.code == ErrorCode.DATA_FORMAT
    assert str(folder / "b.csv") in str(info.value)


def test_parts_with_different_columns(tmp_path, sample_table):
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(sample_table, folder / "a.parquet")
    pq.write_table(sample_table.drop_columns(["name"]), folder / "b.parquet")
    with pytest.raises(DataError) as info:
        read_table(folder)
    assert info.value.code == ErrorCode.DATA_SCHEMA
    assert info.value.details["column"] == "name"
    assert str(folder / "b.parquet") in str(info.value)
