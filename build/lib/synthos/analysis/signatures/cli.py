"""`synthos signatures ...` and `synthos prescreen`: arguments and runs (registered in
`synthos.cli`).

    synthos signatures seed --library LIB.h5 [--splits 10]
    synthos signatures add --library LIB.h5 --report REPORT.json [--candidate PATH]
                           [--reference PATH] [--modality M]
    synthos signatures outcome --library LIB.h5 SIGNATURE_ID --metric NAME --measured VALUE
    synthos signatures list --library LIB.h5 [--json]
    synthos prescreen PATH [--reference PATH] [--library LIB.h5] [--top-k 10] [--json]

The library defaults to $SYNTHOS_SIGNATURE_LIBRARY.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from synthos.errors import DataError, ErrorCode


def _library_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library",
        help="the signature library, an HDF5 file (default: $SYNTHOS_SIGNATURE_LIBRARY)",
    )


def _library(args: argparse.Namespace, must_exist: bool = True):
    from .outcomes import LIBRARY_ENV, configured_library

    library = configured_library(args.library)
    if library is None:
        raise DataError(
            "no signature library given",
            code=ErrorCode.DATA_NOT_FOUND,
            expected=f"--library PATH or the {LIBRARY_ENV} environment variable",
        )
    if must_exist and not library.exists():
        raise DataError(
            "signature library not found",
            code=ErrorCode.DATA_NOT_FOUND,
            path=str(library.path),
            expected="a library made by synthos signatures seed (or add)",
        )
    return library


def add_signatures_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    seed = sub.add_parser("seed", help="fill a library with known collapse patterns")
    _library_argument(seed)
    seed.add_argument("--splits", type=int, default=10, help="reference/holdout splits per base")
    seed.add_argument("--cache-dir", type=Path, help="where the bundled text corpus is collected")
    add = sub.add_parser("add", help="add a validation's signature and outcome")
    _library_argument(add)
    add.add_argument("--report", required=True, type=Path, help="the validation's report.json")
    add.add_argument("--candidate", help="the validated dataset (default: the report's path)")
    add.add_argument("--reference", help="the reference it was validated against")
    add.add_argument("--modality", help="text, tabular or time_series (default: inferred)")
    outcome = sub.add_parser("outcome", help="record what a real run measured later")
    _library_argument(outcome)
    outcome.add_argument("signature_id")
    outcome.add_argument("--metric", required=True, help="the metric's name")
    outcome.add_argument("--measured", required=True, type=float, help="its measured value")
    listing = sub.add_parser("list", help="what the library holds")
    _library_argument(listing)
    listing.add_argument("--json", action="store_true", help="every signature as JSON")


def run_signatures(args: argparse.Namespace) -> int:
    return {"seed": _seed, "add": _add, "outcome": _outcome, "list": _list}[args.action](args)


def _seed(args: argparse.Namespace) -> int:
    from .patterns import known_patterns
    from .seed import families, seed_library

    if args.splits < 4:
        raise DataError("--splits must be at least 4", code=ErrorCode.DATA_VALUE)
    library = _library(args, must_exist=False)
    snapshot = seed_library(
        library,
        known_patterns(args.splits, args.cache_dir),
        progress=lambda n, case: (
            print(f"  {n:4d} {case.name}", flush=True) if n % 25 == 0 else None
        ),
    )
    print(f"library      {library.path}: {len(snapshot)} signatures")
    for family, count in families(snapshot).items():
        print(f"  {family:24s} {count}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from .outcomes import record_validation

    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read the report: {exc}",
            code=ErrorCode.DATA_NOT_FOUND if isinstance(exc, OSError) else ErrorCode.DATA_FORMAT,
            path=str(args.report),
            expected="a report.json written by synthos detect or a cascade",
        ) from exc
    candidate = args.candidate or (report.get("dataset") or {}).get("path")
    if not candidate:
        raise DataError(
            "the report names no dataset",
            code=ErrorCode.DATA_SCHEMA,
            path=str(args.report),
            expected="--candidate PATH",
        )
    if report.get("collapse_detected") is None:
        print("note         the report has no verdict: the signature's outcome is unknown")
    library = _library(args, must_exist=False)
    added = record_validation(library, candidate, args.reference, report, modality=args.modality)
    print(f"added        {added['signature_id']} to {library.path}")
    for match in added["signature_matches"][:5]:
        kind = match["collapse_type"] or "clean"
        print(f"  similar    {match['similarity']:.3f} {match['signature_id']} {kind}")
    return 0


def _outcome(args: argparse.Namespace) -> int:
    library = _library(args)
    outcome = library.update_outcome(
        args.signature_id, measured={"metric": args.metric, "value": args.measured}
    )
    print(f"updated      {args.signature_id}: measured {args.metric} = {args.measured:g}")
    if outcome.get("prediction"):
        print(f"  predicted  {outcome['prediction'].get('predicted')}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from .seed import families

    snapshot = _library(args).read()
    if args.json:
        rows = [
            {"signature_id": i, **r} for i, r in zip(snapshot.ids, snapshot.records, strict=True)
        ]
        print(json.dumps(rows, indent=2))
        return 0
    print(f"signatures   {len(snapshot)} (generation {snapshot.generation})")
    for modality, count in sorted(Counter(snapshot.modality.tolist()).items()):
        print(f"  {modality:24s} {count}")
    for family, count in families(snapshot).items():
        print(f"  {family:24s} {count}")
    return 0


def add_prescreen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the dataset to screen (any format the loader reads)")
    parser.add_argument("--reference", help="trusted real data the dataset should resemble")
    _library_argument(parser)
    parser.add_argument("--modality", help="text, tabular or time_series (default: inferred)")
    parser.add_argument("--time-column", help="a series' time column, when rows are unordered")
    parser.add_argument("--top-k", type=int, default=10, help="neighbours consulted (default 10)")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_prescreen(args: argparse.Namespace) -> int:
    from .fingerprint import FingerprintConfig
    from .prescreen import PreScreenConfig, prescreen

    if args.top_k < 1:
        raise DataError("--top-k must be at least 1", code=ErrorCode.DATA_VALUE)
    result = prescreen(
        args.path,
        args.reference,
        library=_library(args),
        modality=args.modality,
        config=PreScreenConfig(k=args.top_k),
        fingerprint_config=FingerprintConfig(
            seed=args.seed, threads=args.threads, time_column=args.time_column
        ),
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return 0
