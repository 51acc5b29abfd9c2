"""Loss laws over model size and data: ``L(N, D) = E + A / N**alpha + B / D**beta``.

The fit is Chinchilla's "approach 3" as replicated by Besiroglu et al. (2024): in log space,
minimise ``sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i)`` with
``a = log A``, ``b = log B``, ``e = log E`` and ``delta = 1e-3``, by L-BFGS-B from a grid of
starting points, keeping the best optimum. Inside the optimiser log sizes and log budgets
are centred on the middle of their range (the same law, better conditioned); the grid is
scaled to the data (E a fraction of the lowest loss, each term a fraction of the reducible
loss, exponents 0.1-1.2), every grid point is scored and the best `N_REFINED_STARTS` are
optimised.

Forms (``form=``): ``"params_tokens"`` (the law above), ``"params"`` (``E + A / N**alpha``,
tokens constant or absent), ``"tokens"`` (``E + B / D**beta``, size constant or absent);
``"auto"`` picks the one-variable form when the other variable does not vary. Sizes (and
budgets) within `LEVEL_TOLERANCE` of each other count as one size: variants of a tier whose
parameter counts differ by a few embedding rows are one size, not three.

Intervals (in log space, at any level, computed at `LossLawFit.predict`) combine three parts:

* sampling noise: a bootstrap over runs, or over the caller's groups (points of one training
  run at several budgets are one group), resampled within each size so that every size
  stays in every replicate; each refit starts from the full-data optimum. With `loss_se`
  (the standard error of each measured loss, e.g. the evaluation set's own sampling error)
  every replicate also perturbs each loss by that error;
* the law's misfit: the jackknife spread over sizes (leave-one-size-out refits, or
  leave-one-budget-out for the tokens form) of the prediction at the target;
* the target's own evaluation error: the median relative `loss_se` of the runs.

On each side the interval reaches the farther of the bootstrap percentile and ``z`` jackknife
standard deviations (each estimates the whole sampling error, the jackknife with the misfit
in it, so adding them would count the noise twice); the evaluation error is added to that in
quadrature. An asymmetric bootstrap stays asymmetric.

Honest edges: too few distinct sizes or budgets for the form (3 of each for the two-variable
law, 4 levels for a one-variable law, so that a leave-one-out refit still has a point to
spare), an exponent at its bound, E at the lowest loss or under 1 % of it (no floor), a term
that vanishes, data that are not monotone (more than `NON_MONOTONE_SHARE` of the pairs in
which one run has at least the other's size and budget show the larger run worse) or an
optimisation that found no finite optimum make the fit ``degenerate`` with a ``reason``; its
intervals then reach at least the leave-one-out predictions and the losses the evidence
allows (up to the best run the target dominates, or the whole observed range when the data
are not monotone). With no finite optimum every prediction is ``None``. Fewer than
`MIN_RUNS` usable runs, non-positive sizes or losses, or arrays of different lengths raise
`synthos.errors.DataError`.

API::

    fit = fit_loss_law(params, tokens, loss, groups=None, loss_se=None, form="auto",
                       seed=0, n_bootstrap=200)
    fit.E, fit.A, fit.alpha, fit.B, fit.beta       # None where the form has no such term
    fit.form, fit.fit_quality, fit.n_points, fit.n_sizes, fit.n_budgets, fit.n_groups
    fit.degenerate, fit.reason, fit.warnings
    fit.predict(412e6, 8.2e9, level=0.9)           # LossPrediction; arrays give a list
    fit.to_dict()                                  # JSON-ready
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from synthos.errors import DataError, ErrorCode
from synthos.fileio import to_jsonable

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "EXPONENT_BOUNDS",
    "FORMS",
    "HUBER_DELTA",
    "LEVEL_TOLERANCE",
    "MIN_RUNS",
    "NON_MONOTONE_SHARE",
    "FitQuality",
    "LossLawFit",
    "LossPrediction",
    "fit_loss_law",
]

HUBER_DELTA = 1e-3
EXPONENT_BOUNDS = (0.0, 3.0)
LEVEL_TOLERANCE = 0.02
DEFAULT_BOOTSTRAP = 200
MIN_RUNS = 3
NON_MONOTONE_SHARE = 0.25
N_REFINED_STARTS = 12
#: L-BFGS-B's iteration cap: well-posed fits converge in under 300; flat objectives (data
#: without a trend) would otherwise spend thousands of iterations on no information.
MAX_ITERATIONS = 500
FORMS = ("params_tokens", "params", "tokens")
_FORMULAS = {
    "params_tokens": "L = E + A / N^alpha + B / D^beta",
    "params": "L = E + A / N^alpha",
    "tokens": "L = E + B / D^beta",
}
#: Bounds of log(term at the centre) relative to the log of the highest loss.
_COEF_SPAN = (-25.0, 5.0)
#: E's lower bound as a fraction of the lowest loss.
_E_FLOOR = 1e-4
#: An E below this fraction of the lowest loss is no floor: it cannot be told from zero, and
#: how close to the bound the optimiser stops along that flat direction is chance.
_E_NEGLIGIBLE = 0.01
#: A term whose largest value over the data is below this fraction of the lowest loss is gone.
_TERM_VANISHES = 1e-4
_EXPONENT_EDGE = 0.01
_MIN_LEVELS = {"params_tokens": 3, "params": 4, "tokens": 4}
_MAX_PAIRS_POINTS = 2000
_GRID_E = (0.05, 0.3, 0.6, 0.85)
_GRID_EXPONENT = (0.1, 0.3, 0.5, 0.8, 1.2)
_GRID_TERM = (0.05, 0.25, 0.6)


# ---------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class FitQuality:
    """How well the law describes the runs: in-sample and for a size it did not see."""

    rmse_log: float  # root mean square residual of log loss (about a relative error)
    r2: float  # of the loss itself
    mare: float  # mean |relative error| in sample
    loso_mare: float | None  # mean |relative error| of each point from the fit without its size
    objective: float  # the Huber objective at the optimum, divided by delta


@dataclass(frozen=True)
class LossPrediction:
    params: float | None
    tokens: float | None
    predicted: float | None
    lower: float | None
    upper: float | None
    level: float
    warnings: tuple[str, ...] = ()
    #: Set when the law predicted a higher loss than runs the target dominates: the
    #: prediction is then their mean loss (see `_monotone_cap`).
    capped_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "params": self.params,
                "tokens": self.tokens,
                "predicted": self.predicted,
                "lower": self.lower,
                "upper": self.upper,
                "level": self.level,
                "warnings": list(self.warnings),
                "capped_at": self.capped_at,
            }
        )


@dataclass(frozen=True)
class _Runs:
    """The usable runs: validated arrays, their size/budget levels and bootstrap units."""

    params: np.ndarray | None
    tokens: np.ndarray | None
    loss: np.ndarray
    groups: np.ndarray  # integer label per point
    rel_se: np.ndarray | None
    size_level: np.ndarray | None
    budget_level: np.ndarray | None
    notes: tuple[str, ...]

    @property
    def y(self) -> np.ndarray:
        return np.log(self.loss)


@dataclass(frozen=True)
class _Design:
    """The form's covariates: centred log size / log budget, one row per term."""

    form: str
    centres: np.ndarray  # (k,) log N0 / log D0
    covariates: np.ndarray  # (k, n)
    bounds: tuple[tuple[float, float], ...]

    def target(self, params: np.ndarray | None, tokens: np.ndarray | None) -> np.ndarray:
        rows = []
        if self.form in ("params_tokens", "params"):
            rows.append(np.log(params))
        if self.form in ("params_tokens", "tokens"):
            rows.append(np.log(tokens))
        return np.vstack(rows) - self.centres[:, None]


@dataclass(frozen=True)
class LossLawFit:
    """A fitted loss law, its quality and honest edges; `predict` gives intervals."""

    form: str
    E: float | None
    A: float | None
    alpha: float | None
    B: float | None
    beta: float | None
    fit_quality: FitQuality | None
    n_points: int
    n_sizes: int | None
    n_budgets: int | None
    n_groups: int
    n_bootstrap: int
    degenerate: bool
    reason: str | None
    warnings: tuple[str, ...]
    _design: _Design = field(repr=False)
    _theta: np.ndarray | None = field(repr=False)
    _boot: np.ndarray = field(repr=False)  # (B, p) bootstrap optima
    _loso: np.ndarray = field(repr=False)  # (K, p) leave-one-level-out optima
    _eval_rel_se: float = field(repr=False)
    _runs: _Runs = field(repr=False)
    _evidence_only: bool = field(repr=False)  # the data do not show the law's direction

    @property
    def formula(self) -> str:
        return _FORMULAS[self.form]

    def predict(
        self,
        params: float | Sequence[float] | np.ndarray | None = None,
        tokens: float | Sequence[float] | np.ndarray | None = None,
        level: float = 0.9,
    ) -> LossPrediction | list[LossPrediction]:
        """The law at `params` / `tokens` (scalars: one prediction; arrays: a list) with an
        interval at `level`."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        scalar = np.ndim(params) == 0 and np.ndim(tokens) == 0
        n_arr, d_arr = _target_arrays(self.form, params, tokens)
        out = [
            _predict_one(self, n, d, level)
            for n, d in zip(
                n_arr if n_arr is not None else [None] * len(d_arr),
                d_arr if d_arr is not None else [None] * len(n_arr),
                strict=True,
            )
        ]
        return out[0] if scalar else out

    def to_dict(self) -> dict[str, Any]:
        quality = None if self.fit_quality is None else vars(self.fit_quality)
        return to_jsonable(
            {
                "form": self.form,
                "formula": self.formula,
                "parameters": {
                    "E": self.E,
                    "A": self.A,
                    "alpha": self.alpha,
                    "B": self.B,
                    "beta": self.beta,
                },
                "fit_quality": quality,
                "n_points": self.n_points,
                "n_sizes": self.n_sizes,
                "n_budgets": self.n_budgets,
                "n_groups": self.n_groups,
                "n_bootstrap": self.n_bootstrap,
                "n_leave_one_out": int(self._loso.shape[0]),
                "degenerate": self.degenerate,
                "reason": self.reason,
                "warnings": list(self.warnings),
                "method": "Chinchilla approach 3 (Huber delta 1e-3 on log loss, L-BFGS-B "
                "from a grid); interval: bootstrap over "
                + ("groups" if self.n_groups < self.n_points else "runs")
                + " within sizes, leave-one-"
                + ("budget" if self.form == "tokens" else "size")
                + "-out jackknife"
                + (", evaluation standard error" if self._eval_rel_se > 0 else ""),
            }
        )


# ---------------------------------------------------------------------------------------
# the fit


def fit_loss_law(
    params: Sequence[float] | np.ndarray | None,
    tokens: Sequence[float] | np.ndarray | None,
    loss: Sequence[float] | np.ndarray,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    loss_se: float | Sequence[float] | np.ndarray | None = None,
    form: str = "auto",
    seed: int = 0,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
) -> LossLawFit:
    """Fit the loss law to runs (one point per run and budget); see the module docstring.

    BLAS runs on one thread meanwhile: L-BFGS-B's tiny matrix steps on a multi-threaded
    BLAS spend their time waking threads, which on a loaded machine makes each refit a
    hundred times slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(params, tokens, loss, groups, loss_se, form, seed, n_bootstrap)


def _fit(params, tokens, loss, groups, loss_se, form, seed, n_bootstrap) -> LossLawFit:
    if form not in ("auto", *FORMS):
        raise ValueError(f"form must be 'auto' or one of {FORMS}, got {form!r}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    runs = _prepare_runs(params, tokens, loss, groups, loss_se)
    form, form_notes = _choose_form(form, runs)
    design = _make_design(form, runs)
    y = runs.y
    ones = np.ones_like(y)
    theta = _fit_from_grid(design, y, ones, N_REFINED_STARTS)
    p = len(design.bounds)
    if theta is None:
        return _failed_fit(form, design, runs, form_notes, p)
    loso, loso_mare = _leave_one_level_out(design, runs, theta)
    boot = _bootstrap(design, runs, theta, n_bootstrap, seed)
    notes = list(runs.notes) + form_notes
    reasons, evidence_only = _edges(design, runs, theta, loso, boot, n_bootstrap, notes)
    named = _named_parameters(design, theta)
    return LossLawFit(
        form=form,
        **named,
        fit_quality=_quality(design, y, theta, loso_mare),
        n_points=int(y.size),
        n_sizes=_count(runs.size_level),
        n_budgets=_count(runs.budget_level),
        n_groups=int(runs.groups.max() + 1),
        n_bootstrap=int(boot.shape[0]),
        degenerate=bool(reasons),
        reason="; ".join(reasons) if reasons else None,
        warnings=tuple(notes),
        _design=design,
        _theta=theta,
        _boot=boot,
        _loso=loso,
        _eval_rel_se=_eval_rel_se(runs),
        _runs=runs,
        _evidence_only=evidence_only,
    )


def _failed_fit(form: str, design: _Design, runs: _Runs, notes: list[str], p: int) -> LossLawFit:
    reason = "the optimiser found no finite optimum from any starting point"
    return LossLawFit(
        form=form,
        E=None,
        A=None,
        alpha=None,
        B=None,
        beta=None,
        fit_quality=None,
        n_points=int(runs.loss.size),
        n_sizes=_count(runs.size_level),
        n_budgets=_count(runs.budget_level),
        n_groups=int(runs.groups.max() + 1),
        n_bootstrap=0,
        degenerate=True,
        reason=reason,
        warnings=(*runs.notes, *notes, reason),
        _design=design,
        _theta=None,
        _boot=np.empty((0, p)),
        _loso=np.empty((0, p)),
        _eval_rel_se=_eval_rel_se(runs),
        _runs=runs,
        _evidence_only=True,
    )


def _count(levels: np.ndarray | None) -> int | None:
    return None if levels is None else int(levels.max() + 1)


def _eval_rel_se(runs: _Runs) -> float:
    return 0.0 if runs.rel_se is None else float(np.median(runs.rel_se))


# ---------------------------------------------------------------------------------------
# input


def _as_positive(name: str, values: Any, n: int | None) -> np.ndarray | None:
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numbers", code=ErrorCode.DATA_VALUE) from exc
    if n is not None and arr.size != n:
        raise DataError(
            f"{name} has {arr.size} values for {n} losses",
            code=ErrorCode.DATA_SCHEMA,
            expected="one value per run",
        )
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
    if bad.size:
        raise DataError(
            f"{name} must be finite and positive; {bad.size} value(s) are not, the first "
            f"{arr[bad[0]]!r}",
            code=ErrorCode.DATA_VALUE,
            row=int(bad[0]),
        )
    return arr


def _prepare_runs(params, tokens, loss, groups, loss_se) -> _Runs:
    if params is None and tokens is None:
        raise DataError("a loss law needs params, tokens or both", code=ErrorCode.DATA_SCHEMA)
    try:
        loss_arr = np.asarray(loss, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataError("loss must be numbers", code=ErrorCode.DATA_VALUE) from exc
    n = loss_arr.size
    params_arr = _as_positive("params", params, n)
    tokens_arr = _as_positive("tokens", tokens, n)
    se_arr = None
    if loss_se is not None:
        se_arr = np.broadcast_to(np.asarray(loss_se, dtype=float), (n,)).copy()
        if np.any(~np.isfinite(se_arr) | (se_arr < 0)):
            raise DataError("loss_se must be finite and >= 0", code=ErrorCode.DATA_VALUE)
    group_arr = np.arange(n) if groups is None else np.asarray(groups, dtype=object).reshape(-1)
    if group_arr.size != n:
        raise DataError(
            f"groups has {group_arr.size} values for {n} losses", code=ErrorCode.DATA_SCHEMA
        )
    bad = np.flatnonzero(np.isfinite(loss_arr) & (loss_arr <= 0))
    if bad.size:
        raise DataError(
            f"losses must be positive; {bad.size} are not, the first {loss_arr[bad[0]]!r}",
            code=ErrorCode.DATA_VALUE,
            row=int(bad[0]),
        )
    keep = np.isfinite(loss_arr)
    notes = []
    if not keep.all():
        notes.append(f"{int((~keep).sum())} run(s) without a finite loss left out")
    if int(keep.sum()) < MIN_RUNS:
        raise DataError(
            f"{int(keep.sum())} usable run(s); a loss law needs at least {MIN_RUNS}",
            code=ErrorCode.DATA_EMPTY,
        )
    pick = lambda a: None if a is None else a[keep]  # noqa: E731
    _, group_ids = np.unique(group_arr[keep].astype(str), return_inverse=True)
    params_arr, tokens_arr = pick(params_arr), pick(tokens_arr)
    return _Runs(
        params=params_arr,
        tokens=tokens_arr,
        loss=loss_arr[keep],
        groups=group_ids.astype(int),
        rel_se=None if se_arr is None else se_arr[keep] / loss_arr[keep],
        size_level=None if params_arr is None else _levels(params_arr),
        budget_level=None if tokens_arr is None else _levels(tokens_arr),
        notes=tuple(notes),
    )


def _levels(values: np.ndarray) -> np.ndarray:
    """Level labels 0..K-1 in increasing order; a value within `LEVEL_TOLERANCE` of its
    level's smallest member joins it."""
    logs = np.log(values)
    order = np.argsort(logs, kind="stable")
    labels = np.empty(values.size, dtype=int)
    level, start = -1, -np.inf
    for i in order:
        if logs[i] - start > math.log1p(LEVEL_TOLERANCE):
            level, start = level + 1, logs[i]
        labels[i] = level
    return labels


def _choose_form(form: str, runs: _Runs) -> tuple[str, list[str]]:
    n_sizes, n_budgets = _count(runs.size_level), _count(runs.budget_level)
    varies_n, varies_d = (n_sizes or 0) > 1, (n_budgets or 0) > 1
    if form == "auto":
        if not (varies_n or varies_d):
            raise DataError(
                "the runs differ neither in size nor in tokens: no law to fit",
                code=ErrorCode.DATA_VALUE,
                expected="runs of at least two sizes or two token budgets",
            )
        form = "params_tokens" if varies_n and varies_d else ("params" if varies_n else "tokens")
        return form, []
    needs_n = form in ("params_tokens", "params")
    needs_d = form in ("params_tokens", "tokens")
    if (needs_n and runs.params is None) or (needs_d and runs.tokens is None):
        raise DataError(
            f"form {form!r} needs " + ("params" if needs_n and runs.params is None else "tokens"),
            code=ErrorCode.DATA_SCHEMA,
        )
    notes = []
    if not needs_d and varies_d:
        notes.append(f"tokens vary over {n_budgets} budgets but form {form!r} ignores them")
    if not needs_n and varies_n:
        notes.append(f"params vary over {n_sizes} sizes but form {form!r} ignores them")
    return form, notes


def _target_arrays(form, params, tokens) -> tuple[np.ndarray | None, np.ndarray | None]:
    n_arr = None if params is None else np.atleast_1d(np.asarray(params, dtype=float))
    d_arr = None if tokens is None else np.atleast_1d(np.asarray(tokens, dtype=float))
    if form in ("params_tokens", "params") and n_arr is None:
        raise ValueError(f"form {form!r} needs the target's params")
    if form in ("params_tokens", "tokens") and d_arr is None:
        raise ValueError(f"form {form!r} needs the target's tokens")
    if n_arr is not None and d_arr is not None:
        n_arr, d_arr = np.broadcast_arrays(n_arr, d_arr)
    for name, arr in (("params", n_arr), ("tokens", d_arr)):
        if arr is not None and not np.all(np.isfinite(arr) & (arr > 0)):
            raise DataError(f"target {name} must be finite and positive", code=ErrorCode.DATA_VALUE)
    return n_arr, d_arr


# ---------------------------------------------------------------------------------------
# objective and optimisation


def _make_design(form: str, runs: _Runs) -> _Design:
    rows = []
    if form in ("params_tokens", "params"):
        rows.append(np.log(runs.params))
    if form in ("params_tokens", "tokens"):
        rows.append(np.log(runs.tokens))
    logs = np.vstack(rows)
    centres = 0.5 * (logs.min(axis=1) + logs.max(axis=1))
    top, low = math.log(float(runs.loss.max())), math.log(float(runs.loss.min()))
    coef = (top + _COEF_SPAN[0], top + _COEF_SPAN[1])
    bounds = [coef, EXPONENT_BOUNDS] * len(rows) + [(low + math.log(_E_FLOOR), low)]
    return _Design(form, centres, logs - centres[:, None], tuple(bounds))


def _parts(theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The LSE's arguments: (..., k + 1, n) for parameters (..., 2k + 1)."""
    k = cov.shape[0]
    out = np.empty((*theta.shape[:-1], k + 1, cov.shape[1]))
    out[..., :k, :] = theta[..., 0 : 2 * k : 2, None] - theta[..., 1 : 2 * k : 2, None] * cov
    out[..., k, :] = theta[..., -1, None]
    return out


def _lse(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-sum-exp over the terms and the softmax weights (written out: it runs in the
    optimiser's inner loop, where scipy's general `logsumexp` costs ten times more)."""
    top = parts.max(axis=-2, keepdims=True)
    expd = np.exp(parts - top)
    total = expd.sum(axis=-2, keepdims=True)
    return (top + np.log(total))[..., 0, :], expd / total


def _log_law(theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return _lse(_parts(theta, cov))[0]


def _huber(r: np.ndarray) -> np.ndarray:
    """Huber loss divided by delta (so the optimiser sees values of order |r| / delta)."""
    a = np.abs(r)
    return np.where(a <= HUBER_DELTA, 0.5 * r * r / HUBER_DELTA, a - 0.5 * HUBER_DELTA)


def _objective(theta: np.ndarray, cov: np.ndarray, y: np.ndarray, w: np.ndarray):
    lse, soft = _lse(_parts(theta, cov))
    r = lse - y
    weighted = soft * (w * np.clip(r / HUBER_DELTA, -1.0, 1.0))
    k = cov.shape[0]
    grad = np.empty_like(theta)
    grad[0 : 2 * k : 2] = weighted[:k].sum(axis=1)
    grad[1 : 2 * k : 2] = -(weighted[:k] * cov).sum(axis=1)
    grad[-1] = weighted[k].sum()
    return float(np.dot(w, _huber(r))), grad


def _minimise(theta0, design: _Design, cov, y, w) -> tuple[np.ndarray, float] | None:
    lo, hi = np.array(design.bounds).T
    start = np.clip(theta0, lo, hi)
    try:
        res = minimize(
            _objective,
            start,
            args=(cov, y, w),
            jac=True,
            method="L-BFGS-B",
            bounds=design.bounds,
            options={"maxiter": MAX_ITERATIONS, "ftol": 1e-13, "gtol": 1e-10},
        )
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    if not (np.all(np.isfinite(res.x)) and math.isfinite(res.fun)):
        return None
    return res.x, float(res.fun)


def _grid(design: _Design, loss: np.ndarray) -> np.ndarray:
    """Starting points scaled to the data, (S, 2k + 1): E a fraction of the lowest loss,
    each term at the centre a fraction of the reducible loss, exponents 0.1-1.2."""
    k = design.covariates.shape[0]
    lo, hi = np.array(design.bounds).T
    rows = []
    for frac_e in _GRID_E:
        floor = frac_e * float(loss.min())
        reducible = max(float(loss.mean()) - floor, 1e-12)
        term = [
            (math.log(reducible * frac), expo) for frac in _GRID_TERM for expo in _GRID_EXPONENT
        ]
        for combo in itertools.product(term, repeat=k):
            rows.append([*itertools.chain.from_iterable(combo), math.log(floor)])
    return np.clip(np.array(rows), lo, hi)


def _fit_from_grid(
    design: _Design, y: np.ndarray, w: np.ndarray, n_starts: int, cov: np.ndarray | None = None
) -> np.ndarray | None:
    """Score every grid point, optimise from the best `n_starts`, keep the best optimum."""
    cov = design.covariates if cov is None else cov
    starts = _grid(design, np.exp(y))
    scores = np.sum(w * _huber(_log_law(starts, cov) - y), axis=-1)
    best = None
    for i in np.argsort(scores)[:n_starts]:
        found = _minimise(starts[i], design, cov, y, w)
        if found is not None and (best is None or found[1] < best[1]):
            best = found
    return None if best is None else best[0]


def _leave_one_level_out(
    design: _Design, runs: _Runs, theta: np.ndarray
) -> tuple[np.ndarray, float | None]:
    """Refits without each size (budget for the tokens form): their optima and the mean
    |relative error| of the left-out points. Skipped when a refit would have fewer than
    `_MIN_LEVELS - 1` levels."""
    levels = runs.budget_level if design.form == "tokens" else runs.size_level
    k = int(levels.max() + 1)
    if k < _MIN_LEVELS[design.form]:
        return np.empty((0, theta.size)), None
    y = runs.y
    optima, errors = [], np.full(y.size, np.nan)
    for level in range(k):
        keep = levels != level
        cov, y_k, w_k = design.covariates[:, keep], y[keep], np.ones(int(keep.sum()))
        candidates = [_fit_from_grid(design, y_k, w_k, 4, cov)]
        again = _minimise(theta, design, cov, y_k, w_k)
        candidates.append(None if again is None else again[0])
        candidates = [t for t in candidates if t is not None]
        if not candidates:
            continue
        best = min(candidates, key=lambda t: _objective(t, cov, y_k, w_k)[0])
        optima.append(best)
        errors[~keep] = np.expm1(_log_law(best, design.covariates[:, ~keep]) - y[~keep])
    if not optima:
        return np.empty((0, theta.size)), None
    finite = np.isfinite(errors)
    return np.array(optima), float(np.mean(np.abs(errors[finite]))) if finite.any() else None


def _bootstrap(
    design: _Design, runs: _Runs, theta: np.ndarray, n_bootstrap: int, seed: int
) -> np.ndarray:
    """Refits on groups resampled within each size (with `loss_se`, losses perturbed too)."""
    rng = np.random.default_rng(seed)
    strata = _group_strata(runs)
    y = runs.y
    optima = []
    for _ in range(n_bootstrap):
        counts = np.zeros(runs.groups.max() + 1)
        for members in strata:
            np.add.at(counts, rng.choice(members, size=members.size, replace=True), 1.0)
        w = counts[runs.groups]
        y_b = y if runs.rel_se is None else y + runs.rel_se * rng.standard_normal(y.size)
        found = _minimise(theta, design, design.covariates, y_b, w)
        if found is not None:
            optima.append(found[0])
    return np.array(optima).reshape(-1, theta.size)


def _group_strata(runs: _Runs) -> list[np.ndarray]:
    """Group ids per stratum: the size level most of a group's points have (one stratum
    when there is no size)."""
    n_groups = int(runs.groups.max() + 1)
    if runs.size_level is None:
        return [np.arange(n_groups)]
    table = np.zeros((n_groups, int(runs.size_level.max() + 1)))
    np.add.at(table, (runs.groups, runs.size_level), 1)
    stratum = table.argmax(axis=1)
    return [np.flatnonzero(stratum == s) for s in np.unique(stratum)]


# ---------------------------------------------------------------------------------------
# edges, quality, parameters


def _edges(design, runs, theta, loso, boot, n_bootstrap, notes) -> tuple[list[str], bool]:
    """Reasons the fit is degenerate (also appended to `notes`) and whether the data fail
    to show loss falling with size and tokens."""
    reasons = []
    levels = runs.budget_level if design.form == "tokens" else runs.size_level
    need = _MIN_LEVELS[design.form]
    uses = {"params_tokens": ("size", "budget"), "params": ("size",), "tokens": ("budget",)}
    counts = {"size": _count(runs.size_level), "budget": _count(runs.budget_level)}
    for what in uses[design.form]:
        if counts[what] < need:
            reasons.append(f"{counts[what]} distinct {what}s; form {design.form!r} needs {need}")
    if levels is not None and loso.shape[0] < int(levels.max() + 1) and not reasons:
        reasons.append("some leave-one-out refits failed, so the law's misfit is not measured")
    reasons += _bound_reasons(design, runs, theta)
    share, worst = _non_monotone_share(runs)
    evidence_only = share is not None and share > NON_MONOTONE_SHARE
    if evidence_only:
        reasons.append(
            f"not monotone: in {share:.0%} of the pairs where one run has at least the "
            "other's params and tokens, the larger run has the higher loss"
        )
    elif worst is not None:
        notes.append(
            f"{worst[0]} of {worst[1]} dominated pairs have a higher loss for the larger run "
            f"(at most {worst[2]:.2%})"
        )
    if n_bootstrap and boot.shape[0] < n_bootstrap // 2:
        reasons.append(f"only {boot.shape[0]} of {n_bootstrap} bootstrap refits succeeded")
    elif n_bootstrap == 0:
        notes.append("no bootstrap: the interval leaves out sampling noise")
    notes.extend(reasons)
    return reasons, evidence_only


def _bound_reasons(design: _Design, runs: _Runs, theta: np.ndarray) -> list[str]:
    reasons = []
    names = {"params_tokens": ("alpha", "beta"), "params": ("alpha",), "tokens": ("beta",)}
    hi = np.array(design.bounds)[:, 1]
    lowest = float(runs.loss.min())
    for j, name in enumerate(names[design.form]):
        expo = theta[2 * j + 1]
        if expo <= EXPONENT_BOUNDS[0] + _EXPONENT_EDGE or expo >= hi[2 * j + 1] - _EXPONENT_EDGE:
            reasons.append(f"{name} = {expo:.3g} is at its bound {EXPONENT_BOUNDS}")
        largest = math.exp(float(np.max(theta[2 * j] - expo * design.covariates[j])))
        if largest < _TERM_VANISHES * lowest:
            reasons.append(f"the {name} term vanishes (at most {largest:.3g} over the runs)")
    e = math.exp(theta[-1])
    if e < _E_NEGLIGIBLE * lowest:
        reasons.append(
            f"E = {e:.3g} is at its lower bound (under {_E_NEGLIGIBLE:.0%} of the lowest "
            "loss): the runs show no loss floor"
        )
    if theta[-1] >= hi[-1] - 1e-6:
        reasons.append(f"E = {e:.4g} reaches the lowest observed loss")
    return reasons


def _non_monotone_share(runs: _Runs) -> tuple[float | None, tuple[int, int, float] | None]:
    """Share of dominated pairs (j has >= i's size and budget levels, one strictly) where the
    larger run j has the higher loss; also (violations, pairs, largest relative excess)."""
    rows = [lv for lv in (runs.size_level, runs.budget_level) if lv is not None]
    idx = np.arange(runs.loss.size)
    if idx.size > _MAX_PAIRS_POINTS:
        idx = np.random.default_rng(0).choice(idx, _MAX_PAIRS_POINTS, replace=False)
    lv = np.vstack(rows)[:, idx]
    loss = runs.loss[idx]
    geq = np.all(lv[:, None, :] >= lv[:, :, None], axis=0)  # [i, j]: j >= i
    gt = np.any(lv[:, None, :] > lv[:, :, None], axis=0)
    dominated = geq & gt
    pairs = int(dominated.sum())
    if pairs == 0:
        return None, None
    excess = loss[None, :] / loss[:, None] - 1.0
    worse = dominated & (excess > 0)
    n_worse = int(worse.sum())
    worst = (n_worse, pairs, float(excess[worse].max())) if n_worse else None
    return n_worse / pairs, worst


def _quality(design: _Design, y: np.ndarray, theta: np.ndarray, loso_mare) -> FitQuality:
    fitted = _log_law(theta, design.covariates)
    r = fitted - y
    loss = np.exp(y)
    sst = float(np.sum((loss - loss.mean()) ** 2))
    sse = float(np.sum((np.exp(fitted) - loss) ** 2))
    return FitQuality(
        rmse_log=float(np.sqrt(np.mean(r * r))),
        r2=float(1.0 - sse / sst) if sst > 0 else 0.0,
        mare=float(np.mean(np.abs(np.expm1(r)))),
        loso_mare=loso_mare,
        objective=_objective(theta, design.covariates, y, np.ones_like(y))[0],
    )


def _named_parameters(design: _Design, theta: np.ndarray) -> dict[str, float | None]:
    """E, A, alpha, B, beta in raw units (A = exp(a + alpha log N0))."""
    out: dict[str, float | None] = {"E": math.exp(theta[-1]), "A": None, "alpha": None}
    out.update({"B": None, "beta": None})
    names = {"params_tokens": ("A", "B"), "params": ("A",), "tokens": ("B",)}[design.form]
    for j, name in enumerate(names):
        expo = float(theta[2 * j + 1])
        out[name] = math.exp(float(theta[2 * j]) + expo * float(design.centres[j]))
        out["alpha" if name == "A" else "beta"] = expo
    return out


# ---------------------------------------------------------------------------------------
# prediction


def _predict_one(fit: LossLawFit, n: float | None, d: float | None, level: float):
    notes = _ignored_variable_notes(fit, n, d)
    if fit._theta is None:
        return LossPrediction(_num(n), _num(d), None, None, None, level, (*notes, fit.reason))
    cov = fit._design.target(
        None if n is None else np.array([n]), None if d is None else np.array([d])
    )
    centre = float(_log_law(fit._theta, cov)[0])
    z = float(norm.ppf(0.5 + level / 2))
    below = above = 0.0
    if fit._boot.shape[0]:
        q_lo, q_hi = np.quantile(_log_law(fit._boot, cov)[:, 0], [0.5 - level / 2, 0.5 + level / 2])
        below, above = max(centre - q_lo, 0.0), max(q_hi - centre, 0.0)
    if fit._loso.shape[0] > 1:
        loso = _log_law(fit._loso, cov)[:, 0]
        k = loso.size
        jack = z * math.sqrt((k - 1) / k * float(np.sum((loso - loso.mean()) ** 2)))
        below, above = max(below, jack), max(above, jack)
    evaluation = z * fit._eval_rel_se
    lower = math.exp(centre - math.hypot(below, evaluation))
    upper = math.exp(centre + math.hypot(above, evaluation))
    if fit.degenerate:
        lower, upper = _evidence_hull(fit, cov, n, d, lower, upper)
    predicted = math.exp(centre)
    cap = _monotone_cap(fit, n, d)
    if cap is None or predicted <= cap[0]:
        return LossPrediction(_num(n), _num(d), predicted, lower, upper, level, notes)
    ratio = cap[0] / predicted
    note = (
        f"the law predicts {predicted:.4g}, worse than the {cap[0]:.4g} that runs the target "
        f"dominates reached ({cap[1]}): it contradicts its own evidence, so the prediction is "
        "their mean loss and the interval is moved with it"
    )
    return LossPrediction(
        _num(n), _num(d), cap[0], lower * ratio, upper * ratio, level, (*notes, note), cap[0]
    )


def _dominated(fit: LossLawFit, n, d) -> np.ndarray:
    """Runs with at most the target's size and budget (within `LEVEL_TOLERANCE`)."""
    dominated = np.ones(fit._runs.loss.size, dtype=bool)
    if fit._runs.params is not None and n is not None:
        dominated &= fit._runs.params <= n * (1 + LEVEL_TOLERANCE)
    if fit._runs.tokens is not None and d is not None:
        dominated &= fit._runs.tokens <= d * (1 + LEVEL_TOLERANCE)
    return dominated


def _monotone_cap(fit: LossLawFit, n, d) -> tuple[float, str] | None:
    """The lowest mean loss of a (size, budget) level of runs the target dominates, and
    which level. The law assumes loss never rises with size or data, so a target that is
    at least as large and as long as those runs should do at least as well on average."""
    runs = fit._runs
    dominated = _dominated(fit, n, d)
    if fit._evidence_only or not dominated.any():
        return None
    size = runs.size_level if runs.size_level is not None else np.zeros(runs.loss.size, int)
    budget = runs.budget_level if runs.budget_level is not None else np.zeros_like(size)
    best = None
    for key in {(int(a), int(b)) for a, b in zip(size[dominated], budget[dominated], strict=True)}:
        members = dominated & (size == key[0]) & (budget == key[1])
        mean = float(runs.loss[members].mean())
        if best is None or mean < best[0]:
            best = (mean, _level_name(runs, members))
    return best


def _level_name(runs: _Runs, members: np.ndarray) -> str:
    parts = [f"{members.sum()} run(s)"]
    if runs.params is not None:
        parts.append(f"N {float(runs.params[members].max()):.3g}")
    if runs.tokens is not None:
        parts.append(f"D {float(runs.tokens[members].max()):.3g}")
    return ", ".join(parts)


def _evidence_hull(fit: LossLawFit, cov, n, d, lower: float, upper: float):
    """A degenerate fit's interval reaches the leave-one-out predictions and what the runs
    themselves allow: up to the best run the target dominates (all observed losses when
    the data are not monotone or the target dominates none)."""
    loss = fit._runs.loss
    if fit._loso.shape[0]:
        loso = np.exp(_log_law(fit._loso, cov)[:, 0])
        lower, upper = min(lower, float(loso.min())), max(upper, float(loso.max()))
    dominated = _dominated(fit, n, d)
    if fit._evidence_only or not dominated.any():
        return min(lower, float(loss.min())), max(upper, float(loss.max()))
    return lower, max(upper, float(loss[dominated].min()))


def _ignored_variable_notes(fit: LossLawFit, n, d) -> tuple[str, ...]:
    """A one-variable law predicts at the runs' value of the other variable: say so when
    the target's value lies outside the runs' range."""
    ignored = {
        "params": ("tokens", d, fit._runs.tokens, "budget"),
        "tokens": ("params", n, fit._runs.params, "size"),
    }.get(fit.form)
    if ignored is None or ignored[1] is None or ignored[2] is None:
        return ()
    name, value, observed, what = ignored
    low, high = float(observed.min()), float(observed.max())
    if low / (1 + LEVEL_TOLERANCE) <= value <= high * (1 + LEVEL_TOLERANCE):
        return ()
    return (
        f"{name} {value:.3g} lie outside the runs' {low:.3g}-{high:.3g}; the one-variable "
        f"law predicts at the runs' {what}",
    )


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)
