"""Bounded library work for the request handlers: at most `limit` calls run (each in a
worker thread, so the event loop keeps serving), `queue` more wait, and anything beyond
that is refused with RESOURCE_BUSY (RESOURCE_EXHAUSTED, retry after `retry_after_s`).

A call stops being waited for at the request's deadline (4001 TIMEOUT, DEADLINE_EXCEEDED);
its thread finishes in the background, so the server stays healthy.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from synthos.errors import ErrorCode, SynthosError

T = TypeVar("T")


class Admission:
    def __init__(self, limit: int, queue: int, retry_after_s: float) -> None:
        self.limit = limit
        self.queue = queue
        self.retry_after_s = retry_after_s
        self.executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="synthos-work")
        self._slots = asyncio.Semaphore(limit)
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(
        self, context: grpc.aio.ServicerContext | None, fn: Callable[..., T], *args: Any
    ) -> T:
        if self._admitted >= self.limit + self.queue:
            raise SynthosError(
                ErrorCode.RESOURCE_BUSY,
                f"the server is busy ({self._admitted} requests running or queued); retry later",
                {"running_limit": self.limit, "queue_limit": self.queue},
                retry_after_seconds=self.retry_after_s,
            )
        remaining = context.time_remaining() if context is not None else None
        self._admitted += 1
        try:
            return await asyncio.wait_for(self._call(fn, *args), timeout=remaining)
        except asyncio.TimeoutError:
            raise SynthosError(
                ErrorCode.TIMEOUT,
                f"the request's deadline ({remaining:.3g} s) passed before the work finished",
                {"deadline_seconds": remaining},
            ) from None
        finally:
            self._admitted -= 1

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
