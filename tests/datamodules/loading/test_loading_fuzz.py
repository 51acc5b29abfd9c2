"""Property: any bytes, under any name, give a DataError or a valid table; never anything else.

Random bytes and mangled valid files (truncated, bytes flipped, garbage inserted, and the
same inside gzip) go through every public entry point. A deadline per example catches
hangs; the examples are bounded so the whole module runs in well under 30 s.
"""

from __future__ import annotations

import functools
import gzip

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthos.datamodules.loading import get_metadata, read_table, stream_chunks
from synthos.errors import DataError

from .writers import EXTENSIONS, FORMATS, to_bytes

SETTINGS = settings(
    deadline=5000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


MAGICS = [
    b"PAR1",
    b"ARROW1\x00\x00",
    b"FEA1",
    b"\x89HDF\r\n\x1a\n",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x28\xb5\x2f\xfd",
    b"\xff\xff\xff\xff\x10\x00\x00\x00",
    b"[",
    b"{",
    b"a,b\n",
]


@functools.cache
def valid_bytes(fmt: str) -> bytes:
    table = pa.table(
        {
            "id": pa.array(range(40), pa.int64()),
            "x": pa.array([i / 3 for i in range(40)], pa.float64()),
            "s": pa.array([f"s{i}é" for i in range(40)], pa.string()),
        }
    )
    return to_bytes(table, fmt)


def read_everything(path) -> None:
    """Every public entry point either succeeds with a valid result or raises DataError."""
    for call in (
        lambda: read_table(path),
        lambda: get_metadata(path),
        lambda: list(stream_chunks(path, batch_rows=7)),
        lambda: read_table(path, columns=["id"], max_rows=5),
    ):
        try:
            result = call()
        except DataError as error:
            assert 1000 <= int(error.code) < 2000
            assert str(path) in str(error)
            continue
        if isinstance(result, pa.Table):
            result.validate(full=True)
        elif isinstance(result, list):
            for batch in result:
                batch.validate(full=True)
                assert batch.num_rows <= 7


@pytest.mark.timeout(120)
@settings(SETTINGS, max_examples=300)
@given(
    data=st.one_of(
        st.binary(min_size=0, max_size=2048),
        st.text(max_size=1000).map(str.encode),
        # Right magic bytes, garbage after: reaches deep into each reader.
        st.builds(
            bytes.__add__,
            st.sampled_from(MAGICS),
            st.binary(max_size=2048),
        ),
    ),
    ext=st.sampled_from([*EXTENSIONS.values(), ".gz", ".txt", ""]),
)
def test_random_bytes(tmp_path_factory, data, ext):
    path = tmp_path_factory.mktemp("rand") / f"file{ext}"
    path.write_bytes(data)
    read_everything(path)


@st.composite
def mangled(draw):
    fmt = draw(st.sampled_from([*FORMATS, "feather_v1"]))
    data = bytearray(valid_bytes(fmt))
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "gzip-truncate"]))
    if kind == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        data = data[:cut]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    else:
        packed = gzip.compress(bytes(data))
        data = bytearray(packed[: draw(st.integers(1, len(packed)))])
    return fmt, kind, bytes(data)


@pytest.mark.timeout(180)
@settings(SETTINGS, max_examples=600)
@given(case=mangled())
def test_mangled_valid_files(tmp_path_factory, case):
    fmt, kind, data = case
    suffix = ".gz" if kind == "gzip-truncate" else ""
    path = tmp_path_factory.mktemp("mangled") / f"data{EXTENSIONS[fmt]}{suffix}"
    path.write_bytes(data)
    read_everything(path)
