"""The stratified sample: allocation, the rows that must be kept, and its precision.

Allocation (`bounded_allocation`): stratum h with N_h rows gets
``a_h = clip(lambda * N_h, L_h, N_h)`` rows, rounded by largest remainder, with lambda set
so that the a_h add up to the requested size n. The lower bound L_h is 1 for every
stratum, and for a rare stratum (N_h < rare_threshold * N) ``ceil(oversample * n * N_h / N)``
(at least 1, at most N_h): rare strata are over-represented by the oversampling factor.
When the lower bounds alone exceed n, the sample is larger than asked and says so.

Rows that must be kept beyond the strata (*constraint groups*): each rare level of every
categorical column and each rare text length bucket (same lower bound as a rare stratum),
each rare text cluster (drawn from the rows that were clustered), and for every numeric
column both extreme tails - rows below the `tail_quantiles[0]` quantile and above the
`tail_quantiles[1]` quantile - with ``ceil(tail_fraction * n / (2 * numeric columns))``
rows each, always including the row holding the column's minimum and maximum.

Which rows: every row has ``u = hash(row id, seed)``; within any group the rows with the
smallest u are taken. The engine keeps only rows whose u falls under a per-group threshold
set a few standard deviations above what the group needs (one scan), the rest is decided
here on that small candidate set, so the sample is the same for the same seed whatever the
thread count.

Precision (`margin_of_error`), for a proportion p estimated from the sample with the
stratified estimator, at the worst case p = 1/2 and confidence level 1 - alpha
(z = Phi^-1(1 - alpha/2), 1.96 at 95 %)::

    fpc_h = (N_h - n_h) / (N_h - 1)                (0 when N_h = 1)
    MOE_h = z * sqrt(0.25 * fpc_h / n_h)           (1 when n_h = 0)
    MOE   = z * sqrt(sum_h W_h**2 * 0.25 * fpc_h / n_h) + sum_{h: n_h = 0} W_h,  W_h = N_h / N
    sampling_confidence = max(0, 1 - MOE)

so a 10,000-row proportional sample of a large dataset has MOE ~ 0.0098 and confidence
~ 0.99; a stratum left without rows counts its whole weight against the confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

U64_MAX = (1 << 64) - 1


def u64_threshold(p: float) -> int:
    """The hash threshold under which a fraction `p` of rows falls."""
    if p >= 1.0:
        return U64_MAX
    if p <= 0.0:
        return 0
    return min(U64_MAX, int(p * U64_MAX))


def candidate_fraction(need: float, population: int) -> float:
    """Inclusion fraction for the candidate scan: `need` rows plus a safety margin."""
    if population <= 0 or need <= 0:
        return 0.0
    want = need * 1.1 + 4.0 * math.sqrt(need) + 16.0
    return min(1.0, want / population)


def rare_lower_bound(count: int, total: int, n: int, oversample: float) -> int:
    return int(min(count, max(1, math.ceil(oversample * n * count / max(total, 1)))))


def bounded_allocation(
    n: int, counts: Sequence[int], lower: Sequence[int] | None = None
) -> np.ndarray:
    """Integer a_h = clip(lambda * N_h, L_h, N_h) summing to n (or to sum(L_h) if larger)."""
    c = np.asarray(counts, dtype=np.float64)
    lo = np.zeros_like(c) if lower is None else np.minimum(np.asarray(lower, np.float64), c)
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if lo.sum() >= n:
        return lo.astype(np.int64)
    if c.sum() <= n:
        return c.astype(np.int64)
    lam_lo, lam_hi = 0.0, 1.0
    for _ in range(200):
        lam = 0.5 * (lam_lo + lam_hi)
        if np.clip(lam * c, lo, c).sum() > n:
            lam_hi = lam
        else:
            lam_lo = lam
    exact = np.clip(lam_lo * c, lo, c)
    alloc = np.floor(exact + 1e-9)
    alloc = np.maximum(alloc, lo)
    remainder = round(n - alloc.sum())
    if remainder > 0:
        frac = exact - alloc
        order = np.lexsort((np.arange(c.size), -frac))
        for index in order:
            if remainder <= 0:
                break
            if alloc[index] < c[index]:
                alloc[index] += 1
                remainder -= 1
    return alloc.astype(np.int64)


def margin_of_error(
    allocated: Sequence[int], counts: Sequence[int], level: float = 0.95
) -> tuple[float, np.ndarray]:
    """Overall and per-stratum margin of error of a proportion (see module docstring)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    n_h = np.asarray(allocated, dtype=np.float64)
    big_n = np.asarray(counts, dtype=np.float64)
    total = big_n.sum()
    if total <= 0:
        return 1.0, np.ones_like(n_h)
    fpc = np.where(big_n > 1, (big_n - n_h) / np.maximum(big_n - 1, 1), 0.0)
    fpc = np.clip(fpc, 0.0, 1.0)
    covered = n_h > 0
    per = np.ones_like(n_h)
    per[covered] = z * np.sqrt(0.25 * fpc[covered] / n_h[covered])
    w = big_n / total
    variance = float((w[covered] ** 2 * 0.25 * fpc[covered] / n_h[covered]).sum())
    moe = z * math.sqrt(variance) + float(w[~covered].sum())
    return min(1.0, moe), np.minimum(per, 1.0)


@dataclass
class Group:
    """Rows that the sample must contain at least `need` of.

    kind: "rare_level", "rare_text_length", "rare_text_cluster", "tail_low", "tail_high"
    or "extreme"; column and level say which; `mask_column` names the boolean or key
    column of the candidate table that marks members (or None for forced row ids).
    """

    kind: str
    column: str
    level: Any
    population: int
    need: int
    mask_column: str | None = None
    mask_value: Any = True
    rids: list[int] = field(default_factory=list)
    drawn: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "level": self.level,
            "population_rows": int(self.population),
            "required": int(self.need),
            "drawn": int(self.drawn),
        }


@dataclass
class Selection:
    rids: np.ndarray  # selected row ids, ascending
    positions: np.ndarray  # their positions in the candidate table
    allocation: np.ndarray  # final per-stratum allocation
    drawn: np.ndarray  # rows drawn per stratum
    shortfall: int
    lower_bounds: np.ndarray


def select(
    candidates: Any,
    n: int,
    counts: np.ndarray,
    lower: np.ndarray,
    groups: list[Group],
) -> Selection:
    """Pick the sample from the candidate rows (a pyarrow Table with __rid, __u, __stratum).

    Constraint groups are served first (smallest population first), then each stratum is
    filled up to its allocation, recomputed so that rows already taken count towards it.
    """
    rid = candidates.column("__rid").to_numpy()
    u = candidates.column("__u").to_numpy()
    stratum = candidates.column("__stratum").to_numpy().astype(np.int64)
    order = np.lexsort((rid, u))  # by u, ties by row id
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    chosen = np.zeros(rid.size, dtype=bool)

    for group in sorted(groups, key=lambda g: (g.population, g.kind, g.column, str(g.level))):
        if group.mask_column is None:
            members = np.isin(rid, np.asarray(group.rids, dtype=rid.dtype))
        else:
            column = candidates.column(group.mask_column).to_numpy(zero_copy_only=False)
            members = column == group.mask_value
            if members.dtype != bool:
                members = np.asarray(members, dtype=bool)
        have = int((members & chosen).sum())
        if have < group.need:
            free = np.flatnonzero(members & ~chosen)
            take = free[np.argsort(rank[free], kind="stable")][: group.need - have]
            chosen[take] = True
        group.drawn = int((members & chosen).sum())

    k = counts.size
    pre = np.bincount(stratum[chosen], minlength=k)[:k]
    bounds = np.maximum(lower, pre)
    allocation = bounded_allocation(n, counts, bounds)
    need = allocation - pre
    free = np.flatnonzero(~chosen)
    free = free[np.lexsort((rank[free], stratum[free]))]  # by stratum, then u
    if free.size:
        strata_free = stratum[free]
        starts = np.searchsorted(strata_free, np.arange(k))
        position_in_stratum = np.arange(free.size) - starts[strata_free]
        keep = position_in_stratum < need[strata_free]
        chosen[free[keep]] = True
    drawn = np.bincount(stratum[chosen], minlength=k)[:k]
    shortfall = int(np.maximum(allocation - drawn, 0).sum())
    positions = np.flatnonzero(chosen)
    positions = positions[np.argsort(rid[positions], kind="stable")]
    return Selection(rid[positions], positions, allocation, drawn, shortfall, bounds)
