"""The ``synthos`` command: the stages that need no training sweep.

    synthos diversity PATH --out DIR [--sample-size N] [--columns A B ...] [--seed S]
    synthos detect --candidate PATH [--reference PATH] [--cascade SWEEP_DIR] [--modality M]
                   [--metadata FILE] [--role COLUMN=ROLE ...] [--entity C] [--time C]
                   [--target C] --out DIR
    synthos scaling predict RUNS.csv --metric COLUMN --target PARAMS:TOKENS [--json]
    synthos signatures seed|add|outcome|list --library LIB.h5 ...
    synthos prescreen PATH [--reference PATH] [--library LIB.h5] [--json]
    synthos report RUN_DIR
    synthos localize --candidate PATH [--reference PATH] [--cascade SWEEP_DIR] --out DIR
    synthos recommend --candidate PATH [--reference PATH] [--measure-impact] --out DIR
    synthos apply-fix --spec FIXES/FIX.json --out FIXED.parquet
    synthos validate --candidate PATH [--reference PATH] [--cascade SWEEP_DIR]
                     [--measure-impact] [--no-recommend] --out RUN_DIR

Each subcommand registers itself in `SUBCOMMANDS` with a function that adds its arguments
and one that runs it and returns the exit status; later stages (profile, detect,
aggregate, report) plug in the same way. Errors caused by the input print one line,
``error [1004 DATA_EMPTY]: ...``, and exit with status 1; no stack trace is shown unless
``--debug`` is given.

Entry point (pyproject): ``synthos = "synthos.cli:main"``; also ``python -m synthos.cli``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from synthos.errors import DataError, ErrorCode, SynthosError


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------------------
# diversity


def _add_diversity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="dataset: file, directory of parts, glob or s3:// URI")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--sample-size",
        type=int,
        default=10_000,
        help="rows in the stratified sample (default 10000)",
    )
    parser.add_argument("--columns", nargs="+", metavar="COLUMN", help="analyse only these columns")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the sample and clusters (default 0)"
    )
    parser.add_argument(
        "--strata-columns",
        nargs="+",
        metavar="COLUMN",
        help="columns whose joint levels form the strata",
    )
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="COLUMN=KIND",
        help="force a column's kind (categorical, numeric, text, skip); repeatable",
    )
    parser.add_argument(
        "--rare-threshold",
        type=float,
        default=0.01,
        help="share under which a stratum is rare (default 0.01)",
    )
    parser.add_argument(
        "--oversample",
        type=float,
        default=3.0,
        help="oversampling factor of rare strata (default 3)",
    )
    parser.add_argument(
        "--tail-quantiles",
        nargs=2,
        type=float,
        default=(0.001, 0.999),
        metavar=("LOW", "HIGH"),
        help="numeric rows beyond these quantiles form the extreme tails (default 0.001 0.999)",
    )
    parser.add_argument(
        "--max-strata",
        type=int,
        default=64,
        help="cap on the number of possible strata (default 64)",
    )
    parser.add_argument("--outlier-method", choices=("robust_z", "iqr"), default="robust_z")
    parser.add_argument(
        "--format", dest="data_format", help="force the input format (csv, jsonl, parquet, ...)"
    )
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")
    parser.add_argument(
        "--memory-limit", help="engine memory cap, e.g. 8GB (spills to disk beyond it)"
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write strata.png")
    parser.add_argument(
        "--json", action="store_true", help="print the full result as JSON instead of the summary"
    )


def _run_diversity(args: argparse.Namespace) -> int:
    from synthos.analysis.diversity import DiversityConfig, analyze_diversity

    kinds = {}
    for item in args.kind:
        name, sep, kind = item.rpartition("=")
        if not sep or not name:
            raise _UsageError(f"--kind expects COLUMN=KIND, got {item!r}")
        kinds[name] = kind
    load_options = {"format": args.data_format} if args.data_format else None
    try:
        config = DiversityConfig(
            columns=args.columns,
            column_kinds=kinds or None,
            strata_columns=args.strata_columns,
            sample_size=args.sample_size,
            seed=args.seed,
            rare_threshold=args.rare_threshold,
            rare_oversample=args.oversample,
            tail_quantiles=tuple(args.tail_quantiles),
            max_strata=args.max_strata,
            outlier_method=args.outlier_method,
            threads=args.threads,
            memory_limit=args.memory_limit,
            load_options=load_options,
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    out = _output_dir(args.out)
    result = analyze_diversity(args.path, config, sample_path=out / "sample.parquet")
    (out / "diversity.json").write_text(result.to_json(indent=2) + "\n", encoding="utf-8")
    if not args.no_plot:
        from synthos.analysis.plots import plot_strata

        plot_strata(result, out / "strata.png")
    if args.json:
        print(result.to_json(indent=2))
    else:
        print(result.summary())
        written = ["diversity.json", "sample.parquet"] + ([] if args.no_plot else ["strata.png"])
        print(f"wrote        {', '.join(str(out / name) for name in written)}")
    return 0


# ---------------------------------------------------------------------------------------
# aggregate


def _add_aggregate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", type=Path, help="a cascade's sweep directory")
    parser.add_argument(
        "--target-params",
        type=float,
        help="predict for this size, parameters without embeddings (default: the plan's)",
    )
    parser.add_argument(
        "--target-tokens",
        type=float,
        help="training tokens of the target run (default: the plan's, or 20 per parameter)",
    )
    parser.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    parser.add_argument(
        "--no-detect",
        action="store_true",
        help="skip collapse detection on the cascade's dataset (prediction only)",
    )
    parser.add_argument(
        "--localize-model-rows",
        type=int,
        default=200,
        help="rows the localizer scores with the cascade's models (default 200; every row "
        "gets the data evidence)",
    )
    parser.add_argument("--no-localize", action="store_true", help="skip row localization")


def _run_aggregate(args: argparse.Namespace) -> int:
    from synthos.cascade.aggregate import aggregate_sweep, summary_text

    results = aggregate_sweep(
        args.sweep_dir,
        target_params=None if args.target_params is None else int(args.target_params),
        target_tokens=None if args.target_tokens is None else int(args.target_tokens),
        level=args.level,
        detect=not args.no_detect,
        localize_model_rows=None if args.no_localize else args.localize_model_rows,
    )
    print(summary_text(results))
    return 0


# ---------------------------------------------------------------------------------------
# scaling


def _add_scaling(parser: argparse.ArgumentParser) -> None:
    from synthos.cascade.scaling_predict import add_arguments

    add_arguments(parser)


def _run_scaling(args: argparse.Namespace) -> int:
    from synthos.cascade.scaling_predict import run

    return run(args)


# ---------------------------------------------------------------------------------------
# calibrate


def _add_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", type=Path, help="a scored suite's results.json (its per-case records)"
    )
    parser.add_argument(
        "--real-tables",
        type=Path,
        help="a results.json of clean splits of other real tables: their controls join "
        "their modality's calibration",
    )
    parser.add_argument(
        "--out", type=Path, help="thresholds file to write (default: the package's own)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")


def _run_calibrate(args: argparse.Namespace) -> int:
    from synthos.analysis.collapse.calibration import calibrate_thresholds
    from synthos.analysis.collapse.config import THRESHOLDS_FILE

    records = _suite_records(args.results)
    extra = _suite_records(args.real_tables) if args.real_tables else []
    command = "synthos calibrate " + " ".join(map(shlex.quote, sys.argv[2:]))
    found = calibrate_thresholds(records, extra_controls=extra, command=command)
    for split in ("check_held_out", "check_calibration_split"):
        check = found.record[split]
        print(f"{split}: fpr {check['fpr']}, fnr {check['fnr']} ({check['controls']} controls)")
    print(json.dumps({"thresholds": found.general, "by_modality": found.by_modality}, indent=1))
    if not args.dry_run:
        print(f"wrote {found.save(args.out or THRESHOLDS_FILE)}")
    return 0


_CASE_KEYS = ("case_id", "modality", "family", "seed", "synthos")


def _suite_records(path: Path) -> list[dict]:
    """The per-case records of a benchmark's results.json, checked for what calibration reads."""
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
        for case in cases:
            missing = [k for k in _CASE_KEYS if k not in case] or [
                k for k in ("error", "scores") if k not in case["synthos"]
            ]
            if missing:
                raise KeyError(f"case {case.get('case_id')!r} has no {', '.join(missing)}")
        return cases
    except FileNotFoundError as exc:
        raise DataError(
            "no such results file", code=ErrorCode.DATA_NOT_FOUND, path=str(path)
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"not a benchmark results.json with per-case records: {exc}",
            code=ErrorCode.DATA_FORMAT,
            path=str(path),
            expected='{"cases": [{"case_id", "modality", "family", "seed", "synthos"}, ...]}',
        ) from exc


# ---------------------------------------------------------------------------------------
# detect


def _add_detect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, help="the dataset to judge (any format)")
    parser.add_argument("--reference", help="trusted real data the candidate should resemble")
    parser.add_argument(
        "--cascade", type=Path, help="a cascade's sweep directory (with cascade_results.json)"
    )
    parser.add_argument("--modality", help="text, tabular or time_series (default: inferred)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--target", help="target column of the TSTR models (default: the last non-key column)"
    )
    _add_detector_options(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of samples and models")
    parser.add_argument("--validation-id", help="validation id in report.json")
    parser.add_argument("--no-plot", action="store_true", help="do not write dimensions.png")
    parser.add_argument(
        "--signatures",
        help="signature library: report the nearest signatures and add this validation's "
        "(default: $SYNTHOS_SIGNATURE_LIBRARY; none when unset)",
    )


def _add_detector_options(parser: argparse.ArgumentParser) -> None:
    """The detector's column and threshold options (detect and validate)."""
    parser.add_argument(
        "--thresholds", type=Path, help="a thresholds file (default: the calibrated one)"
    )
    parser.add_argument(
        "--metadata",
        help="SDV metadata JSON (single-table or sequential) or a Synthos roles YAML",
    )
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="COLUMN=ROLE",
        help="a column's role (key, numeric, categorical, datetime, text, ignore, ...); "
        "wins over inference and --metadata; repeatable",
    )
    parser.add_argument("--entity", help="a panel's entity key: one series per entity")
    parser.add_argument("--time", help="the time index of a series or panel")
    parser.add_argument(
        "--meaningful-keys",
        action="store_true",
        help="keys take part in exact-copy hashing of whole rows",
    )


def _collapse_config(args: argparse.Namespace):
    """The detector's settings from detect's (and validate's) options."""
    from synthos.analysis.collapse import CollapseConfig

    options = {
        "seed": args.seed,
        "target_column": args.target,
        "metadata": args.metadata,
        "column_roles": _roles_option(args.role),
        "entity_column": args.entity,
        "time_column": args.time,
        "meaningful_keys": args.meaningful_keys,
    }
    try:
        if args.thresholds:
            return CollapseConfig.from_thresholds_file(args.thresholds, **options)
        return CollapseConfig(**options)
    except (OSError, ValueError, KeyError) as exc:
        raise _UsageError(f"bad thresholds file {args.thresholds}: {exc}") from exc


def _run_detect(args: argparse.Namespace) -> int:
    from synthos.analysis.collapse import detect_collapse
    from synthos.analysis.collapse.plot import plot_dimensions
    from synthos.report import empty_report, read_report, write_report
    from synthos.report.documents import write_documents
    from synthos.report.schema import REPORT_FILE

    config = _collapse_config(args)
    out = _output_dir(args.out)
    result = detect_collapse(
        args.candidate, args.reference, args.cascade, modality=args.modality, config=config
    )
    fields = result.to_report()
    fields.update(_record_signature(args, fields))
    if (out / REPORT_FILE).is_file():  # a report of earlier stages keeps their fields
        earlier = read_report(out / REPORT_FILE)
        fields["timings"] = {**(earlier.get("timings") or {}), **fields["timings"]}
        report = fields
    else:
        report = empty_report(args.validation_id or Path(args.candidate).stem, fields["dataset"])
        report["prediction_unavailable"] = "no cascade was trained: detection scores the data only"
        report.update(fields)
    report_path = write_report(out, report)
    print(result.summary())
    if not args.no_plot:
        print(f"plot         {plot_dimensions(result, out / 'dimensions.png')}")
    print(f"report       {report_path}")
    documents = write_documents(out)
    print(f"html         {documents.html}")
    print(f"markdown     {documents.markdown}")
    return 0


# ---------------------------------------------------------------------------------------
# report


def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir",
        type=Path,
        help="a run directory with report.json (a cascade's sweep dir or detect's --out)",
    )


def _run_report(args: argparse.Namespace) -> int:
    from synthos.report.documents import write_documents

    documents = write_documents(args.run_dir)
    print(f"html         {documents.html}")
    print(f"markdown     {documents.markdown}")
    return 0


def _record_signature(args: argparse.Namespace, fields: dict) -> dict:
    """The report's signature_matches, after adding this validation to the configured
    signature library (nothing without one)."""
    from synthos.analysis.signatures.outcomes import configured_library, record_validation

    library = configured_library(args.signatures)
    if library is None:
        return {}
    try:
        added = record_validation(
            library, args.candidate, args.reference, fields, modality=args.modality
        )
    except SynthosError as exc:  # the detection stands without its signature
        print(f"signature    not added to {library.path}: {exc}", file=sys.stderr)
        return {}
    print(f"signature    {added['signature_id']} added to {library.path}")
    return {"signature_matches": added["signature_matches"]}


# ---------------------------------------------------------------------------------------
# signatures, prescreen


def _add_signatures(parser: argparse.ArgumentParser) -> None:
    from synthos.analysis.signatures.cli import add_signatures_arguments

    add_signatures_arguments(parser)


def _run_signatures(args: argparse.Namespace) -> int:
    from synthos.analysis.signatures.cli import run_signatures

    return run_signatures(args)


def _add_prescreen(parser: argparse.ArgumentParser) -> None:
    from synthos.analysis.signatures.cli import add_prescreen_arguments

    add_prescreen_arguments(parser)


def _run_prescreen(args: argparse.Namespace) -> int:
    from synthos.analysis.signatures.cli import run_prescreen

    return run_prescreen(args)


def _roles_option(pairs: list[str]) -> dict[str, str]:
    roles = {}
    for pair in pairs:
        column, sep, role = pair.rpartition("=")
        if not sep or not column:
            raise _UsageError(f"--role takes COLUMN=ROLE, got {pair!r}")
        roles[column] = role
    return roles


# localize


def _add_localize(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, help="the dataset whose rows are scored")
    parser.add_argument("--reference", help="trusted real data the candidate should resemble")
    parser.add_argument(
        "--cascade",
        type=Path,
        help="a cascade's sweep directory (model evidence on its checkpoints)",
    )
    parser.add_argument("--modality", help="text, tabular or time_series (default: inferred)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--target", help="target column of the label evidence (default: last)")
    parser.add_argument(
        "--flag-score", type=float, default=0.9, help="score at which a row is flagged (0.9)"
    )
    parser.add_argument(
        "--model-rows", type=int, default=5000, help="rows scored with the cascade's models"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of samples and models")
    parser.add_argument("--validation-id", help="validation id in report.json")


def _localize_config(args: argparse.Namespace):
    from synthos.analysis.localize import LocalizeConfig

    try:
        return LocalizeConfig(
            flag_score=args.flag_score,
            model_rows=args.model_rows,
            target_column=args.target,
            seed=args.seed,
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc


def _run_localize(args: argparse.Namespace) -> int:
    from synthos.analysis.localize import localize

    config = _localize_config(args)
    out = _output_dir(args.out)
    result = localize(
        args.candidate, args.reference, args.cascade, modality=args.modality, config=config
    )
    report_path = result.write_report(out, validation_id=args.validation_id)
    print(result.summary())
    print(f"row scores   {out / 'row_scores.parquet'}")
    print(f"report       {report_path}")
    return 0


# ---------------------------------------------------------------------------------------
# recommend and apply-fix


def _add_recommend(parser: argparse.ArgumentParser) -> None:
    _add_localize(parser)
    parser.add_argument(
        "--measure-impact",
        action="store_true",
        help="retrain tier-1 models on each fixed dataset and its random control",
    )
    parser.add_argument("--seeds", type=int, default=3, help="control draws and models (>= 3)")
    parser.add_argument("--profile", default="quick", help="cascade profile retrained (quick)")
    parser.add_argument(
        "--train-override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra train.py override for the retraining (repeatable)",
    )
    parser.add_argument(
        "--max-recommendations", type=int, default=10, help="recommendations kept (10)"
    )
    parser.add_argument("--only", nargs="+", metavar="CATEGORY", help="measure only these fixes")


def _recommend_config(args: argparse.Namespace):
    from synthos.analysis.recommend import RecommendConfig

    try:
        return RecommendConfig(
            seeds=args.seeds,
            measure_impact=args.measure_impact,
            profile=args.profile,
            overrides=["trainer=cpu", "logger=csv", *args.train_override],
            max_recommendations=args.max_recommendations,
            only=tuple(args.only) if args.only else None,
        )
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc


def _run_recommend(args: argparse.Namespace) -> int:
    from synthos.analysis.recommend import recommend

    localize_config = _localize_config(args)
    config = _recommend_config(args)
    out = _output_dir(args.out)
    result = recommend(
        args.candidate,
        args.reference,
        args.cascade,
        out_dir=out,
        modality=args.modality,
        config=config,
        localize_config=localize_config,
    )
    report_path = result.write_report(out, validation_id=args.validation_id)
    print(result.localization.summary())
    print(result.summary())
    print(f"report       {report_path}")
    return 0


def _add_apply_fix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", required=True, type=Path, help="a fix spec (fixes/<fix>.json)")
    parser.add_argument("--out", required=True, type=Path, help="the fixed dataset (Parquet)")


def _run_apply_fix(args: argparse.Namespace) -> int:
    from synthos.analysis.recommend import FixSpec, write_fixed

    path = write_fixed(FixSpec.load(args.spec), args.out)
    print(f"fixed        {path}")
    return 0


# ---------------------------------------------------------------------------------------
# validate


def _add_validate(parser: argparse.ArgumentParser) -> None:
    _add_recommend(parser)
    _add_detector_options(parser)
    parser.add_argument(
        "--no-recommend", action="store_true", help="detect and localize only (no fixes)"
    )


def _run_validate(args: argparse.Namespace) -> int:
    from synthos.validate import ValidateOptions, validate
    from synthos.validate.compare import describe

    options = ValidateOptions(
        collapse=_collapse_config(args),
        localize=_localize_config(args),
        recommend=None if args.no_recommend else _recommend_config(args),
        modality=args.modality,
        validation_id=args.validation_id,
    )
    run_dir = _output_dir(args.out)
    result = validate(
        args.candidate, args.reference, args.cascade, run_dir=run_dir, options=options
    )
    print(result.detection_summary)
    print(result.localization.summary())
    if result.recommendation_summary:
        print(result.recommendation_summary)
    print("stages       " + ", ".join(f"{s} {r}" for s, r in result.stage_status.items()))
    if result.before_after:
        print(describe(result.before_after))
    else:
        print("before/after none: the first validation of this run directory")
    print(f"report       {result.report_path}")
    print(f"html         {result.directory / 'report.html'}")
    return 0


def _output_dir(out: Path) -> Path:
    """Create the output directory, or say in one line why it cannot be."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(
            f"cannot create the output directory {out}: {exc.strerror or exc}"
        ) from exc
    return out


SUBCOMMANDS: dict[str, Subcommand] = {
    "diversity": Subcommand(
        "diversity",
        "strata, entropy, rare patterns, outliers, correlations and a stratified sample",
        _add_diversity,
        _run_diversity,
    ),
    "aggregate": Subcommand(
        "aggregate",
        "aggregate a cascade's sweep directory into cascade_results.json and report.json",
        _add_aggregate,
        _run_aggregate,
    ),
    "scaling": Subcommand(
        "scaling",
        "loss laws over model size and tokens: predict a run from a table of runs",
        _add_scaling,
        _run_scaling,
    ),
    "calibrate": Subcommand(
        "calibrate",
        "collapse thresholds from a scored benchmark's clean controls, checked on held-out splits",
        _add_calibrate,
        _run_calibrate,
    ),
    "detect": Subcommand(
        "detect",
        "collapse detection: eight dimension scores, verdict, severity, type, root causes",
        _add_detect,
        _run_detect,
    ),
    "signatures": Subcommand(
        "signatures",
        "the signature library: seed it with known collapse patterns, add validations",
        _add_signatures,
        _run_signatures,
    ),
    "prescreen": Subcommand(
        "prescreen",
        "pre-screen a dataset against the signature library: pre-risk, proceed, matches",
        _add_prescreen,
        _run_prescreen,
    ),
    "report": Subcommand(
        "report",
        "render report.md and a self-contained report.html from a run directory",
        _add_report,
        _run_report,
    ),
    "localize": Subcommand(
        "localize",
        "row scores (row_scores.parquet), issue types and problem regions",
        _add_localize,
        _run_localize,
    ),
    "recommend": Subcommand(
        "recommend",
        "fixes for the localized rows, each measured against a random control",
        _add_recommend,
        _run_recommend,
    ),
    "validate": Subcommand(
        "validate",
        "detect, localize and recommend in a run directory; unchanged stages are reused and "
        "each validation is shown beside the one before",
        _add_validate,
        _run_validate,
    ),
    "apply-fix": Subcommand(
        "apply-fix",
        "rebuild a recommended fix's dataset from its spec",
        _add_apply_fix,
        _run_apply_fix,
    ),
}


# ---------------------------------------------------------------------------------------
# the entry point


class _UsageError(Exception):
    """A bad command line (exit status 2, like argparse)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthos",
        description="Synthos: will this dataset train a good model or a collapsed one?",
    )
    parser.add_argument("--debug", action="store_true", help="show stack traces on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in SUBCOMMANDS.values():
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(child)
        child.set_defaults(_run=command.run)
    return parser


def _error_line(code: int, name: str, message: str) -> str:
    return f"error [{code} {name}]: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except SynthosError as exc:
        if args.debug:
            raise
        print(_error_line(int(exc.code), exc.code.name, exc.message), file=sys.stderr)
        if exc.retryable and exc.retry_after_seconds:
            print(f"(retryable after {exc.retry_after_seconds:g} s)", file=sys.stderr)
        return 1
    except _UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        print(
            _error_line(int(ErrorCode.INTERNAL), ErrorCode.INTERNAL.name, message), file=sys.stderr
        )
        return 1


__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
