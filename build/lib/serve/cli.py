"""The ``synthos-serve`` command (also ``python -m serve``).

    synthos-serve [--config FILE] [--listen HOST:PORT] [--storage-dir DIR] [--insecure-dev]
    synthos-serve gen-certs DIR [--san NAME ...]

Settings come from the config file, then SYNTHOS_SERVE_* environment variables, then these
flags (see serve/config.py). Without TLS files the server refuses to start unless
--insecure-dev is given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from serve import certs
from serve.config import TlsRequired, check_tls, load_config
from synthos.errors import SynthosError


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthos-serve",
        description="Serve the Synthos gRPC API (mTLS). "
        "`synthos-serve gen-certs DIR` writes development certificates.",
    )
    parser.add_argument("--config", type=Path, help="YAML config file")
    parser.add_argument("--listen", help="host:port to bind (port 0: any free port)")
    parser.add_argument("--storage-dir", help="jobs database, cascade runs, logs")
    parser.add_argument(
        "--data-root", action="append", dest="data_roots", help="allowed dataset root"
    )
    parser.add_argument(
        "--insecure-dev",
        action="store_true",
        help="serve WITHOUT TLS or client authentication (development only)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gen-certs"]:
        parser = argparse.ArgumentParser(prog="synthos-serve gen-certs", description=certs.__doc__)
        certs.add_arguments(parser)
        return certs.run(parser.parse_args(argv[1:]))
    args = _serve_parser().parse_args(argv)
    try:
        config = load_config(
            args.config,
            listen=args.listen,
            storage_dir=args.storage_dir,
            data_roots=args.data_roots,
            log_level=args.log_level,
        )
    except SynthosError as exc:
        print(f"synthos-serve: {exc.message}", file=sys.stderr)
        return 2
    try:
        check_tls(config, args.insecure_dev)
    except TlsRequired as exc:
        print(f"synthos-serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from serve.server import serve  # the library (and its imports) only when serving

    asyncio.run(serve(config, insecure_dev=args.insecure_dev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
