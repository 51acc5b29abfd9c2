"""Write a pyarrow table in every supported format with the usual tools (not the loader)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

FORMATS = (
    "csv",
    "tsv",
    "json",
    "jsonl",
    "parquet",
    "arrow",
    "arrow_stream",
    "feather",
    "hdf5",
    "excel",
)
EXTENSIONS = {
    "csv": ".csv",
    "tsv": ".tsv",
    "json": ".json",
    "jsonl": ".jsonl",
    "parquet": ".parquet",
    "arrow": ".arrow",
    "arrow_stream": ".arrows",
    "feather": ".feather",
    "feather_v1": ".feather",  # detected as "feather", so not in FORMATS
    "hdf5": ".h5",
    "excel": ".xlsx",
}


def _records(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def to_bytes(table: pa.Table, fmt: str) -> bytes:
    """The table serialised in `fmt` (HDF5 and Excel go through a temporary file)."""
    sink = pa.BufferOutputStream()
    if fmt in ("csv", "tsv"):
        pacsv.write_csv(
            table,
            sink,
            write_options=pacsv.WriteOptions(delimiter="," if fmt == "csv" else "\t"),
        )
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records(table))
        return text.encode("utf-8")
    elif fmt == "json":
        return json.dumps(_records(table), ensure_ascii=False, indent=1).encode("utf-8")
    elif fmt == "parquet":
        pq.write_table(table, sink, row_group_size=100)
    elif fmt in ("arrow", "feather"):
        if fmt == "feather":
            feather.write_feather(table, sink)
        else:
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=100)
    elif fmt == "feather_v1":  # legacy: pyarrow deprecates writing it, files remain
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            feather.write_feather(table.combine_chunks(), sink, version=1)
    elif fmt == "arrow_stream":
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=100)
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("t" + EXTENSIONS[fmt])
            write(table, path, fmt)
            return path.read_bytes()
    return sink.getvalue().to_pybytes()


def write(table: pa.Table, path: Path, fmt: str) -> Path:
    if fmt == "hdf5":
        write_hdf5_compound(table, path)
    elif fmt == "excel":
        write_excel(table, path)
    else:
        path.write_bytes(to_bytes(table, fmt))
    return path


def write_hdf5_compound(table: pa.Table, path: Path, key: str = "table") -> None:
    import h5py

    fields = []
    for f in table.schema:
        if pa.types.is_string(f.type):
            fields.append((f.name, h5py.string_dtype("utf-8")))
        else:
            fields.append((f.name, f.type.to_pandas_dtype()))
    data = np.empty(table.num_rows, dtype=fields)
    for f in table.schema:
        column = table.column(f.name)
        if pa.types.is_floating(f.type):
            data[f.name] = column.to_numpy(zero_copy_only=False)
        else:
            data[f.name] = (
                np.array(column.to_pylist(), dtype=object)
                if pa.types.is_string(f.type)
                else column.to_numpy(zero_copy_only=False)
            )
    with h5py.File(path, "w") as h5:
        h5.create_dataset(key, data=data, chunks=True)


def write_hdf5_columns(table: pa.Table, path: Path, group: str = "data") -> None:
    import h5py

    with h5py.File(path, "w") as h5:
        g = h5.create_group(group)
        for f in table.schema:
            column = table.column(f.name)
            if pa.types.is_string(f.type):
                g.create_dataset(f.name, data=column.to_pylist(), dtype=h5py.string_dtype())
            else:
                g.create_dataset(f.name, data=column.to_numpy(zero_copy_only=False))


def write_excel(table: pa.Table, path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(table.column_names)
    for row in table.to_pylist():
        sheet.append(list(row.values()))
    workbook.save(path)
