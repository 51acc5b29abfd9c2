"""The HDF5 library: round trip, writers killed with SIGKILL (inside a write and at random
moments) lose nothing committed and leave a readable file, readers run while a writer
writes, outcomes are updated, and a file that is not a library is a DataError."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from synthos.analysis.signatures import (
    INTRINSIC,
    RELATIVE,
    Fingerprint,
    Outcome,
    Signature,
    SignatureLibrary,
)
from synthos.errors import DataError, ErrorCode
from tests.conftest import ROOT

WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from synthos.analysis.signatures import store
    from synthos.analysis.signatures.fingerprint import INTRINSIC, Fingerprint

    path, batch, batches, die_inside = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    library = store.SignatureLibrary(path)
    if die_inside == "yes":  # SIGKILL itself once the temporary file is half written
        real = store._write
        def write_then_die(tmp, snapshot):
            real(tmp, snapshot)
            with open(tmp, "r+b") as handle:
                handle.truncate(os.path.getsize(tmp) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        store._write = write_then_die if len(library.read()) >= batch else real
    rng = np.random.default_rng(len(library.read()))
    for k in range(batches):
        print(f"begin {k}", flush=True)
        entries = [
            store.Signature(f"{os.getpid()}-{k}-{i}",
                            Fingerprint("tabular", rng.standard_normal(len(INTRINSIC)), None, {}),
                            store.Outcome(collapse_detected=bool(i % 2)), "test")
            for i in range(batch)
        ]
        library.add(entries)
        print(f"committed {os.getpid()}-{k}", flush=True)
    """
)


def start_writer(path, batch: int, batches: int, die_inside: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            str(path),
            str(batch),
            str(batches),
            "yes" if die_inside else "no",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def committed(lines: list[str]) -> set[str]:
    return {line.split()[1] for line in lines if line.startswith("committed")}


def batches_in(library: SignatureLibrary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for signature_id in library.read().ids:
        key = "-".join(signature_id.split("-")[:2])
        counts[key] = counts.get(key, 0) + 1
    return counts


def signature(rng, name: str, relative: bool = False, collapsed: bool = False) -> Signature:
    found = Fingerprint(
        "tabular",
        rng.standard_normal(len(INTRINSIC)),
        rng.standard_normal(len(RELATIVE)) if relative else None,
        {"path": f"{name}.parquet", "content_hash": "abc123"},
    )
    outcome = Outcome(
        collapse_detected=collapsed, collapse_type="memorization" if collapsed else None
    )
    return Signature(name, found, outcome, "test")


def test_round_trip_keeps_vectors_provenance_and_outcome(tmp_path):
    rng = np.random.default_rng(0)
    library = SignatureLibrary(tmp_path / "lib.h5")
    assert len(library.read()) == 0 and library.generation() == 0
    first = [signature(rng, "a", relative=True, collapsed=True), signature(rng, "b")]
    first[1].fingerprint.intrinsic[3] = np.nan
    library.add(first)
    library.add([signature(rng, "c")])
    snapshot = library.read()
    assert snapshot.ids == ["a", "b", "c"] and snapshot.generation == 2
    assert np.array_equal(snapshot.intrinsic[0], first[0].fingerprint.intrinsic)
    assert np.isnan(snapshot.intrinsic[1, 3])
    assert np.array_equal(snapshot.relative[0], first[0].fingerprint.relative)
    assert snapshot.has_relative.tolist() == [True, False, False]
    assert np.isnan(snapshot.relative[1]).all()
    assert snapshot.outcome(0)["collapse_type"] == "memorization"
    assert snapshot.records[0]["provenance"]["dataset"]["path"] == "a.parquet"
    assert snapshot.records[0]["provenance"]["source"] == "test"


def test_update_outcome_records_what_was_measured(tmp_path):
    library = SignatureLibrary(tmp_path / "lib.h5")
    library.add([signature(np.random.default_rng(1), "a")])
    library.update_outcome("a", measured={"metric": "test/acc", "value": 0.8})
    assert library.read().outcome(0)["measured"] == {"metric": "test/acc", "value": 0.8}
    with pytest.raises(DataError) as missing:
        library.update_outcome("nope", measured=None)
    assert missing.value.code == ErrorCode.DATA_NOT_FOUND


def test_a_writer_killed_inside_its_write_loses_nothing_committed(tmp_path):
    path = tmp_path / "lib.h5"
    first = start_writer(path, batch=50, batches=2)
    assert first.wait(120) == 0
    before = batches_in(SignatureLibrary(path))
    killed = start_writer(path, batch=50, batches=3, die_inside=True)
    out, _ = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert "begin 0" in out and "committed" not in out
    assert list(tmp_path.glob(".lib.h5.*.tmp")), "the half-written temporary file is left"
    library = SignatureLibrary(path)
    assert batches_in(library) == before == {k: 50 for k in before}
    assert len(before) == 2
    after = start_writer(path, batch=50, batches=1)  # the next writer cleans up and goes on
    assert after.wait(120) == 0
    assert not list(tmp_path.glob(".lib.h5.*.tmp"))
    assert len(library.read()) == 150


def test_writers_killed_at_random_moments_lose_nothing_committed(tmp_path):
    path = tmp_path / "lib.h5"
    rng = np.random.default_rng(3)
    done: set[str] = set()
    for _ in range(4):
        writer = start_writer(path, batch=200, batches=50)
        lines = [writer.stdout.readline(), writer.stdout.readline()]  # imports done
        time.sleep(float(rng.uniform(0.0, 0.4)))
        os.kill(writer.pid, signal.SIGKILL)
        lines += writer.stdout.read().splitlines()
        writer.wait(60)
        done |= committed(lines)
        stored = batches_in(SignatureLibrary(path))
        assert done <= set(stored), "a committed batch is missing"
        assert set(stored.values()) <= {200}, "a batch was stored in part"


def test_readers_read_complete_versions_while_a_writer_writes(tmp_path):
    path = tmp_path / "lib.h5"
    library = SignatureLibrary(path)
    writer = start_writer(path, batch=10, batches=40)
    sizes = []
    while writer.poll() is None:
        if library.exists():
            sizes.append(len(library.read()))
    assert writer.returncode == 0
    sizes.append(len(library.read()))
    assert len(sizes) > 5
    assert all(size % 10 == 0 for size in sizes)
    assert sizes == sorted(sizes) and sizes[-1] == 400


def test_a_file_that_is_not_a_library_is_a_data_error(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["x"] = np.arange(3)
    with pytest.raises(DataError) as other:
        SignatureLibrary(tmp_path / "other.h5").read()
    assert other.value.code == ErrorCode.DATA_FORMAT
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError) as junk:
        SignatureLibrary(tmp_path / "junk.h5").read()
    assert junk.value.code == ErrorCode.DATA_CORRUPT
