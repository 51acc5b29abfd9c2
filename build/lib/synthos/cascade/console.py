"""The cascade on the terminal: one live view while it trains, one final screen when it ends.

`CascadeConsole` is the cascade's Hydra callback (it also records the plan and aggregates,
as `AggregateOnMultirunEnd`). Unless `cascade.verbose` is set, everything the jobs and
libraries print (Lightning's banners and tables, known-harmless warnings, per-job summaries,
Hydra's launch lines) goes to `<sweep dir>/cascade.log`, and the terminal shows a board fed
by `progress.jsonl` (so it follows any launcher's jobs): tiers, models done, the model in
training with its step and loss, elapsed time, the ETA, and a line per finished model. On a
terminal the board redraws in place; in a log (not a TTY) the finished-model lines and a
status line a minute are printed instead.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from omegaconf import DictConfig
from rich.console import Console
from rich.live import Live

from synthos.callbacks.jsonl import JsonlTail
from synthos.callbacks.progress import PROGRESS_FILE
from synthos.cascade.aggregate import (
    AggregateOnMultirunEnd,
    prediction_text,
    report_files,
    summary_text,
)
from synthos.cascade.board import CascadeBoard, TierPlan, tier_plans
from synthos.cascade.console_view import (
    board_view,
    final_screen,
    finished_line,
    status_line,
    training_line,
)
from synthos.cascade.terminal_capture import TerminalCapture

log = logging.getLogger(__name__)

LOG_FILE = "cascade.log"


class LiveBoard:
    """A thread that folds new progress records into a `CascadeBoard` and draws it."""

    def __init__(
        self,
        progress_path: Path,
        board: CascadeBoard,
        title: str,
        stream: TextIO,
        refresh_s: float = 0.5,
        plain_interval_s: float = 60.0,
    ) -> None:
        self.board = board
        self.title = title
        self.refresh_s = refresh_s
        self.plain_interval_s = plain_interval_s
        self.console = Console(file=stream, soft_wrap=True)
        self._tail = JsonlTail(progress_path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None
        self._last_plain = time.monotonic()

    def start(self) -> LiveBoard:
        if self.console.is_terminal:
            self._live = Live(
                board_view(self.board, self.title),
                console=self.console,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        self._thread = threading.Thread(target=self._run, name="cascade-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.poll()  # records written after the last refresh
        if self._live is not None:
            self._live.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.poll()
            except Exception as exc:  # a drawing problem must never stop the cascade
                log.warning("Cascade board: %s", exc)

    def poll(self) -> None:
        for record in self._tail.read_new():
            ended = self.board.update(record)
            if ended is not None:
                self.console.print(finished_line(ended))
        now = time.time()
        if self._live is not None:
            self._live.update(board_view(self.board, self.title, now))
        elif time.monotonic() - self._last_plain >= self.plain_interval_s:
            self._last_plain = time.monotonic()
            line = status_line(self.board, self.title, now)
            for model in self.board.running:
                line.append("  |  ").append(training_line(model))
            self.console.print(line)


class CascadeConsole(AggregateOnMultirunEnd):
    """Hydra callback: plan, live board and output capture at the start; aggregation and
    the final screen at the end."""

    def __init__(self, plain_interval_s: float = 60.0) -> None:
        self.plain_interval_s = plain_interval_s
        self._capture: TerminalCapture | None = None
        self._board: LiveBoard | None = None
        self._started = time.time()

    def __getstate__(self) -> dict[str, Any]:
        # Parallel launchers (joblib) pickle Hydra's callbacks into their workers, which
        # never draw: the terminal handle and the board thread stay in this process.
        return {"plain_interval_s": self.plain_interval_s, "_started": self._started}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._capture = None
        self._board = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        super().on_multirun_start(config, **kwargs)
        self._started = time.time()
        if config.cascade.get("verbose"):
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        self._capture = TerminalCapture(sweep_dir / LOG_FILE)
        terminal = self._capture.start()
        board = CascadeBoard(
            tiers=_launched(config),
            started=self._started,
            parallel=int(config.cascade.get("device_slots") or 1),
        )
        title = f"Cascade {config.cascade.validation_id} ({config.cascade.profile})"
        print(f"{title}: libraries' output goes to {sweep_dir / LOG_FILE}", file=terminal)
        self._board = LiveBoard(
            sweep_dir / PROGRESS_FILE,
            board,
            title,
            terminal,
            plain_interval_s=self.plain_interval_s,
        ).start()
        # A sweep stopped by Ctrl-C never reaches on_multirun_end: give the terminal back.
        atexit.register(self._interrupted)

    def _stop_board(self) -> None:
        if self._board is not None:
            self._board.stop()
            self._board = None

    def _release_terminal(self) -> None:
        if self._capture is not None and self._capture.active:
            self._capture.stop()

    def _interrupted(self) -> None:
        if self._capture is None or not self._capture.active:
            return
        self._stop_board()
        self._release_terminal()
        print(f"cascade stopped before it ended; its output is in {self._capture.log_path}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._stop_board()
        atexit.unregister(self._interrupted)
        try:
            results = self.aggregate(config)
            if self._capture is not None:
                print(summary_text(results))  # the plain summary, into the log
        finally:
            self._release_terminal()
        report = _read_report(Path(results["sweep_dir"]))
        files = report_files(results)
        if self._capture is not None:
            files["log"] = str(self._capture.log_path)
        screen = final_screen(
            results, report, files, prediction_text(results), time.time() - self._started
        )
        Console(file=sys.stdout, soft_wrap=True).print(screen)


def _launched(config: DictConfig) -> list[TierPlan]:
    """The tiers this launch trains (`cascade.run_tiers`, default all)."""
    plans = tier_plans(config.cascade)
    run_tiers = config.cascade.get("run_tiers")
    if run_tiers:
        plans = [p for p in plans if p.tier in {int(t) for t in run_tiers}]
    return plans


def _read_report(sweep_dir: Path) -> dict[str, Any] | None:
    from synthos.report import read_report

    path = sweep_dir / "report.json"
    return read_report(path) if path.is_file() else None
