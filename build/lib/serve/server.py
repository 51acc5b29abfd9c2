"""The gRPC server: both services, health checking, reflection, mTLS, 100 MB messages and a
graceful shutdown.

Shutdown (SIGTERM or SIGINT): health turns NOT_SERVING, running cascades are stopped and
left INTERRUPTED (their checkpoints stay; the next start resumes them), then requests in
flight get `shutdown_grace_s` to finish before the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from serve.admission import Admission
from serve.config import ServerConfig, check_tls
from serve.generated import (
    collapse_engine_pb2,
    collapse_engine_pb2_grpc,
    validation_engine_pb2,
    validation_engine_pb2_grpc,
)
from serve.jobs.cascades import CascadeJobs
from serve.jobs.store import JobStore
from serve.malformed import MalformedRequestInterceptor
from serve.paths import DatasetPolicy
from serve.services.collapse import CollapseService
from serve.services.validation import ValidationService

log = logging.getLogger("serve")

SERVICE_NAMES = (
    validation_engine_pb2.DESCRIPTOR.services_by_name["ValidationEngine"].full_name,
    collapse_engine_pb2.DESCRIPTOR.services_by_name["CollapseEngine"].full_name,
)
INSECURE_WARNING = (
    "\n" + "*" * 78 + "\n"
    "INSECURE DEVELOPMENT MODE: no TLS and no client authentication on {listen}.\n"
    "Anyone who can reach it can read the datasets under the data roots and start\n"
    "training. Never run this outside a development machine.\n" + "*" * 78
)


def server_credentials(config: ServerConfig) -> grpc.ServerCredentials:
    """mTLS: the server's certificate, and client certificates signed by the client CA
    required."""
    return grpc.ssl_server_credentials(
        [(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())],
        root_certificates=Path(config.tls_client_ca).read_bytes(),
        require_client_auth=True,
    )


class SynthosServer:
    def __init__(self, config: ServerConfig, insecure_dev: bool = False) -> None:
        check_tls(config, insecure_dev)
        self.config = config
        self.insecure_dev = insecure_dev
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._stopped: asyncio.Event | None = None
        self._stopping: asyncio.Future | None = None

    async def start(self) -> int:
        """Bind, start serving and resume interrupted cascades; returns the bound port."""
        config = self.config
        config.storage.mkdir(parents=True, exist_ok=True)
        (config.storage / "tmp").mkdir(exist_ok=True)
        self.store = JobStore(config.storage / "jobs.sqlite3")
        self.cascades = CascadeJobs(config, self.store)
        self.admission = Admission(
            config.max_concurrent_requests,
            config.max_queued_requests,
            config.request_retry_after_s,
        )
        policy = DatasetPolicy(config.data_roots, config.s3_buckets)
        server = grpc.aio.server(
            interceptors=[MalformedRequestInterceptor()],
            options=[
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.max_receive_message_length", config.max_message_bytes),
            ],
        )
        validation_engine_pb2_grpc.add_ValidationEngineServicer_to_server(
            ValidationService(config, policy, self.admission, self.cascades), server
        )
        collapse_engine_pb2_grpc.add_CollapseEngineServicer_to_server(
            CollapseService(config, policy, self.admission, self.cascades), server
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        if self.insecure_dev:
            self.port = server.add_insecure_port(config.listen)
            log.warning(INSECURE_WARNING.format(listen=config.listen))
        else:
            self.port = server.add_secure_port(config.listen, server_credentials(config))
        await server.start()
        self._server = server
        self._stopped = asyncio.Event()
        await self.cascades.recover()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving on port %d (%s), storage %s",
            self.port,
            "insecure" if self.insecure_dev else "mTLS",
            config.storage.resolve(),
        )
        return self.port

    async def stop(self) -> None:
        """Shut down once, however often it is asked (a second SIGTERM waits for the first)."""
        if self._server is None:
            return
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._shutdown())
        await self._stopping

    async def _shutdown(self) -> None:
        log.info("shutting down: stopping cascades, then %gs grace", self.config.shutdown_grace_s)
        await self.health.enter_graceful_shutdown()
        await self.cascades.shutdown()
        await self._server.stop(self.config.shutdown_grace_s)
        self.admission.close()
        self.store.close()
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()


async def serve(config: ServerConfig, insecure_dev: bool = False) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    server = SynthosServer(config, insecure_dev)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.stop()))
    await server.wait()
