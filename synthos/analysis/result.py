"""The analyzer's result: `DiversityResult` and how it is assembled from the passes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa

from .strata import distribution_metrics


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
        return _jsonable(out)

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


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def build_result(
    an: Any,
    correlations: dict[str, Any],
    text_clusters: dict[str, Any],
    rows: dict[str, Any],
    sample_info: dict[str, Any],
    sample_table: pa.Table,
) -> DiversityResult:
    """Assemble the result from a finished analysis (`diversity._Analysis`)."""
    config = an.config
    total = an.n_rows
    counts = an.strata_counts
    metrics = distribution_metrics(counts, config.rare_threshold)
    strata_list = []
    for sid, (key, count) in enumerate(zip(an.strata_keys, counts, strict=True)):
        strata_list.append(
            {
                "stratum": sid,
                "key": {dim.name: dim.label(k) for dim, k in zip(an.dims, key, strict=True)},
                "rows": int(count),
                "share": float(count / total),
                "rare": bool(count < config.rare_threshold * total),
                "allocated": int(an.allocation[sid]),
                "sampled": int(an.drawn[sid]),
                "margin_of_error": float(an.per_stratum_moe[sid]),
            }
        )
    rare_strata = [s for s in strata_list if s["rare"]]
    strata = {
        "dimensions": [
            {
                "name": d.name,
                "column": d.column,
                "kind": d.kind,
                "levels": d.cardinality,
                "edges": d.levels if d.kind == "numeric" else None,
            }
            for d in an.dims
        ],
        "dimensions_names": [d.name for d in an.dims],
        "count": int(counts.size),
        "possible": an.possible_strata,
        "coverage": float(counts.size / max(an.possible_strata, 1)),
        "metrics": metrics,
        "strata": strata_list,
    }

    marginals: dict[str, Any] = {}
    for col in an.categorical + an.text:
        dim = an.marginal_dims[col.name]
        levels = an.marginal_counts[col.name]
        ordered = sorted(levels.items(), key=lambda kv: (-kv[1], str(kv[0])))
        m = distribution_metrics([c for _, c in ordered], config.rare_threshold)
        shown = ordered[:20] + [kv for kv in ordered[20:] if kv[1] < config.rare_threshold * total]
        marginals[col.name] = {
            "kind": "categorical" if col.kind == "categorical" else "text_length",
            "source": "all rows",
            "metrics": m,
            "levels": [
                {
                    "level": dim.label(k),
                    "rows": int(c),
                    "share": float(c / total),
                    "rare": bool(c < config.rare_threshold * total),
                }
                for k, c in shown
            ],
            "rare_levels": [dim.label(k) for k, c in ordered if c < config.rare_threshold * total],
        }
    for col in an.numeric:
        st = an.nstats[col.name]
        if st["empty"]:
            continue
        v = an._values(col)
        v = v[np.isfinite(v)]
        edges = st["deciles"]
        bins = (
            np.searchsorted(np.asarray(edges), v, side="left") if edges else np.zeros(v.size, int)
        )
        binc = np.bincount(bins, minlength=len(edges) + 1)
        marginals[col.name] = {
            "kind": "numeric",
            "source": "all rows" if an.exact_profile else f"profile sample of {an.m} rows",
            "metrics": distribution_metrics(binc, config.rare_threshold),
            "decile_edges": edges,
            "distinct_in_profile": st["distinct_in_profile"],
            "mode_share": st["mode_share"],
        }

    col_info = []
    g = an.g
    for col in an.columns:
        entry: dict[str, Any] = {"name": col.name, "type": col.dtype, "kind": col.kind}
        if col.reason:
            entry["note"] = col.reason
        if col.kind != "skip":
            entry["missing"] = int(total - g[f"nn{col.index}"])
        if col.kind == "numeric":
            i = col.index
            st = an.nstats[col.name]
            entry["non_finite"] = int(g[f"nr{i}"] - g[f"nn{i}"])
            if not st["empty"]:
                nn = g[f"nn{i}"]
                mean = st["shift"] + (g[f"s{i}"] or 0.0) / nn if nn else None
                var = None
                if nn and nn > 1:
                    var = max(0.0, (g[f"ss{i}"] - (g[f"s{i}"] or 0.0) ** 2 / nn) / (nn - 1))
                entry.update(
                    {
                        "min": g[f"min{i}"],
                        "max": g[f"max{i}"],
                        "mean": mean,
                        "std": math.sqrt(var) if var is not None else None,
                        "median": st["median"],
                        "q1": st["q1"],
                        "q3": st["q3"],
                    }
                )
        if col.kind in ("categorical", "text"):
            entry["distinct_estimate"] = g.get(f"nd{col.index}")
        if col.kind == "text":
            i = col.index
            entry.update(
                {
                    "length_mean": g[f"lavg{i}"],
                    "length_min": g[f"lmin{i}"],
                    "length_max": g[f"lmax{i}"],
                }
            )
        col_info.append(entry)

    outliers: dict[str, Any] = {
        "method": config.outlier_method,
        "robust_z_threshold": config.robust_z_threshold,
        "iqr_k": config.iqr_k,
        "rows": int(g.get("outlier_rows") or 0),
        "columns": {},
    }
    for col in an.numeric:
        st = an.nstats[col.name]
        if st["empty"]:
            continue
        i = col.index
        nn = g[f"nn{i}"] or 1
        rz, iq = g.get(f"orz{i}"), g.get(f"oiqr{i}")
        outliers["columns"][col.name] = {
            "robust_z": None if rz is None else int(rz),
            "robust_z_percentage": None if rz is None else 100.0 * rz / nn,
            "iqr": None if iq is None else int(iq),
            "iqr_percentage": None if iq is None else 100.0 * iq / nn,
            "median": st["median"],
            "mad": st["mad"],
            "q1": st["q1"],
            "q3": st["q3"],
        }
    outlier_pct = 100.0 * outliers["rows"] / total if total else 0.0

    tails: dict[str, Any] = {}
    for col in an.numeric:
        st = an.nstats[col.name]
        if st["empty"]:
            continue
        i = col.index
        tails[col.name] = {
            "low_bound": st["tail_low"],
            "high_bound": st["tail_high"],
            "rows_below": int(g[f"tlo{i}"]),
            "rows_above": int(g[f"thi{i}"]),
            "min": g[f"min{i}"],
            "max": g[f"max{i}"],
        }
    for constraint in sample_info["constraints"]:
        if constraint["kind"] in ("tail_low", "tail_high"):
            side = "sampled_below" if constraint["kind"] == "tail_low" else "sampled_above"
            tails[constraint["column"]][side] = constraint["drawn"]

    dataset = {
        "path": an.src.path,
        "format": an.src.format,
        "rows": total,
        "columns": [c.name for c in an.columns],
        "scanned_in_place": an.src.scanned_in_place,
        "profile_rows": an.m,
        "profile_exact": an.exact_profile,
    }
    if not an.exact_profile:
        an.warnings.append(
            "quantiles, kinds, Spearman, Cramer's V and clusters come from a uniform sample "
            f"of {an.m:,} rows; counts, strata, outliers and Pearson are over all "
            f"{total:,} rows"
        )
    return DiversityResult(
        dataset=dataset,
        columns=col_info,
        entropy=metrics["entropy"],
        gini=metrics["gini"],
        strata=strata,
        marginals=marginals,
        text_clusters=text_clusters,
        cluster_count=int(rows.get("k") or 0),
        clusters=rows.get("clusters", []),
        cluster_silhouette=rows.get("silhouette"),
        correlations=correlations,
        rare_pattern_percentage=metrics["rare_percentage"],
        rare_strata=rare_strata,
        outlier_percentage=outlier_pct,
        outliers=outliers,
        tails=tails,
        sample=sample_info,
        sampling_confidence=sample_info["sampling_confidence"],
        margin_of_error=sample_info["margin_of_error"],
        warnings=an.warnings,
        timings=an.timings,
        config=an.config.to_dict(),
        sample_table=sample_table,
    )
