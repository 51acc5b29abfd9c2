"""In-process publish/subscribe for progress records, usable from threads and asyncio.

Training publishes from its own threads (the main loop and ProgressStream's timer); a
server (gRPC, HTTP) consumes from an event loop. Each subscriber gets its own bounded
queue, so a slow client drops its oldest records instead of stalling training. Only
records published in this process arrive: jobs that run elsewhere (ddp_spawn workers,
joblib or SLURM launchers) reach a server through the JSONL file (`JsonlTail`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_END = object()


class Subscription:
    """One subscriber's queue of records, oldest first.

    `async for record in sub` in asyncio (the first use binds it to the running loop;
    records reach the loop through `call_soon_threadsafe`), or `for record in sub` /
    `sub.get(timeout)` from a thread. Iteration ends after `close()` (or the bus's) once
    the queued records are consumed. At most `maxsize` records wait; older ones are
    dropped first and counted in `dropped`.
    """

    def __init__(
        self, bus: ProgressBus, maxsize: int, accept: Callable[[Any], bool] | None
    ) -> None:
        self._bus = bus
        self._maxsize = max(1, maxsize)
        self._accept = accept
        self._cond = threading.Condition()
        self._items: deque[Any] = deque()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aqueue: asyncio.Queue | None = None
        self.dropped = 0

    @property
    def closed(self) -> bool:
        return self._closed

    # Publisher side (any thread). Returns False once the subscription is dead.
    def _offer(self, record: Any) -> bool:
        if self._accept is not None and not self._accept(record):
            return not self._closed
        with self._cond:
            if self._closed:
                return False
            loop = self._loop
            if loop is None:
                if len(self._items) >= self._maxsize:
                    self._items.popleft()
                    self.dropped += 1
                self._items.append(record)
                self._cond.notify_all()
                return True
        try:
            loop.call_soon_threadsafe(self._deliver, record)
        except RuntimeError:  # the subscriber's loop is closed: nobody is listening
            self.close()
            return False
        return True

    def _deliver(self, record: Any) -> None:
        """Runs in the subscriber's loop."""
        queue = self._aqueue
        if record is not _END and queue.qsize() >= self._maxsize:
            queue.get_nowait()
            self.dropped += 1
        queue.put_nowait(record)

    def close(self) -> None:
        """Stop receiving; iterators finish after the records already queued."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            loop = self._loop
            self._cond.notify_all()
        self._bus._remove(self)
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, _END)

    # Thread side.
    def get(self, timeout: float | None = None) -> Any | None:
        """The next record; None once closed and drained; TimeoutError after `timeout` s."""
        with self._cond:
            if self._loop is not None:
                raise RuntimeError("this subscription is bound to an event loop: use async for")
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                raise TimeoutError(f"no progress record within {timeout} s")
            return self._items.popleft() if self._items else None

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Any:
        record = self.get()
        if record is None:
            raise StopIteration
        return record

    # Asyncio side.
    def _bind(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._loop is None:
                self._aqueue = asyncio.Queue()
                while self._items:
                    self._aqueue.put_nowait(self._items.popleft())
                if self._closed:
                    self._aqueue.put_nowait(_END)
                self._loop = loop
            elif self._loop is not loop:
                raise RuntimeError("this subscription is bound to another event loop")
        return self._aqueue

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        queue = self._bind()
        record = await queue.get()
        if record is _END:
            queue.put_nowait(_END)  # later calls end too
            raise StopAsyncIteration
        return record

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProgressBus:
    """Thread-safe fan-out of records to every live subscription."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    def subscribe(self, maxsize: int = 1000, validation_id: str | None = None) -> Subscription:
        """A new subscription; with `validation_id`, only records of that validation."""
        accept = None
        if validation_id is not None:

            def accept(record: Any) -> bool:
                value = (
                    record.get("validation_id")
                    if isinstance(record, dict)
                    else getattr(record, "validation_id", None)
                )
                return value == validation_id

        subscription = Subscription(self, maxsize, accept)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def publish(self, record: Any) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._offer(record)

    def close(self) -> None:
        """End every subscription (their iterators finish)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)


_DEFAULT_BUS = ProgressBus()


def default_bus() -> ProgressBus:
    """The process-wide bus ProgressStream publishes to unless given another."""
    return _DEFAULT_BUS
