"""Bounded memory while streaming, and metadata without a full scan."""

from __future__ import annotations

import gc
import json
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from synthos.datamodules.loading import DatasetLoader, get_metadata, read_table, stream_chunks
from synthos.datamodules.loading.readers.arrow_ipc import ArrowFileReader, ArrowStreamReader
from synthos.datamodules.loading.readers.hdf5 import Hdf5Reader
from synthos.datamodules.loading.readers.json_records import JsonReader
from synthos.datamodules.loading.readers.parquet import ParquetReader

from .writers import to_bytes, write_hdf5_compound

ROWS = 400_000


def _big_table(rows: int = ROWS) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "x": rng.normal(size=rows),
            "text": pa.array(np.char.add("token-", (np.arange(rows) % 9973).astype(str))),
        }
    )


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    table = _big_table()
    paths = {}
    paths["csv"] = folder / "big.csv"
    pacsv.write_csv(table, paths["csv"])
    paths["tsv"] = folder / "big.tsv"
    pacsv.write_csv(table, paths["tsv"], write_options=pacsv.WriteOptions(delimiter="\t"))
    paths["parquet"] = folder / "big.parquet"
    pq.write_table(table, paths["parquet"], row_group_size=20_000)
    paths["arrow_stream"] = folder / "big.arrows"
    with (
        pa.OSFile(str(paths["arrow_stream"]), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=10_000)
    paths["arrow"] = folder / "big.arrow"
    with (
        pa.OSFile(str(paths["arrow"]), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=10_000)
    paths["feather"] = folder / "big.feather"  # v2, lz4-compressed batches
    feather.write_feather(table, paths["feather"], chunksize=10_000)
    paths["feather_v1"] = folder / "big_v1.feather"
    paths["feather_v1"].write_bytes(to_bytes(table, "feather_v1"))
    paths["hdf5"] = folder / "big.h5"
    write_hdf5_compound(table, paths["hdf5"])
    paths["jsonl"] = folder / "big.jsonl"
    with open(paths["jsonl"], "w") as out:
        for batch in table.to_batches(50_000):
            out.writelines(json.dumps(r) + "\n" for r in batch.to_pylist())
    return table, paths


@pytest.mark.parametrize(
    "fmt",
    ["csv", "tsv", "parquet", "arrow", "feather", "feather_v1", "arrow_stream", "jsonl", "hdf5"],
)
def test_stream_memory_is_bounded(big_files, fmt):
    table, paths = big_files
    path = paths[fmt]
    size = path.stat().st_size
    batch_rows = 8192
    gc.collect()
    # Memory in flight on the heap: Arrow's pool and the Python/numpy heap (traced).
    tracemalloc.start()
    base = pa.total_allocated_bytes()
    peak = 0
    early_peak = 0  # the peak over the first quarter of the file, once reading is steady
    rows = 0
    try:
        for batch in stream_chunks(path, batch_rows=batch_rows, block_bytes=1 << 16):
            assert batch.num_rows <= batch_rows
            rows += batch.num_rows
            in_flight = pa.total_allocated_bytes() - base + tracemalloc.get_traced_memory()[0]
            peak = max(peak, in_flight)
            if rows <= ROWS // 4:
                early_peak = peak
            del batch
    finally:
        tracemalloc.stop()
    assert rows == ROWS
    decoded = table.nbytes  # the whole dataset in memory, about 12 MB
    assert size > 5 * (1 << 20)  # the file is many times the batch and block size
    # Memory in flight does not grow with the rows read: reading the last three quarters
    # adds little over the first quarter, and stays a fraction of the whole dataset.
    # (pyarrow's own CSV reader keeps ~2-3 MB of buffers, so the fraction is not tiny.)
    assert peak < 1.5 * early_peak + (1 << 20), (fmt, peak, early_peak)
    assert peak < decoded / 3, (fmt, peak, size, decoded)


def test_jsonl_block_reader_resumes_where_the_streaming_reader_stopped(tmp_path, monkeypatch):
    """pyarrow's streaming JSON reader takes clean JSONL alone; at a value it rejects (here
    an integral float after a block of ints) the block reader resumes at the next row."""
    parsed = []  # first lines of the blocks the block reader parsed
    original = JsonReader._parse

    def counting(self, block):
        parsed.append(block.first_line)
        return original(self, block)

    monkeypatch.setattr(JsonReader, "_parse", counting)
    rows = [{"id": i, "a": i} for i in range(4000)]
    path = tmp_path / "ints.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    clean = pa.Table.from_batches(list(stream_chunks(path, block_bytes=4096)))
    assert clean.column("id").to_pylist() == list(range(4000))
    assert parsed == [0]  # the first block, for the schema; the rows came from pyarrow
    rows[3000]["a"] = 3000.0
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parsed.clear()
    table = pa.Table.from_batches(list(stream_chunks(path, block_bytes=4096)))
    assert table.column("id").to_pylist() == list(range(4000))  # none lost, none repeated
    assert table.column("a").to_pylist() == list(range(4000))
    assert table.schema.field("a").type == pa.int64()
    assert max(parsed) > 3000  # the rest came from the block reader


def _json_array_peak(path, rows: int) -> tuple[int, int]:
    with open(path, "w") as out:
        out.write("[")
        for i in range(rows):
            out.write(("," if i else "") + json.dumps({"i": i, "s": "v" * 40}))
        out.write("]")
    tracemalloc.start()
    try:
        count = 0
        for batch in stream_chunks(path, batch_rows=2048, block_bytes=1 << 16):
            count += batch.num_rows
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    return peak, path.stat().st_size


def test_json_array_python_memory_does_not_grow_with_size(tmp_path):
    small_peak, _ = _json_array_peak(tmp_path / "small.json", 15_000)
    big_peak, big_size = _json_array_peak(tmp_path / "big.json", 60_000)
    assert big_peak < 1.5 * small_peak + (256 << 10), (small_peak, big_peak)
    assert big_peak < big_size / 4, (big_peak, big_size)


def test_batches_are_exact_and_schema_stable(big_files):
    _, paths = big_files
    batches = list(stream_chunks(paths["csv"], batch_rows=30_000, block_bytes=1 << 18))
    assert [b.num_rows for b in batches] == [30_000] * 13 + [10_000]
    assert len({b.schema for b in batches}) == 1
    assert batches[-1].column("id")[-1].as_py() == ROWS - 1


def test_max_rows_stops_early(big_files, monkeypatch):
    _, paths = big_files
    seen = []
    original = ParquetReader.iter_batches

    def counting(self, columns=None):
        for batch in original(self, columns):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(ParquetReader, "iter_batches", counting)
    head = read_table(paths["parquet"], max_rows=1000)
    assert head.num_rows == 1000
    assert sum(seen) <= 65536  # one batch, not the whole file


def _forbid_data(monkeypatch, cls):
    def boom(self, columns=None):
        raise AssertionError(f"{cls.__name__} read data for metadata")

    monkeypatch.setattr(cls, "iter_batches", boom)


def test_parquet_metadata_from_footer_only(big_files, monkeypatch):
    _, paths = big_files
    _forbid_data(monkeypatch, ParquetReader)
    meta = get_metadata(paths["parquet"], preview_rows=0)
    assert meta.row_count == ROWS and meta.row_count_exact
    assert meta.schema.names == ["id", "x", "text"]
    assert meta.columns["id"].source == "footer"
    assert meta.columns["id"].min == 0 and meta.columns["id"].max == ROWS - 1
    assert meta.columns["x"].null_count == 0
    assert meta.extra["row_groups"] == ROWS // 20_000


def test_arrow_file_metadata_without_scan(tmp_path, monkeypatch):
    table = _big_table(50_000)
    path = tmp_path / "t.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1000)
    _forbid_data(monkeypatch, ArrowFileReader)
    meta = get_metadata(path, preview_rows=0)
    assert meta.format == "arrow" and meta.row_count == 50_000 and meta.row_count_exact
    assert meta.extra["record_batches"] == 50


def test_hdf5_metadata_from_shape(tmp_path, monkeypatch):
    import h5py

    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as h5:
        data = np.zeros(123_456, dtype=[("a", "i4"), ("b", "f8")])
        h5.create_dataset("t", data=data, chunks=(4096,))
    _forbid_data(monkeypatch, Hdf5Reader)
    meta = get_metadata(path, preview_rows=0)
    assert meta.row_count == 123_456
    assert meta.column_types == {"a": "int32", "b": "double"}


def test_stream_format_needs_a_scan_unless_declined(big_files, monkeypatch):
    _, paths = big_files
    meta = get_metadata(paths["arrow_stream"], preview_rows=100)
    assert meta.row_count == ROWS and meta.row_count_exact
    _forbid_data(monkeypatch, ArrowStreamReader)
    quick = get_metadata(paths["arrow_stream"], preview_rows=0, exact_row_count=False)
    assert quick.row_count is None and not quick.row_count_exact
    assert quick.schema.names == ["id", "x", "text"]


def test_preview_statistics(big_files):
    _, paths = big_files
    meta = DatasetLoader(preview_rows=5000).get_metadata(paths["csv"])
    stats = meta.columns
    assert stats["text"].rows_seen == 5000
    assert stats["text"].distinct_estimate == 5000
    assert stats["x"].mean is not None and abs(stats["x"].mean) < 0.1
    assert meta.to_dict()["rows"] == ROWS
    json.dumps(meta.to_dict())  # serialisable for report.json
