"""Every candidate row, in file order, as the localizer sees it.

The collapse detector's `prepare` does the shared work once: modality and its special
column, column kinds, the common columns, a reference sample split into the part compared
with and a real holdout (the null baseline of every score), and the fitted embedding
(tabular standardisation, text TF-IDF + SVD). The localizer then reads every candidate row
in file order through the analysis engine, with a hash of each whole row over the common
columns (the detector's `row_hash_expr`, so an int 1 and a float 1.0 agree), and the
distinct hashes of every reference row (exact copies count every reference row, not only
the sample). `full` is the detector's comparison with every candidate row in place of its
sample, sharing the fitted embedding, so `features.embedding(full, "candidate")` embeds
every row the way the reference was embedded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from synthos.analysis.collapse import CollapseConfig, Comparison, prepare
from synthos.analysis.collapse import features as collapse_features
from synthos.analysis.collapse.inputs import coerce_columns, row_hash_expr
from synthos.analysis.columns import type_family
from synthos.analysis.engine import Source, open_source, quote_ident

from .config import LocalizeConfig

_NUMERIC_FAMILIES = ("int", "float", "bool")
_ENGINE_COLUMNS = ("__rid", "__row")


@dataclass
class RowView:
    """The candidate's rows and the comparison they are judged in.

    cmp: the detector's comparison (samples, reference part, holdout, kinds, fitted specs).
    full: `cmp` with every candidate row (in time order for a series) as its candidate.
    positions: file position of each row of `full.candidate` (identity unless a series was
        sorted by time).
    row_hashes: hash of each row over the common columns, in file order.
    reference_hashes: distinct row hashes of every reference row (None without reference).
    """

    cmp: Comparison
    full: Comparison
    positions: np.ndarray
    row_hashes: np.ndarray
    reference_hashes: np.ndarray | None

    @property
    def rows(self) -> int:
        return len(self.row_hashes)

    @property
    def modality(self) -> str:
        return self.cmp.modality

    def to_file_order(self, values: np.ndarray) -> np.ndarray:
        """Values given per row of `full.candidate` rearranged into file order."""
        out = np.empty_like(values)
        out[self.positions] = values
        return out


def collapse_config(config: LocalizeConfig) -> CollapseConfig:
    """The detector settings behind the localizer's comparison."""
    return CollapseConfig(
        sample_rows=max(50, config.reference_rows),
        seed=config.seed,
        target_column=config.target_column,
        text_column=config.text_column,
        time_column=config.time_column,
        threads=config.threads,
        model_threads=config.model_threads,
        load_options=config.load_options,
    )


def load_rows(
    candidate: Any, reference: Any, *, modality: str | None, config: LocalizeConfig
) -> RowView:
    """Prepare the comparison, then read and hash every candidate row (module docstring)."""
    detector = collapse_config(config)
    cmp = prepare(candidate, reference, None, modality=modality, config=detector)
    collapse_features.embedding(cmp, collapse_features.base_side(cmp))  # fit the shared specs
    options = {"threads": config.threads, "load_options": dict(config.load_options or {})}
    cand_src = open_source(candidate, **options)
    ref_src = open_source(reference, **options) if cmp.has_reference else None
    try:
        table, hashes, ref_hashes = _read_every_row(cand_src, ref_src, cmp)
    finally:
        cand_src.close()
        if ref_src is not None:
            ref_src.close()
    positions = np.arange(table.num_rows)
    if cmp.time_column is not None and cmp.time_column in table.column_names:
        positions = np.argsort(
            table.column(cmp.time_column).to_numpy(zero_copy_only=False), kind="stable"
        )
        table = table.take(pa.array(positions, pa.int64()))
    shared = {k: v for k, v in cmp.cache.items() if "candidate" not in k}
    full = dataclasses.replace(cmp, candidate=table, cache=shared)
    return RowView(cmp, full, positions, hashes, ref_hashes)


def _columns(source: Source) -> dict[str, str]:
    return {n: t for n, t in source.columns.items() if n not in _ENGINE_COLUMNS}


def _read_every_row(
    cand: Source, ref: Source | None, cmp: Comparison
) -> tuple[pa.Table, np.ndarray, np.ndarray | None]:
    cand_cols = _columns(cand)
    ref_cols = _columns(ref) if ref is not None else cand_cols
    common = [n for n in ref_cols if n in cand_cols]
    numeric = {
        n
        for n in common
        if type_family(cand_cols[n]) in _NUMERIC_FAMILIES
        and type_family(ref_cols[n]) in _NUMERIC_FAMILIES
    }
    hashed = [n for n in common if type_family(cand_cols[n]) not in ("nested", "other")]
    h = row_hash_expr(hashed, numeric) if hashed else "0::UBIGINT"
    analysed = cmp.candidate.column_names
    select = ", ".join([*(quote_ident(n) for n in analysed), f"{h} AS __hash"])
    raw = cand.arrow(f"SELECT {select} FROM {{src}} ORDER BY __row")
    hashes = raw.column("__hash").to_numpy(zero_copy_only=False).astype(np.uint64)
    raw = raw.drop_columns(["__hash"])
    raw = pa.table(
        [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in raw.columns],
        names=raw.column_names,
    )
    table, _ = coerce_columns(raw, cmp.kinds, ref_cols, cand_cols, cmp.text_column)
    ref_hashes = None
    if ref is not None and hashed:
        distinct = ref.arrow(f"SELECT DISTINCT {h} AS h FROM {{src}}")
        ref_hashes = np.sort(distinct.column("h").to_numpy(zero_copy_only=False).astype(np.uint64))
    return table.select(analysed), hashes, ref_hashes
