"""The diversity analysis's result, `DiversityResult`: its JSON form and a readable summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import pyarrow as pa

from synthos.fileio import to_jsonable


@dataclass
class DiversityResult:
    """What the analyzer found. `to_dict()` is JSON-serialisable.

    The AnalyzeDiversity contract: `entropy` and `gini` (of the strata sizes, in [0, 1]),
    `cluster_count` and `clusters` (size, share, centroid, profile, density),
    `correlations`, `rare_pattern_percentage` (rows in rare strata, 0-100),
    `outlier_percentage` (rows with an outlying value, 0-100), `sampling_confidence`
    (1 - margin of error of the stratified sample, see `sampling.py`).
    """

    dataset: dict[str, Any]
    columns: list[dict[str, Any]]
    entropy: float
    gini: float
    strata: dict[str, Any]
    marginals: dict[str, Any]
    text_clusters: dict[str, Any]
    cluster_count: int
    clusters: list[dict[str, Any]]
    cluster_silhouette: float | None
    correlations: dict[str, Any]
    rare_pattern_percentage: float
    rare_strata: list[dict[str, Any]]
    outlier_percentage: float
    outliers: dict[str, Any]
    tails: dict[str, Any]
    sample: dict[str, Any]
    sampling_confidence: float
    margin_of_error: float
    warnings: list[str]
    timings: dict[str, float]
    config: dict[str, Any]
    sample_table: pa.Table | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sample_table"}
        out = {"schema_version": 1, **out}
        return to_jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def summary(self) -> str:
        """A few readable lines."""
        d = self.dataset
        s = self.strata
        lines = [
            f"dataset      {d['path']} ({d['format']}): {d['rows']:,} rows, "
            f"{sum(c['kind'] != 'skip' for c in self.columns)} columns analysed"
            + (
                f" ({sum(c['kind'] == 'skip' for c in self.columns)} skipped)"
                if any(c["kind"] == "skip" for c in self.columns)
                else ""
            ),
            f"strata       {s['count']:,} over [{', '.join(s['dimensions_names'])}]; "
            f"entropy {self.entropy:.3f}, gini {self.gini:.3f}, "
            f"top-1 share {s['metrics']['top_share']['1']:.1%}",
            f"rare         {len(self.rare_strata):,} rare strata "
            f"(< {self.config['rare_threshold']:.0%} of rows) "
            f"holding {self.rare_pattern_percentage:.2f}% of rows",
            f"outliers     {self.outlier_percentage:.2f}% of rows ({self.outliers['method']})",
            f"clusters     {self.cluster_count} (silhouette {_fmt_opt(self.cluster_silhouette)})",
        ]
        top = self.correlations.get("top", [])[:3]
        if top:
            pairs = ", ".join(f"{c['a']}~{c['b']} {c['method']} {c['value']:+.2f}" for c in top)
            lines.append(f"correlations {pairs}")
        smp = self.sample
        lines.append(
            f"sample       {smp['size']:,} rows (asked {smp['requested']:,}); "
            f"margin of error {self.margin_of_error:.4f}, confidence {self.sampling_confidence:.3f}"
        )
        for warning in self.warnings:
            lines.append(f"warning      {warning}")
        return "\n".join(lines)


def _fmt_opt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
