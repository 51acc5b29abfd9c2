"""Load on the gRPC service over loopback with mTLS (issue 6).

    python benchmarks/serve_load.py [--calls 200] [--subscribers 20] [--workers 2]

1. `--calls` concurrent DetectCollapse calls (all issued at once from one asyncio client)
   on the bundled candidate table (1,000 rows; `--with-reference` adds its real
   reference, about 10x the work per call). Baseline, same run: the same calls made
   in-process without gRPC, submitted at once to a thread pool as wide as the server's
   (`--workers`), so both sides queue the same way. Latency is from issue to answer.
2. `--subscribers` concurrent WatchCascade subscribers on one running smoke cascade (CPU).
   Latency is the lag from a progress record's own timestamp (written by the training
   process) to its arrival at a subscriber; only records written after the subscriber
   joined count. Baseline: one in-process `JsonlTail` follower of the same progress.jsonl
   polling at the server's interval.

Reports p50 / p99 latency, errors (goal: zero) and the server's peak RSS (VmHWM of the
server process; the cascade trains in its own process and is not counted). Everything is
bounded: each call has a deadline (`--deadline`), the cascade a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serve.certs import generate_certs  # noqa: E402
from serve.generated import collapse_engine_pb2 as c1  # noqa: E402
from serve.generated import collapse_engine_pb2_grpc as c1_grpc  # noqa: E402
from serve.generated import common_pb2  # noqa: E402
from serve.generated import validation_engine_pb2 as v1  # noqa: E402
from serve.generated import validation_engine_pb2_grpc as v1_grpc  # noqa: E402
from synthos.callbacks.jsonl import JsonlTail  # noqa: E402
from synthos.datamodules.sample_data import (  # noqa: E402
    sample_table,
    sample_table_candidate,
    sample_text,
)

POLL_S = 0.2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(work: Path, certs, data_root: Path, workers: int) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "listen": f"127.0.0.1:{port}",
        "tls_cert": str(certs.server_cert),
        "tls_key": str(certs.server_key),
        "tls_client_ca": str(certs.ca_cert),
        "data_roots": [str(data_root)],
        "storage_dir": str(work / "storage"),
        "max_concurrent_requests": workers,
        "max_queued_requests": 1000,
        "analysis_threads": 1,
        "progress_poll_s": POLL_S,
        "cascade_overrides": [
            "trainer=cpu",
            "logger=csv",
            "data.seq_len=64",
            "data.vocab_size=512",
        ],
    }
    (work / "serve.yaml").write_text(json.dumps(config))
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [sys.executable, "-m", "serve", "--config", str(work / "serve.yaml")],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )
    return server, f"127.0.0.1:{port}"


def credentials(certs) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=certs.ca_cert.read_bytes(),
        private_key=certs.client_key.read_bytes(),
        certificate_chain=certs.client_cert.read_bytes(),
    )


async def wait_ready(target: str, certs, timeout: float = 120) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.time() + timeout
    async with grpc.aio.secure_channel(target, credentials(certs)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.time() < deadline:
            try:
                response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.3)
    raise TimeoutError("server did not become ready")


# ---------------------------------------------------------------------------------- part 1
async def collapse_over_grpc(
    target: str, certs, request: c1.DetectCollapseRequest, calls: int, deadline: float
) -> tuple[list[float], int, float]:
    async with grpc.aio.secure_channel(target, credentials(certs)) as channel:
        stub = c1_grpc.CollapseEngineStub(channel)
        await stub.DetectCollapse(request, timeout=deadline)  # warm-up (imports, caches)

        async def one() -> float | None:
            started = time.perf_counter()
            try:
                await stub.DetectCollapse(request, timeout=deadline)
            except grpc.aio.AioRpcError as exc:
                print(f"  error: {exc.code().name} {exc.details()[:120]}")
                return None
            return time.perf_counter() - started

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(calls)))
        wall = time.perf_counter() - started
    latencies = [r for r in results if r is not None]
    return latencies, calls - len(latencies), wall


def collapse_in_process(
    candidate: str, reference: str | None, calls: int, workers: int
) -> tuple[list[float], int, float]:
    from synthos.analysis.collapse import CollapseConfig, detect_collapse

    config = CollapseConfig(threads=1)
    detect_collapse(candidate, reference, config=config)  # warm-up

    def one(issued: float) -> float:
        detect_collapse(candidate, reference, config=config)
        return time.perf_counter() - issued

    errors = 0
    latencies = []
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(one, time.perf_counter()) for _ in range(calls)]
        for future in futures:
            try:
                latencies.append(future.result())
            except Exception:
                errors += 1
    return latencies, errors, time.perf_counter() - started


# ---------------------------------------------------------------------------------- part 2
async def subscribers_on_a_cascade(
    target: str, certs, text: Path, subscribers: int, limit_s: float, sweep_root: Path
) -> dict:
    validation_id = f"bench-{int(time.time())}"
    local_lags: list[float] = []
    stop_local = threading.Event()

    def follow_locally(joined: float) -> None:
        tail = JsonlTail(sweep_root / validation_id / "progress.jsonl")
        while not stop_local.is_set():
            now = time.time()
            for record in tail.read_new():
                stamp = parse_time(record["timestamp"])
                if stamp >= joined:
                    local_lags.append(now - stamp)
            stop_local.wait(POLL_S)

    async with grpc.aio.secure_channel(target, credentials(certs)) as channel:
        stub = v1_grpc.ValidationEngineStub(channel)
        start = stub.TrainCascade(
            v1.TrainCascadeRequest(
                dataset=common_pb2.DatasetRef(path=str(text)),
                profile="smoke",
                validation_id=validation_id,
                detach=True,
            ),
            timeout=limit_s,
        )
        await start.read()  # the job exists once its first record arrives
        start.cancel()
        local = threading.Thread(target=follow_locally, args=(time.time(),), daemon=True)
        local.start()

        async def subscribe() -> tuple[list[float], float, int, str]:
            joined = time.time()
            lags, first, count = [], float("nan"), 0
            final = ""
            try:
                async for message in stub.WatchCascade(
                    v1.WatchCascadeRequest(validation_id=validation_id), timeout=limit_s
                ):
                    now = time.time()
                    count += 1
                    if count == 1:
                        first = now - joined
                    if message.event.startswith("job_"):
                        final = message.event
                    elif parse_time(message.timestamp) >= joined:
                        lags.append(now - parse_time(message.timestamp))
            except grpc.aio.AioRpcError as exc:
                final = f"error {exc.code().name}"
            return lags, first, count, final

        outcomes = await asyncio.gather(*(subscribe() for _ in range(subscribers)))
        stop_local.set()
        local.join(5)
    lags = [lag for o in outcomes for lag in o[0]]
    return {
        "lags": lags,
        "first": [o[1] for o in outcomes],
        "messages": [o[2] for o in outcomes],
        "errors": sum(1 for o in outcomes if o[3] != "job_completed"),
        "finals": sorted({o[3] for o in outcomes}),
        "local_lags": local_lags,
    }


def row(name: str, latencies: list[float], errors: int, wall: float | None = None) -> str:
    extra = f", wall {wall:.2f} s" if wall is not None else ""
    return (
        f"{name:<34} n={len(latencies):>4}  p50 {percentile(latencies, 50) * 1000:8.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:8.1f} ms  errors {errors}{extra}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="server request threads")
    parser.add_argument("--deadline", type=float, default=300.0, help="per call, seconds")
    parser.add_argument("--cascade-limit", type=float, default=600.0, help="seconds")
    parser.add_argument("--with-reference", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    work = Path(tempfile.mkdtemp(prefix="serve_load_"))
    certs = generate_certs(work / "certs")
    data_root = work / "data"
    reference = str(sample_table(data_root))
    candidate = str(sample_table_candidate(data_root))
    text = sample_text(data_root)
    server, target = start_server(work, certs, data_root, args.workers)
    try:
        await wait_ready(target, certs)
        request = c1.DetectCollapseRequest(candidate=common_pb2.DatasetRef(path=candidate))
        if args.with_reference:
            request.reference.path = reference
        print(f"DetectCollapse x{args.calls} concurrent, {args.workers} server threads")
        served = await collapse_over_grpc(target, certs, request, args.calls, args.deadline)
        local = collapse_in_process(
            candidate, reference if args.with_reference else None, args.calls, args.workers
        )
        print(row("  gRPC + mTLS", *served))
        print(row("  baseline: in-process threads", *local))
        p50 = percentile(served[0], 50) / percentile(local[0], 50)
        p99 = percentile(served[0], 99) / percentile(local[0], 99)
        print(
            f"  ratio gRPC / in-process: p50 {p50:.2f}x, p99 {p99:.2f}x, "
            f"wall {served[2] / local[2]:.2f}x"
        )
        print(f"\nWatchCascade x{args.subscribers} on one smoke cascade (CPU)")
        started = time.perf_counter()
        subs = await subscribers_on_a_cascade(
            target,
            certs,
            text,
            args.subscribers,
            args.cascade_limit,
            work / "storage" / "runs" / "cascade",
        )
        print(row("  progress lag, gRPC subscribers", subs["lags"], subs["errors"]))
        print(row("  baseline: in-process JsonlTail", subs["local_lags"], 0))
        print(
            f"  ratio gRPC / in-process: p50 "
            f"{percentile(subs['lags'], 50) / percentile(subs['local_lags'], 50):.2f}x"
        )
        print(
            f"  first message after joining: p50 {statistics.median(subs['first']) * 1000:.1f} ms; "
            f"messages per subscriber {min(subs['messages'])}-{max(subs['messages'])}; "
            f"ends {subs['finals']}; cascade {time.perf_counter() - started:.1f} s"
        )
        print(f"\nserver peak RSS: {peak_rss_mib(server.pid):.0f} MiB")
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    asyncio.run(main())
