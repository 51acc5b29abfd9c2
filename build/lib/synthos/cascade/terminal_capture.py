"""Send everything a process writes to its standard output and error into a log file, while
keeping a handle on the real terminal for the one view that belongs there.

The redirect is at the file-descriptor level, so it catches what Python-level redirects miss:
logging handlers that hold the original stream (Lightning installs its own), rich consoles,
warnings, C extensions, and child processes started while it is active (joblib workers).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TextIO


class TerminalCapture:
    """`start()` redirects fds 1 and 2 to `log_path` (appending) and returns a text stream
    on the original standard output; `stop()` restores both. Not re-entrant."""

    def __init__(self, log_path: str | Path) -> None:
        self.log_path = Path(log_path)
        self._saved: tuple[int, int] | None = None
        self.terminal: TextIO | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def start(self) -> TextIO:
        if self._saved is not None:
            raise RuntimeError("output is already captured")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        _flush()
        saved = (os.dup(1), os.dup(2))
        log = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.dup2(log, 1)
            os.dup2(log, 2)
        finally:
            os.close(log)
        self._saved = saved
        self.terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
        return self.terminal

    def stop(self) -> None:
        if self._saved is None:
            return
        _flush()
        out, err = self._saved
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        self._saved = None
        if self.terminal is not None:
            self.terminal.close()
            self.terminal = None


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
