"""The ``synthos-remote`` command: every RPC of the Synthos service from a shell.

    synthos-remote --target host:50051 --ca ca.pem --cert client.pem --key client.key \\
        analyze-diversity /data/train.parquet --sample-size 5000
    synthos-remote ... train-cascade /data/train.jsonl --profile quick --detach
    synthos-remote ... watch-cascade v-1234abcd --from-sequence 10
    synthos-remote ... get-predictions v-1234abcd

TLS options also come from SYNTHOS_REMOTE_TARGET / _CA / _CERT / _KEY. Responses print as
JSON (streams: one JSON object per line). A failure prints one line,
``error [1001 DATA_NOT_FOUND] ... (gRPC NOT_FOUND, correlation id ...)``, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message

from serve.client import RemoteError, SynthosClient


def _json(message: Message, indent: int | None = 2) -> str:
    return MessageToJson(message, preserving_proto_field_name=True, indent=indent)


def _print(message: Message) -> int:
    print(_json(message))
    return 0


def _stream(messages) -> int:
    for message in messages:
        print(_json(message, indent=None), flush=True)
    return 0


def _unset(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named options the user gave (argparse default None means not given)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _analyze_diversity(client: SynthosClient, args: argparse.Namespace) -> int:
    options = _unset(args, "sample_size", "seed", "rare_threshold", "max_strata")
    if args.columns:
        options["columns"] = args.columns
    response = client.analyze_diversity(
        args.path,
        modality=args.modality or "",
        data_format=args.format or "",
        include_sample=bool(args.sample_out),
        **options,
    )
    if args.sample_out:
        Path(args.sample_out).write_bytes(response.sample_parquet)
        response.ClearField("sample_parquet")
    return _print(response)


def _train_cascade(client: SynthosClient, args: argparse.Namespace) -> int:
    fields = _unset(
        args,
        "validation_id",
        "family",
        "target_params",
        "level",
        "seed",
        "text_column",
        "target_column",
        "time_column",
        "season_length",
    )
    stream = client.train_cascade(
        args.path,
        args.profile,
        modality=args.modality or "",
        data_format=args.format or "",
        detach=args.detach,
        **fields,
    )
    return _stream(stream)


def _detect_collapse(client: SynthosClient, args: argparse.Namespace) -> int:
    config = json.loads(args.config) if args.config else None
    return _print(
        client.detect_collapse(
            args.path,
            args.reference,
            validation_id=args.validation_id or "",
            modality=args.modality or "",
            config=config,
        )
    )


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="dataset path under the server's data roots, or s3:// URI")
    parser.add_argument("--modality", help="text, tabular or time_series (default: inferred)")
    parser.add_argument("--format", help="force the input format (csv, parquet, ...)")


def _diversity_args(parser: argparse.ArgumentParser) -> None:
    _dataset_args(parser)
    parser.add_argument("--sample-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--rare-threshold", type=float)
    parser.add_argument("--max-strata", type=int)
    parser.add_argument("--columns", nargs="+")
    parser.add_argument("--sample-out", help="write the stratified sample (Parquet) here")


def _cascade_args(parser: argparse.ArgumentParser) -> None:
    _dataset_args(parser)
    parser.add_argument("--profile", required=True, help="smoke, quick or full")
    parser.add_argument("--validation-id")
    parser.add_argument("--family", help="resonance or ten")
    parser.add_argument("--target-params", type=int)
    parser.add_argument("--level", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--text-column")
    parser.add_argument("--target-column")
    parser.add_argument("--time-column")
    parser.add_argument("--season-length", type=int)
    parser.add_argument(
        "--detach",
        action="store_true",
        help="keep the job running when this command stops (follow it with watch-cascade)",
    )


def _id_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("validation_id")


def _watch_args(parser: argparse.ArgumentParser) -> None:
    _id_args(parser)
    parser.add_argument("--from-sequence", type=int, default=0)


def _collapse_args(parser: argparse.ArgumentParser) -> None:
    _dataset_args(parser)
    parser.add_argument("--reference", help="trusted real dataset")
    parser.add_argument("--validation-id", help="a cascade of this server")
    parser.add_argument("--config", help="detector settings as a JSON object")


def _localize_args(parser: argparse.ArgumentParser) -> None:
    _collapse_args(parser)
    parser.add_argument("--max-regions", type=int, default=0)
    parser.add_argument("--include-row-scores", action="store_true")


def _recommend_args(parser: argparse.ArgumentParser) -> None:
    _collapse_args(parser)
    parser.add_argument("--max-recommendations", type=int, default=0)
    parser.add_argument("--measure-impact", action="store_true")


def _health_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", default="", help="a service name (default: the server)")


def _health(client: SynthosClient, args: argparse.Namespace) -> int:
    print(client.check_health(args.service))
    return 0


def _prescreen_args(parser: argparse.ArgumentParser) -> None:
    _dataset_args(parser)
    parser.add_argument("--reference", help="reference dataset under the server's data roots")
    parser.add_argument("--top-k", type=int, default=10, help="signatures consulted")
    parser.add_argument("--seed", type=int, help="seed of the fingerprint's sample")


def _prescreen_risk(client: SynthosClient, args: argparse.Namespace) -> int:
    return _print(
        client.prescreen_risk(
            args.path,
            args.top_k,
            reference=args.reference,
            modality=args.modality or "",
            data_format=args.format or "",
            seed=args.seed,
        )
    )


def _watch_cascade(client: SynthosClient, args: argparse.Namespace) -> int:
    return _stream(client.watch_cascade(args.validation_id, args.from_sequence))


def _cancel_cascade(client: SynthosClient, args: argparse.Namespace) -> int:
    return _print(client.cancel_cascade(args.validation_id))


def _cascade_status(client: SynthosClient, args: argparse.Namespace) -> int:
    return _print(client.cascade_status(args.validation_id))


def _get_predictions(client: SynthosClient, args: argparse.Namespace) -> int:
    return _print(client.get_predictions(args.validation_id))


def _localize_problems(client: SynthosClient, args: argparse.Namespace) -> int:
    response = client.localize_problems(
        args.path,
        args.reference,
        validation_id=args.validation_id or "",
        max_regions=args.max_regions,
        include_row_scores=args.include_row_scores,
    )
    return _print(response)


def _generate_recommendations(client: SynthosClient, args: argparse.Namespace) -> int:
    response = client.generate_recommendations(
        args.path,
        args.reference,
        validation_id=args.validation_id or "",
        max_recommendations=args.max_recommendations,
        measure_impact=args.measure_impact,
    )
    return _print(response)


Arguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[SynthosClient, argparse.Namespace], int]

#: Subcommand -> (help, its arguments, what it runs).
COMMANDS: dict[str, tuple[str, Arguments, Run]] = {
    "health": ("the server's (or a service's) health status", _health_args, _health),
    "analyze-diversity": (
        "strata, entropy, rare patterns, outliers",
        _diversity_args,
        _analyze_diversity,
    ),
    "prescreen-risk": (
        "signature pre-screen and pre-risk score",
        _prescreen_args,
        _prescreen_risk,
    ),
    "train-cascade": (
        "start or join a cascade and follow its progress",
        _cascade_args,
        _train_cascade,
    ),
    "watch-cascade": (
        "follow a cascade job again from a sequence number",
        _watch_args,
        _watch_cascade,
    ),
    "cancel-cascade": ("stop a cascade job (checkpoints are kept)", _id_args, _cancel_cascade),
    "cascade-status": ("a cascade job's state and progress", _id_args, _cascade_status),
    "get-predictions": (
        "the scaling-law prediction of a finished cascade",
        _id_args,
        _get_predictions,
    ),
    "detect-collapse": ("the 8-dimension collapse verdict", _collapse_args, _detect_collapse),
    "localize-problems": ("row-level problem regions", _localize_args, _localize_problems),
    "generate-recommendations": (
        "ranked fixes with measured impact",
        _recommend_args,
        _generate_recommendations,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="synthos-remote", description=__doc__.split("\n")[0])
    parser.add_argument("--target", default=env("SYNTHOS_REMOTE_TARGET", "localhost:50051"))
    parser.add_argument("--ca", default=env("SYNTHOS_REMOTE_CA"), help="CA certificate (PEM)")
    parser.add_argument("--cert", default=env("SYNTHOS_REMOTE_CERT"), help="client certificate")
    parser.add_argument("--key", default=env("SYNTHOS_REMOTE_KEY"), help="client private key")
    parser.add_argument("--server-name", help="expected server name if not the target host")
    parser.add_argument("--timeout", type=float, help="deadline of each call in seconds")
    parser.add_argument(
        "--insecure-dev", action="store_true", help="plaintext, for a --insecure-dev server"
    )
    sub = parser.add_subparsers(dest="rpc", metavar="RPC", required=True)
    for name, (help_text, arguments, run) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        arguments(child)
        child.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.insecure_dev and not (args.ca and args.cert and args.key):
        parser.error("--ca, --cert and --key are required (or --insecure-dev)")
    try:
        with SynthosClient(
            args.target,
            ca=args.ca,
            cert=args.cert,
            key=args.key,
            insecure=args.insecure_dev,
            timeout=args.timeout,
            server_name=args.server_name,
        ) as client:
            return int(args._run(client, args) or 0)
    except RemoteError as exc:
        print(f"error {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as exc:
        print(f"synthos-remote: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
