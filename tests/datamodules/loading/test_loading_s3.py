"""S3 for real: moto's server on 127.0.0.1, objects uploaded with boto3, read via the loader."""

from __future__ import annotations

import gzip
import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthos.datamodules.loading import (
    get_metadata,
    read_table,
    stream_chunks,
)
from synthos.errors import DataError, ErrorCode

from .writers import to_bytes


@pytest.fixture
def bucket(s3_client):
    name = f"synthos-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


def _parquet(table: pa.Table, **kwargs) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue()


def test_s3_parquet_jsonl_and_parts(s3_client, s3_endpoint, bucket, sample_table):
    s3_client.put_object(Bucket=bucket, Key="one.parquet", Body=_parquet(sample_table))
    s3_client.put_object(Bucket=bucket, Key="rows.jsonl", Body=to_bytes(sample_table, "jsonl"))
    for i, start in enumerate(range(0, 257, 100)):
        body = _parquet(sample_table.slice(start, 100))
        s3_client.put_object(Bucket=bucket, Key=f"parts/part-{i:03d}.parquet", Body=body)
    s3_client.put_object(Bucket=bucket, Key="parts/_SUCCESS", Body=b"")

    one = read_table(f"s3://{bucket}/one.parquet", s3_endpoint=s3_endpoint)
    assert one.equals(sample_table)
    rows = read_table(f"s3://{bucket}/rows.jsonl", s3_endpoint=s3_endpoint)
    assert rows.column("id").to_pylist() == list(range(257))
    assert rows.column("name").to_pylist() == sample_table.column("name").to_pylist()

    for uri in (f"s3://{bucket}/parts/", f"s3://{bucket}/parts", f"s3://{bucket}/parts/*.parquet"):
        parts = read_table(uri, s3_endpoint=s3_endpoint)
        assert parts.equals(sample_table), uri

    meta = get_metadata(f"s3://{bucket}/parts/", s3_endpoint=s3_endpoint)
    assert meta.format == "parquet" and meta.row_count == 257 and meta.num_files == 3
    assert meta.files[0] == f"s3://{bucket}/parts/part-000.parquet"
    assert meta.columns["id"].source == "footer" and meta.columns["id"].max == 256

    batches = list(stream_chunks(f"s3://{bucket}/parts/", batch_rows=64, s3_endpoint=s3_endpoint))
    assert [b.num_rows for b in batches] == [64, 64, 64, 64, 1]


def test_s3_endpoint_from_environment(monkeypatch, s3_client, s3_endpoint, bucket):
    body = gzip.compress(b"a,b\n1,x\n2,y\n")
    s3_client.put_object(Bucket=bucket, Key="t.csv.gz", Body=body)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    table = read_table(f"s3://{bucket}/t.csv.gz")
    assert table.to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


def test_s3_other_formats(s3_client, s3_endpoint, bucket, sample_table):
    for fmt, key in (("arrow", "t.arrow"), ("hdf5", "t.h5"), ("excel", "t.xlsx"), ("csv", "t.csv")):
        s3_client.put_object(Bucket=bucket, Key=key, Body=to_bytes(sample_table, fmt))
        table = read_table(f"s3://{bucket}/{key}", s3_endpoint=s3_endpoint)
        assert table.column("id").to_pylist() == list(range(257)), fmt
        assert get_metadata(f"s3://{bucket}/{key}", s3_endpoint=s3_endpoint).format == fmt
    # Legacy Feather v1 is memory-mapped, so a remote one is first copied to a local file.
    s3_client.put_object(Bucket=bucket, Key="v1.feather", Body=to_bytes(sample_table, "feather_v1"))
    assert read_table(f"s3://{bucket}/v1.feather", s3_endpoint=s3_endpoint).equals(sample_table)


def test_s3_errors(s3_client, s3_endpoint, bucket, sample_table):
    for uri in (f"s3://{bucket}/missing.parquet", f"s3://no-such-bucket-{bucket}/x.parquet"):
        with pytest.raises(DataError) as info:
            read_table(uri, s3_endpoint=s3_endpoint)
        assert info.value.code == ErrorCode.DATA_NOT_FOUND
        assert uri in str(info.value)
    data = _parquet(sample_table)
    s3_client.put_object(Bucket=bucket, Key="cut.parquet", Body=data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        read_table(f"s3://{bucket}/cut.parquet", s3_endpoint=s3_endpoint)
    assert info.value.code == ErrorCode.DATA_CORRUPT
    with pytest.raises(DataError) as info:
        read_table(f"s3://{bucket}/nothing-here/*.csv", s3_endpoint=s3_endpoint)
    assert info.value.code == ErrorCode.DATA_NOT_FOUND


def test_s3_unreachable_endpoint_is_a_data_error():
    # Nothing listens on port 9 (discard); the error must be fast and a DataError.
    with pytest.raises(DataError) as info:
        read_table("s3://bucket/key.parquet", s3_endpoint="http://127.0.0.1:9")
    assert info.value.code in (ErrorCode.DATA_ACCESS, ErrorCode.DATA_NOT_FOUND)
