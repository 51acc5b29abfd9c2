"""Saturating power laws over model size, fitted with bounds (DESIGN section 5).

Two forms, chosen by the direction of the metric:

- lower is better (loss, perplexity): ``metric(N) = c + a * N**(-b)``
- higher is better (accuracy, skill): ``metric(N) = c - a * N**(-b)``

with ``a >= 0``, ``B_MIN <= b <= B_MAX`` and ``c`` inside optional bounds (a loss
asymptote is ``>= 0`` by default). Internally sizes are normalised by a reference
size ``n_ref`` (geometric mean of the smallest and largest size) so the linear
algebra is well conditioned; ``a`` is reported in raw parameter units.

Fitting method: for a fixed exponent ``b`` the model is linear in ``(c, a)``, so
the exact box-constrained least-squares solution for ``(c, a)`` is computed in
closed form on a log-spaced grid of ``b``; the best grid point initialises a
bounded ``scipy.optimize.least_squares`` refinement over all three parameters.
The grid step alone is vectorised over many data sets at once, which is what the
bootstrap uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

B_MIN = 0.01
B_MAX = 2.0
B_GRID = np.geomspace(B_MIN, B_MAX, 49)

__all__ = [
    "B_GRID",
    "B_MAX",
    "B_MIN",
    "ScalingFit",
    "fit_grid",
    "fit_scaling_law",
]


@dataclass(frozen=True)
class ScalingFit:
    """A fitted law ``c + sign * a * N**(-b)``; sign is -1 when higher is better."""

    a: float
    b: float
    c: float
    r2: float
    higher_is_better: bool
    n_ref: float
    sse: float
    n_points: int
    at_bound: tuple[str, ...] = ()

    @property
    def sign(self) -> float:
        return -1.0 if self.higher_is_better else 1.0

    @property
    def a_norm(self) -> float:
        """``a`` in units of the normalised size ``N / n_ref``."""
        return self.a * self.n_ref ** (-self.b)

    def __call__(self, n: float | np.ndarray) -> np.ndarray | float:
        x = np.asarray(n, dtype=float) / self.n_ref
        out = self.c + self.sign * self.a_norm * x ** (-self.b)
        return float(out) if np.ndim(out) == 0 else out


def _normalised_sizes(sizes: np.ndarray) -> tuple[np.ndarray, float]:
    n_ref = float(math.sqrt(float(sizes.min()) * float(sizes.max())))
    return sizes / n_ref, n_ref


def _solve_on_grid(
    x: np.ndarray, yc: np.ndarray, b: np.ndarray, sign: float, clo: float, chi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact box-constrained least squares for ``(c, a)`` at each ``b``.

    ``yc``: (k, n) centred data; ``b``: (k, G) exponents per data set. Solves
    ``min sum (yc - c - sign * a * x^-b)^2`` s.t. ``a >= 0``, ``clo <= c <= chi``: the
    optimum of a convex quadratic on a box is the interior optimum if feasible,
    else the best optimum of a face (each face is a 1-d problem solved by clipping).
    Returns ``(c, a, sse)``, each (k, G).
    """
    n = x.shape[0]
    u = sign * np.exp(-b[:, :, None] * np.log(x)[None, None, :])  # (k, G, n)
    s_u = u.sum(axis=2)
    s_uu = np.einsum("kgn,kgn->kg", u, u)
    s_uy = np.einsum("kgn,kn->kg", u, yc)
    s_y = yc.sum(axis=1)[:, None]
    s_yy = np.einsum("kn,kn->k", yc, yc)[:, None]

    def sse(c, a):
        return s_yy - 2 * c * s_y - 2 * a * s_uy + n * c * c + 2 * c * a * s_u + a * a * s_uu

    best = [np.full(s_uy.shape, np.inf), np.zeros(s_uy.shape), np.zeros(s_uy.shape)]

    def consider(c, a, feasible):
        c = np.broadcast_to(c, s_uy.shape)
        a = np.broadcast_to(a, s_uy.shape)
        val = np.where(feasible, sse(c, a), np.inf)
        take = val < best[0]
        best[0] = np.where(take, val, best[0])
        best[1] = np.where(take, c, best[1])
        best[2] = np.where(take, a, best[2])

    # Interior optimum, when it lies inside the box.
    det = n * s_uu - s_u * s_u
    ok = det > 1e-12 * n * s_uu
    a_free = (n * s_uy - s_u * s_y) / np.where(ok, det, 1.0)
    c_free = (s_y - a_free * s_u) / n
    consider(c_free, a_free, ok & (a_free >= 0) & (c_free >= clo) & (c_free <= chi))
    # Face a = 0 (a constant), then the faces c = bound with a >= 0.
    consider(np.clip(s_y / n, clo, chi), 0.0, True)
    for bound in (clo, chi):
        if np.isfinite(bound):
            consider(bound, np.maximum(0.0, (s_uy - bound * s_u) / s_uu), True)
    return best[1], best[2], np.maximum(best[0], 0.0)


def fit_grid(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sign: float,
    c_bounds: tuple[float, float] = (-np.inf, np.inf),
    b_grid: np.ndarray = B_GRID,
    refine: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best ``(c, a, b)`` per data set: exact ``(c, a)`` for each ``b`` of a log grid.

    ``x``: normalised sizes, shape (n,). ``y``: shape (n,) or (k, n) for k data
    sets sharing the sizes (vectorised over k, which the bootstrap uses). After
    the coarse grid, a finer grid of ``refine`` points spans one coarse step on
    either side of each data set's best ``b``. Returns ``(c, a_norm, b, sse)``,
    each of shape (k,).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    x = np.asarray(x, dtype=float)
    k = y.shape[0]
    # Centre y for numerical accuracy; the bounds on c move with it.
    shift = float(np.mean(y))
    yc = y - shift
    clo, chi = c_bounds[0] - shift, c_bounds[1] - shift
    rows = np.arange(k)

    grid = np.broadcast_to(np.asarray(b_grid, dtype=float), (k, len(b_grid)))
    c, a, sse = _solve_on_grid(x, yc, grid, sign, clo, chi)
    idx = np.argmin(sse, axis=1)
    if refine > 2 and len(b_grid) > 1:
        # A finer grid one coarse step either side of each best b.
        step = float(np.log(b_grid[1] / b_grid[0]))
        centre = np.log(grid[rows, idx])[:, None]
        offsets = np.linspace(-step, step, refine | 1)[None, :]
        grid = np.clip(np.exp(centre + offsets), b_grid[0], b_grid[-1])
        c, a, sse = _solve_on_grid(x, yc, grid, sign, clo, chi)
        idx = np.argmin(sse, axis=1)
        # One parabolic step in log b through the best point and its neighbours,
        # kept only where it lowers the error.
        i0 = np.clip(idx, 1, grid.shape[1] - 2)
        t1, t2, t3 = (np.log(grid[rows, i0 + d]) for d in (-1, 0, 1))
        s1, s2, s3 = (sse[rows, i0 + d] for d in (-1, 0, 1))
        num = (t2 - t1) ** 2 * (s2 - s3) - (t2 - t3) ** 2 * (s2 - s1)
        den = (t2 - t1) * (s2 - s3) - (t2 - t3) * (s2 - s1)
        ok = (idx == i0) & (t1 < t2) & (t2 < t3) & (np.abs(den) > 0)
        t_new = np.clip(t2 - 0.5 * num / np.where(ok, den, 1.0), t1, t3)
        b_new = np.where(ok, np.exp(t_new), grid[rows, idx])[:, None]
        c2, a2, sse2 = (v[:, 0] for v in _solve_on_grid(x, yc, b_new, sign, clo, chi))
        best = sse[rows, idx]
        better = ok & (sse2 < best)
        return (
            np.where(better, c2, c[rows, idx]) + shift,
            np.where(better, a2, a[rows, idx]),
            np.where(better, b_new[:, 0], grid[rows, idx]),
            np.where(better, sse2, best),
        )
    return c[rows, idx] + shift, a[rows, idx], grid[rows, idx], sse[rows, idx]


def _r2(y: np.ndarray, sse: float) -> float:
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst <= 0.0:
        return 0.0
    return float(1.0 - sse / sst)


def fit_scaling_law(
    sizes: np.ndarray,
    values: np.ndarray,
    *,
    higher_is_better: bool,
    c_bounds: tuple[float, float] = (-np.inf, np.inf),
) -> ScalingFit:
    """Fit the law to individual points (every finished job is one point).

    Raises ``ValueError`` when the inputs cannot identify three parameters (fewer
    than 3 distinct sizes or non-finite values) or the fit is not finite.
    """
    sizes = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    if sizes.shape != y.shape or sizes.ndim != 1:
        raise ValueError("sizes and values must be 1-d arrays of equal length")
    if not (np.all(np.isfinite(sizes)) and np.all(sizes > 0) and np.all(np.isfinite(y))):
        raise ValueError("sizes must be finite and positive and values finite")
    if np.unique(sizes).size < 3:
        raise ValueError("a 3-parameter law needs at least 3 distinct model sizes")
    sign = -1.0 if higher_is_better else 1.0
    x, n_ref = _normalised_sizes(sizes)
    c0, a0, b0, sse0 = (v[0] for v in fit_grid(x, y, sign=sign, c_bounds=c_bounds))
    c, a_n, b, sse = float(c0), float(a0), float(b0), float(sse0)

    # Bounded refinement of all three parameters from the best grid point.
    lo = np.array([c_bounds[0], 0.0, B_MIN])
    hi = np.array([c_bounds[1], np.inf, B_MAX])
    p0 = np.clip(np.array([c, a_n, b]), lo, hi)
    # least_squares needs a strictly feasible start.
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    p0 = np.minimum(np.maximum(p0, lo + 1e-9 * span), hi - 1e-9 * span)

    def resid(p):
        return p[0] + sign * p[1] * x ** (-p[2]) - y

    try:
        sol = least_squares(resid, p0, bounds=(lo, hi), x_scale="jac", method="trf")
        if sol.success and np.all(np.isfinite(sol.x)):
            sse_ref = float(np.sum(sol.fun**2))
            if sse_ref <= sse * (1 + 1e-12) + 1e-300:
                c, a_n, b = (float(v) for v in sol.x)
                sse = sse_ref
    except (ValueError, np.linalg.LinAlgError):
        pass  # keep the grid solution, which is exact up to the grid step in b

    a = a_n * n_ref**b
    if not all(math.isfinite(v) for v in (a, b, c, sse)):
        raise ValueError("scaling fit produced non-finite parameters")
    at_bound = []
    if b <= B_MIN * 1.0001:
        at_bound.append("b_min")
    if b >= B_MAX * 0.9999:
        at_bound.append("b_max")
    if a_n <= 0.0:
        at_bound.append("a_zero")
    for name, bound in (("c_min", c_bounds[0]), ("c_max", c_bounds[1])):
        if math.isfinite(bound) and abs(c - bound) <= 1e-9 * max(1.0, abs(bound)):
            at_bound.append(name)
    return ScalingFit(
        a=float(a),
        b=float(b),
        c=float(c),
        r2=_r2(y, sse),
        higher_is_better=higher_is_better,
        n_ref=n_ref,
        sse=float(sse),
        n_points=int(y.size),
        at_bound=tuple(at_bound),
    )
