"""Device slots: parallel cascade jobs each take one device that no other running job holds.

A parallel launcher (joblib) starts jobs in worker processes that know nothing of each
other, so a job claims slot i by holding an exclusive lock on `<sweep dir>/.device_slots/i`
for as long as it trains. The operating system drops the lock when the process exits, even
when it is killed, so a crashed job never keeps its device.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

SLOTS_DIR = ".device_slots"


@contextlib.contextmanager
def claim_device_slot(
    sweep_dir: str | os.PathLike, n_slots: int, poll_s: float = 0.5
) -> Iterator[int]:
    """Hold the lowest free slot in [0, n_slots) until the block ends; wait while all are
    taken."""
    if n_slots < 1:
        raise ValueError(f"n_slots must be at least 1, got {n_slots}")
    folder = Path(sweep_dir) / SLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for slot in range(n_slots):
            fd = os.open(folder / str(slot), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                yield slot
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        if not waited:
            log.info("All %d device slots are taken; waiting for one", n_slots)
            waited = True
        time.sleep(poll_s)
