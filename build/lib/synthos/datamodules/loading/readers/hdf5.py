"""HDF5 through h5py: a table is either a 1-D compound (structured) dataset, a group of
equal-length 1-D datasets (one per column), or a 2-D numeric dataset (one column per
second-axis index).

Row count and schema come from shapes and dtypes, without reading data. Batches are row
slices (`dataset[start:stop]`), so memory is bounded by `batch_rows`. With no
`hdf5_key`, the first table found is used (compound datasets first, then column groups,
then 2-D datasets; shallower and alphabetically earlier first); `info()` lists the others.
Tables written by pandas/PyTables (``to_hdf``) are not a target, though their compound
``table`` datasets are often readable too.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from synthos.errors import DataError, ErrorCode

from ..batches import check_unique_names
from ..failures import classify, guard, short
from ..source import Spilled, open_random
from .base import FormatReader


class _PyFile(io.RawIOBase):
    """A Python file object over a pyarrow random-access file, for h5py's fileobj driver."""

    def __init__(self, native: pa.NativeFile) -> None:
        self._native = native

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._native.seek(offset, whence)

    def tell(self) -> int:
        return self._native.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._native.read(len(view))
        view[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class _Table:
    kind: str  # "compound", "columns" or "matrix"
    key: str  # path inside the file


def _import_h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise DataError(
            "reading HDF5 needs h5py", code=ErrorCode.DATA_FORMAT, expected="h5py installed"
        ) from exc
    return h5py


def _arrow_type(dtype: np.dtype, h5py: Any) -> pa.DataType:
    """The arrow type a slice of this HDF5 dtype converts to."""
    if h5py.check_string_dtype(dtype) is not None:
        return pa.string()
    if dtype.kind == "S":
        return pa.string()
    if dtype.kind == "V" and dtype.fields is None and dtype.subdtype is None:
        return pa.binary()
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        size = int(np.prod(shape))
        return pa.list_(_arrow_type(base, h5py), size)
    if dtype.fields is not None:
        return pa.struct([(name, _arrow_type(dtype.fields[name][0], h5py)) for name in dtype.names])
    if dtype.kind == "O":
        raise TypeError(f"unsupported HDF5 dtype {dtype} (object references are not data)")
    return pa.from_numpy_dtype(dtype)


def _to_arrow(values: np.ndarray, dtype: np.dtype, h5py: Any) -> pa.Array:
    typ = _arrow_type(dtype, h5py)
    info = h5py.check_string_dtype(dtype)
    if info is not None or dtype.kind == "S":
        encoding = (info.encoding if info is not None else None) or "utf-8"
        out = []
        for item in values.tolist():
            if isinstance(item, bytes):
                item = item.decode("utf-8" if encoding == "utf-8" else "latin-1")
            out.append(item)
        return pa.array(out, type=pa.string())
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        size = int(np.prod(shape))
        flat = values.reshape(len(values), size).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(_to_arrow(flat, base, h5py), size)
    if dtype.fields is not None:
        children = [_to_arrow(values[name], dtype.fields[name][0], h5py) for name in dtype.names]
        return pa.StructArray.from_arrays(children, names=list(dtype.names))
    if dtype.kind == "V":
        return pa.array([bytes(v) for v in values], type=pa.binary())
    return pa.array(np.ascontiguousarray(values), type=typ)


class Hdf5Reader(FormatReader):
    format = "hdf5"

    def __init__(self, src, detection, options) -> None:
        super().__init__(src, detection, options)
        self._h5py = _import_h5py()
        self._spilled: Spilled | None = None
        self._native: pa.NativeFile | None = None
        self._file = None
        try:
            source = src
            if detection.compression:
                self._spilled = Spilled(src, detection.compression)
                source = self._spilled.source
            try:
                if source.is_local:
                    self._file = self._h5py.File(source.path, "r")
                else:
                    self._native = open_random(source)
                    self._file = self._h5py.File(_PyFile(self._native), "r")
            except DataError:
                raise
            except Exception as exc:
                raise DataError(
                    f"corrupt or truncated HDF5 file: {short(exc)}",
                    code=classify(exc, ErrorCode.DATA_CORRUPT),
                    path=self.path,
                    expected="a complete HDF5 file",
                ) from exc
            self._file_size = source.size
            with guard(self.path, "HDF5 structure", ErrorCode.DATA_CORRUPT):
                self._candidates = self._find_tables()
                self._table = self._choose()
                self._schema, self._rows = self._describe()
                seen = set()
                for name, dataset, _ in self._columns():
                    if dataset.name not in seen:
                        seen.add(dataset.name)
                        self._check_storage(name, dataset)
        except BaseException:
            self.close()
            raise
        check_unique_names(self._schema, self.path)

    # -- storage sanity ----------------------------------------------------------------

    def _corrupt(self, dataset: Any, why: str) -> DataError:
        return DataError(
            f"corrupt HDF5 dataset {dataset.name!r}: {why}",
            code=ErrorCode.DATA_CORRUPT,
            path=self.path,
            expected="dataset storage inside the file, consistent with its shape",
        )

    def _check_storage(self, name: str, dataset: Any) -> None:
        """Refuse datasets whose storage lies outside the file or cannot hold their shape.

        A damaged header can claim chunks gigabytes long (libhdf5 then allocates them) or
        a shape of billions of unwritten rows (read as fill values forever): both are
        caught here, before any data is read.
        """
        h5d = self._h5py.h5d
        dsid = dataset.id
        size = self._file_size
        itemsize = int(dataset.dtype.itemsize)
        logical = itemsize
        for extent in dataset.shape:
            logical *= int(extent)
        stored = int(dsid.get_storage_size())
        if stored > size:
            raise self._corrupt(dataset, f"{stored} bytes stored in a {size}-byte file")
        plist = dsid.get_create_plist()
        if plist.get_external_count() > 0:
            return
        layout = plist.get_layout()
        if layout == h5d.CONTIGUOUS:
            offset = dsid.get_offset()
            if offset is not None and offset + stored > size:
                raise self._corrupt(dataset, "data lies past the end of the file")
            if logical and stored < logical:
                raise self._corrupt(dataset, f"shape needs {logical} bytes but {stored} are stored")
        elif layout == h5d.CHUNKED:
            chunk_bytes = itemsize
            for extent in dataset.chunks or ():
                chunk_bytes *= int(extent)
            if chunk_bytes > (1 << 30):
                raise self._corrupt(dataset, f"chunks of {chunk_bytes} bytes")
            expected = 1
            for extent, chunk in zip(dataset.shape, dataset.chunks or (), strict=False):
                expected *= -(-int(extent) // max(int(chunk), 1))
            count = int(dsid.get_num_chunks())
            if count > expected:
                raise self._corrupt(dataset, f"{count} chunks for a shape that needs {expected}")
            self._check_chunks(dataset, count)
            if plist.get_nfilters() == 0:
                if count < expected:
                    raise self._corrupt(dataset, f"only {count} of {expected} chunks are written")
            elif logical > (1 << 20) and stored * 10_000 < logical:
                raise self._corrupt(
                    dataset, f"shape needs {logical} bytes but only {stored} are stored"
                )

    def _check_chunks(self, dataset: Any, count: int) -> None:
        size = self._file_size
        dsid = dataset.id
        bad: list[str] = []

        def visit(info: Any) -> None:
            if info.byte_offset is None or info.byte_offset + info.size > size:
                bad.append(f"chunk at {info.chunk_offset} lies past the end of the file")

        if hasattr(dsid, "chunk_iter"):
            try:
                dsid.chunk_iter(visit)
            except (RuntimeError, ValueError, OSError) as exc:
                raise self._corrupt(dataset, f"unreadable chunk index ({short(exc, 80)})") from exc
        else:  # pragma: no cover - older h5py
            for index in range(count):
                visit(dsid.get_chunk_info(index))
        if bad:
            raise self._corrupt(dataset, bad[0])

    # -- finding the table ------------------------------------------------------------

    def _is_plain_1d(self, obj: Any) -> bool:
        h5py = self._h5py
        return (
            isinstance(obj, h5py.Dataset)
            and obj.ndim == 1
            and obj.dtype.fields is None
            and self._convertible(obj.dtype)
        )

    def _convertible(self, dtype: np.dtype) -> bool:
        try:
            _arrow_type(dtype, self._h5py)
        except (TypeError, pa.ArrowNotImplementedError, ValueError):
            return False
        return True

    def _find_tables(self) -> list[_Table]:
        h5py = self._h5py
        compound: list[str] = []
        groups: list[str] = []
        matrices: list[str] = []

        def group_is_table(group: Any) -> bool:
            lengths = set()
            count = 0
            for name in group:
                link = group.get(name, getlink=True)
                if isinstance(link, (h5py.ExternalLink,)):
                    continue
                child = group.get(name)
                if self._is_plain_1d(child):
                    lengths.add(child.shape[0])
                    count += 1
            return count > 0 and len(lengths) == 1

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                if obj.dtype.fields is not None and obj.ndim == 1 and self._convertible(obj.dtype):
                    compound.append(name)
                elif obj.ndim == 2 and obj.dtype.kind in "biuf":
                    matrices.append(name)
            elif isinstance(obj, h5py.Group) and group_is_table(obj):
                groups.append(name)

        root = self._file
        if group_is_table(root):
            groups.append("/")
        root.visititems(visit)

        def order(key: str) -> tuple[int, str]:
            return (0 if key == "/" else key.count("/") + 1, key)

        return (
            [_Table("compound", k) for k in sorted(compound, key=order)]
            + [_Table("columns", k) for k in sorted(groups, key=order)]
            + [_Table("matrix", k) for k in sorted(matrices, key=order)]
        )

    def _choose(self) -> _Table:
        key = self.options.hdf5_key
        h5py = self._h5py
        if key is not None:
            obj = self._file.get(key)
            if obj is None:
                raise DataError(
                    f"HDF5 object {key!r} not found",
                    code=ErrorCode.DATA_NOT_FOUND,
                    path=self.path,
                    expected="one of " + ", ".join(t.key for t in self._candidates[:10]),
                )
            for table in self._candidates:
                if table.key.strip("/") == key.strip("/"):
                    return table
            if isinstance(obj, h5py.Dataset) and self._is_plain_1d(obj):
                return _Table("single", key)
            raise DataError(
                f"HDF5 object {key!r} is not a readable table",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                expected=(
                    "a 1-D compound dataset, a group of equal-length 1-D datasets, or a 2-D "
                    "numeric dataset"
                ),
            )
        if not self._candidates:
            raise DataError(
                "HDF5 file holds no readable table",
                code=ErrorCode.DATA_FORMAT,
                path=self.path,
                expected=(
                    "a 1-D compound dataset, a group of equal-length 1-D datasets, or a 2-D "
                    "numeric dataset"
                ),
            )
        return self._candidates[0]

    def _columns(self) -> list[tuple[str, Any, str | None]]:
        """(column name, dataset, compound field or matrix index) for every column."""
        table = self._table
        obj = self._file[table.key]
        if table.kind == "compound":
            return [(name, obj, name) for name in obj.dtype.names]
        if table.kind == "single":
            return [(table.key.rstrip("/").rsplit("/", 1)[-1], obj, None)]
        if table.kind == "matrix":
            base = table.key.rstrip("/").rsplit("/", 1)[-1]
            return [(f"{base}_{i}", obj, str(i)) for i in range(obj.shape[1])]
        out = []
        for name in sorted(obj):
            child = obj.get(name)
            if self._is_plain_1d(child):
                out.append((name, child, None))
        return out

    def _describe(self) -> tuple[pa.Schema, int]:
        h5py = self._h5py
        fields = []
        rows = None
        for name, dataset, part in self._columns():
            if self._table.kind == "compound":
                dtype = dataset.dtype.fields[part][0]
            else:
                dtype = dataset.dtype
            fields.append(pa.field(name, _arrow_type(dtype, h5py)))
            rows = dataset.shape[0]
        return pa.schema(fields), int(rows or 0)

    # -- reader interface ---------------------------------------------------------------

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def num_rows(self) -> int | None:
        return self._rows

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        h5py = self._h5py
        wanted = set(columns) if columns is not None else None
        selected = [c for c in self._columns() if wanted is None or c[0] in wanted]
        if columns is not None:
            by_name = {c[0]: c for c in selected}
            selected = [by_name[name] for name in columns if name in by_name]
        schema = pa.schema([self._schema.field(c[0]) for c in selected])
        step = self.options.batch_rows
        kind = self._table.kind
        for start in range(0, self._rows, step):
            stop = min(start + step, self._rows)
            with guard(self.path, f"HDF5 rows {start}-{stop}", ErrorCode.DATA_CORRUPT, row=start):
                arrays = []
                if kind == "compound":
                    dataset = self._file[self._table.key]
                    names = [c[2] for c in selected]
                    block = dataset.fields(names)[start:stop] if names else None
                    for name in names:
                        dtype = dataset.dtype.fields[name][0]
                        arrays.append(_to_arrow(block[name], dtype, h5py))
                elif kind == "matrix":
                    dataset = self._file[self._table.key]
                    block = dataset[start:stop]
                    for _, _, index in selected:
                        arrays.append(_to_arrow(block[:, int(index)], dataset.dtype, h5py))
                else:
                    for _, dataset, _ in selected:
                        arrays.append(_to_arrow(dataset[start:stop], dataset.dtype, h5py))
                batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
            yield batch

    def info(self) -> dict[str, Any]:
        return {
            "hdf5_table": self._table.key,
            "hdf5_layout": self._table.kind,
            "hdf5_candidates": [t.key for t in self._candidates],
        }

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        if self._native is not None:
            with contextlib.suppress(Exception):
                self._native.close()
            self._native = None
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None
