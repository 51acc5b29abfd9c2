"""``synthos scaling predict``: fit a loss law to a table of runs and predict target runs.

    synthos scaling predict RUNS.csv --metric loss_c4_val --target 412e6:8.2e9 [--json]

The table (any format the loader reads) has one row per run and budget: its parameter
count, tokens trained on and the metric (a loss: positive, lower is better). Rows with an
empty metric are left out with a warning; every other problem with the table or a target
is a `DataError` naming it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

TARGET_HELP = (
    "a run to predict, PARAMS:TOKENS, as integers or in exponent form (412000000:8200000000 "
    "or 412e6:8.2e9); repeatable. A one-variable law ignores the variable that the runs "
    "hold constant"
)

__all__ = ["add_arguments", "parse_target", "read_runs", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="scaling_command", metavar="ACTION")
    sub.required = True
    predict = sub.add_parser(
        "predict",
        help="fit L(N, D) = E + A/N^alpha + B/D^beta to runs and predict targets",
        description="Fit the Chinchilla loss law (approach 3: Huber loss on log loss, "
        "L-BFGS-B from a grid) to a table of runs and predict target runs with intervals "
        "covering bootstrap noise and leave-one-size-out misfit.",
    )
    predict.add_argument("runs", type=Path, help="table of runs (CSV, Parquet, JSONL, ...)")
    predict.add_argument("--metric", required=True, help="column of the loss to fit")
    predict.add_argument(
        "--target", required=True, action="append", metavar="PARAMS:TOKENS", help=TARGET_HELP
    )
    predict.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    predict.add_argument("--params-column", default="params", help="default: params")
    predict.add_argument("--tokens-column", default="tokens", help="default: tokens")
    predict.add_argument(
        "--group-column",
        help="rows with one value here are one bootstrap unit (e.g. budgets of one run)",
    )
    predict.add_argument(
        "--se-column", help="standard error of each row's metric (evaluation sampling error)"
    )
    predict.add_argument(
        "--form",
        choices=("auto", "params_tokens", "params", "tokens"),
        default="auto",
        help="law form (default auto: one-variable when the other variable is constant)",
    )
    predict.add_argument("--bootstrap", type=int, default=200, help="refits (default 200)")
    predict.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    predict.add_argument("--json", action="store_true", help="print the result as JSON")


def parse_target(text: str) -> tuple[float, float]:
    """``PARAMS:TOKENS`` -> (params, tokens); both finite and positive."""
    from synthos.errors import DataError, ErrorCode

    parts = text.split(":")
    values = []
    for part in parts if len(parts) == 2 else ():
        try:
            values.append(float(part.strip().replace("_", "")))
        except ValueError:
            break
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        raise DataError(
            f"bad --target {text!r}",
            code=ErrorCode.DATA_VALUE,
            expected="PARAMS:TOKENS, two positive numbers such as 412e6:8.2e9",
        )
    return values[0], values[1]


def read_runs(path: Path, columns: dict[str, str | None]) -> dict[str, np.ndarray]:
    """The named columns of the table as arrays (numeric ones as float64, groups as text).

    `columns` maps a role (params, tokens, metric, groups, se) to a column name or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from synthos.datamodules.loading import read_table
    from synthos.errors import DataError, ErrorCode

    wanted = {role: name for role, name in columns.items() if name}
    table = read_table(path, columns=list(dict.fromkeys(wanted.values())))
    out = {}
    for role, name in wanted.items():
        column = table.column(name)
        if role == "groups":
            out[role] = np.asarray(column.cast(pa.string()).to_pylist(), dtype=object)
            continue
        try:
            values = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"column {name!r} is not numeric ({column.type})",
                code=ErrorCode.DATA_SCHEMA,
                path=str(path),
                column=name,
                expected="numbers",
            ) from exc
        arr = values.to_numpy(zero_copy_only=False)
        if role != "metric" and np.isnan(arr).any():
            row = int(np.flatnonzero(np.isnan(arr))[0])
            raise DataError(
                f"column {name!r} has an empty value",
                code=ErrorCode.DATA_VALUE,
                path=str(path),
                row=row,
                column=name,
            )
        out[role] = arr
    return out


def run(args: argparse.Namespace) -> int:
    from synthos.cascade.loss_law import fit_loss_law
    from synthos.errors import DataError, ErrorCode

    if not 0.0 < args.level < 1.0:
        raise DataError(f"--level must be in (0, 1), got {args.level}", code=ErrorCode.DATA_VALUE)
    targets = [parse_target(text) for text in args.target]
    data = read_runs(
        args.runs,
        {
            "params": args.params_column,
            "tokens": args.tokens_column,
            "metric": args.metric,
            "groups": args.group_column,
            "se": args.se_column,
        },
    )
    try:
        fit = fit_loss_law(
            data["params"],
            data["tokens"],
            data["metric"],
            groups=data.get("groups"),
            loss_se=data.get("se"),
            form=args.form,
            seed=args.seed,
            n_bootstrap=args.bootstrap,
        )
    except DataError as exc:
        raise DataError(f"{args.runs}: {exc.message}", code=exc.code) from exc
    predictions = fit.predict([t[0] for t in targets], [t[1] for t in targets], level=args.level)
    if args.json:
        payload = {"predictions": [p.to_dict() for p in predictions], "fit": fit.to_dict()}
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(summary_text(fit, predictions, args.metric))
    return 0


def summary_text(fit, predictions, metric: str) -> str:
    """A readable account of the fit and one line per target."""
    names = ("E", "A", "alpha", "B", "beta")
    values = [(name, getattr(fit, name)) for name in names if getattr(fit, name) is not None]
    quality = fit.fit_quality
    lines = [
        f"metric       {metric}",
        f"law          {fit.formula}  (form {fit.form})",
        f"runs         {fit.n_points} points, {fit.n_sizes or 1} sizes, "
        f"{fit.n_budgets or 1} budgets, {fit.n_groups} bootstrap units, "
        f"{fit.n_bootstrap} refits",
        "parameters   " + (", ".join(f"{n}={v:.4g}" for n, v in values) or "none (no fit)"),
    ]
    if quality is not None:
        loso = "n/a" if quality.loso_mare is None else f"{quality.loso_mare:.2%}"
        lines.append(
            f"fit          rmse(log L) {quality.rmse_log:.4f}, r2 {quality.r2:.4f}, "
            f"mean |rel err| {quality.mare:.2%}, leave-one-size-out {loso}"
        )
    lines.append(f"degenerate   {'yes: ' + fit.reason if fit.degenerate else 'no'}")
    lines += [f"warning      {w}" for w in fit.warnings if w not in (fit.reason or "")]
    level = predictions[0].level if predictions else 0.9
    lines.append(f"{'params':>14} {'tokens':>14} {'predicted':>10} {'lower':>10} {'upper':>10}")
    for p in predictions:
        cells = [_cell(v) for v in (p.predicted, p.lower, p.upper)]
        lines.append(f"{p.params:>14.4g} {p.tokens:>14.4g} " + " ".join(cells))
        lines += [f"  note: {w}" for w in p.warnings]
    lines.append(f"(interval level {level:g}; {fit.to_dict()['method']})")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return f"{'null':>10}" if value is None else f"{value:>10.4f}"
