"""The result's sections, assembled from what the passes found."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..columns import Column
from ..engine import Source
from ..result import DiversityResult
from ..strata import distribution_metrics
from .cluster_pass import Clusters
from .config import DiversityConfig
from .correlation_pass import Correlations
from .design import StrataDesign
from .global_pass import GlobalStats, NumericTotals
from .numeric import NumericStats
from .profile import Profile
from .sample_pass import StratifiedSample
from .strata_pass import StrataCounts


@dataclass(frozen=True)
class Passes:
    """What each pass found, in the order they ran."""

    profile: Profile
    stats: dict[str, NumericStats]
    design: StrataDesign
    totals: GlobalStats
    strata: StrataCounts
    correlations: Correlations
    clusters: Clusters
    sample: StratifiedSample


def build_result(
    src: Source, config: DiversityConfig, passes: Passes, timings: dict[str, float]
) -> DiversityResult:
    profile, totals, sample = passes.profile, passes.totals, passes.sample
    metrics = distribution_metrics(passes.strata.counts, config.rare_threshold)
    strata = _strata(passes, config, metrics)
    outliers = _outliers(passes, config)
    rows = passes.clusters.rows
    warnings = [*profile.warnings, *sample.warnings]
    if not profile.exact:
        warnings.append(
            "quantiles, kinds, Spearman, Cramer's V and clusters come from a uniform sample "
            f"of {profile.rows:,} rows; counts, strata, outliers and Pearson are over all "
            f"{totals.rows:,} rows"
        )
    return DiversityResult(
        dataset=_dataset(src, profile, totals.rows),
        columns=[_column(col, passes) for col in profile.columns],
        entropy=metrics["entropy"],
        gini=metrics["gini"],
        strata=strata,
        marginals=_marginals(passes, config),
        text_clusters=passes.clusters.text,
        cluster_count=int(rows.get("k") or 0),
        clusters=rows.get("clusters", []),
        cluster_silhouette=rows.get("silhouette"),
        correlations=passes.correlations.to_dict(config.top_correlations),
        rare_pattern_percentage=metrics["rare_percentage"],
        rare_strata=[s for s in strata["strata"] if s["rare"]],
        outlier_percentage=100.0 * outliers["rows"] / totals.rows if totals.rows else 0.0,
        outliers=outliers,
        tails=_tails(passes),
        sample=sample.info,
        sampling_confidence=sample.info["sampling_confidence"],
        margin_of_error=sample.info["margin_of_error"],
        warnings=warnings,
        timings=timings,
        config=config.to_dict(),
        sample_table=sample.table,
    )


def _strata(passes: Passes, config: DiversityConfig, metrics: dict[str, Any]) -> dict[str, Any]:
    design, counts, sample = passes.design, passes.strata.counts, passes.sample
    total = passes.totals.rows
    strata_list = [
        {
            "stratum": sid,
            "key": {dim.name: dim.label(k) for dim, k in zip(design.dims, key, strict=True)},
            "rows": int(count),
            "share": float(count / total),
            "rare": bool(count < config.rare_threshold * total),
            "allocated": int(sample.allocation[sid]),
            "sampled": int(sample.drawn[sid]),
            "margin_of_error": float(sample.stratum_margin_of_error[sid]),
        }
        for sid, (key, count) in enumerate(zip(passes.strata.keys, counts, strict=True))
    ]
    return {
        "dimensions": [
            {
                "name": d.name,
                "column": d.column,
                "kind": d.kind,
                "levels": d.cardinality,
                "edges": d.levels if d.kind == "numeric" else None,
            }
            for d in design.dims
        ],
        "dimensions_names": [d.name for d in design.dims],
        "count": int(counts.size),
        "possible": design.possible,
        "coverage": float(counts.size / max(design.possible, 1)),
        "metrics": metrics,
        "strata": strata_list,
    }


def _marginals(passes: Passes, config: DiversityConfig) -> dict[str, Any]:
    """Level counts of categorical and text columns (all rows), deciles of numeric ones."""
    profile, total = passes.profile, passes.totals.rows
    out: dict[str, Any] = {}
    for col in profile.categorical + profile.text:
        out[col.name] = _level_marginal(col, passes, config.rare_threshold * total, config)
    for col in profile.numeric:
        st = passes.stats.get(col.name)
        if st is None:
            continue
        v = profile.values(col)
        v = v[np.isfinite(v)]
        edges = st.deciles
        bins = (
            np.searchsorted(np.asarray(edges), v, side="left") if edges else np.zeros(v.size, int)
        )
        binc = np.bincount(bins, minlength=len(edges) + 1)
        out[col.name] = {
            "kind": "numeric",
            "source": "all rows" if profile.exact else f"profile sample of {profile.rows} rows",
            "metrics": distribution_metrics(binc, config.rare_threshold),
            "decile_edges": edges,
            "distinct_in_profile": st.distinct_in_profile,
            "mode_share": st.mode_share,
        }
    return out


def _level_marginal(
    col: Column, passes: Passes, rare_rows: float, config: DiversityConfig
) -> dict[str, Any]:
    """The 20 largest levels and every rare one; `rare_rows` is the rare threshold in rows."""
    total = passes.totals.rows
    dim = passes.design.marginal[col.name]
    levels = passes.strata.levels[col.name]
    ordered = sorted(levels.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = ordered[:20] + [kv for kv in ordered[20:] if kv[1] < rare_rows]
    return {
        "kind": "categorical" if col.kind == "categorical" else "text_length",
        "source": "all rows",
        "metrics": distribution_metrics([c for _, c in ordered], config.rare_threshold),
        "levels": [
            {
                "level": dim.label(k),
                "rows": int(c),
                "share": float(c / total),
                "rare": bool(c < rare_rows),
            }
            for k, c in shown
        ],
        "rare_levels": [dim.label(k) for k, c in ordered if c < rare_rows],
    }


def _column(col: Column, passes: Passes) -> dict[str, Any]:
    """One column's entry: kind, missing values and summary statistics."""
    totals = passes.totals
    entry: dict[str, Any] = {"name": col.name, "type": col.dtype, "kind": col.kind}
    if col.reason:
        entry["note"] = col.reason
    if col.kind != "skip":
        entry["missing"] = int(totals.rows - totals.non_missing[col.name])
    if col.kind == "numeric":
        entry["non_finite"] = int(totals.present[col.name] - totals.non_missing[col.name])
        st = passes.stats.get(col.name)
        if st is not None:
            entry.update(
                _numeric_summary(totals.numeric[col.name], st, totals.non_missing[col.name])
            )
    if col.kind in ("categorical", "text"):
        entry["distinct_estimate"] = totals.distinct.get(col.name)
    if col.kind == "text":
        lengths = totals.text_lengths[col.name]
        entry.update(
            {
                "length_mean": lengths.mean,
                "length_min": lengths.minimum,
                "length_max": lengths.maximum,
            }
        )
    return entry


def _numeric_summary(column_totals: NumericTotals, st: NumericStats, nn: int) -> dict[str, Any]:
    """Min, max, mean and std over all rows (from the shifted sums), quartiles from the profile."""
    s = column_totals.shifted_sum or 0.0
    mean = st.shift + s / nn if nn else None
    var = None
    if nn and nn > 1:
        var = max(0.0, (column_totals.shifted_squares - s**2 / nn) / (nn - 1))
    return {
        "min": column_totals.minimum,
        "max": column_totals.maximum,
        "mean": mean,
        "std": math.sqrt(var) if var is not None else None,
        "median": st.median,
        "q1": st.q1,
        "q3": st.q3,
    }


def _outliers(passes: Passes, config: DiversityConfig) -> dict[str, Any]:
    """Outlier counts per numeric column under both rules, and the rows with any."""
    totals = passes.totals
    columns = {}
    for col in passes.profile.numeric:
        st = passes.stats.get(col.name)
        if st is None:
            continue
        nn = totals.non_missing[col.name] or 1
        rz = totals.numeric[col.name].robust_z_outliers
        iq = totals.numeric[col.name].iqr_outliers
        columns[col.name] = {
            "robust_z": None if rz is None else int(rz),
            "robust_z_percentage": None if rz is None else 100.0 * rz / nn,
            "iqr": None if iq is None else int(iq),
            "iqr_percentage": None if iq is None else 100.0 * iq / nn,
            "median": st.median,
            "mad": st.mad,
            "q1": st.q1,
            "q3": st.q3,
        }
    return {
        "method": config.outlier_method,
        "robust_z_threshold": config.robust_z_threshold,
        "iqr_k": config.iqr_k,
        "rows": int(totals.outlier_rows or 0),
        "columns": columns,
    }


def _tails(passes: Passes) -> dict[str, Any]:
    """Each numeric column's tail bounds, rows beyond them and rows the sample kept."""
    tails: dict[str, Any] = {}
    for col in passes.profile.numeric:
        st = passes.stats.get(col.name)
        if st is None:
            continue
        column_totals = passes.totals.numeric[col.name]
        tails[col.name] = {
            "low_bound": st.tail_low,
            "high_bound": st.tail_high,
            "rows_below": column_totals.below_tail,
            "rows_above": column_totals.above_tail,
            "min": column_totals.minimum,
            "max": column_totals.maximum,
        }
    for constraint in passes.sample.info["constraints"]:
        if constraint["kind"] in ("tail_low", "tail_high"):
            side = "sampled_below" if constraint["kind"] == "tail_low" else "sampled_above"
            tails[constraint["column"]][side] = constraint["drawn"]
    return tails


def _dataset(src: Source, profile: Profile, rows: int) -> dict[str, Any]:
    return {
        "path": src.path,
        "format": src.format,
        "rows": rows,
        "columns": [c.name for c in profile.columns],
        "scanned_in_place": src.scanned_in_place,
        "profile_rows": profile.rows,
        "profile_exact": profile.exact,
    }
