"""What the cascade puts on the terminal: library output captured into the log at the file
descriptor level, the board's lines per finished model, and the final screen."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

from rich.console import Console

from synthos.cascade.board import CascadeBoard, TierPlan
from synthos.cascade.console import LiveBoard
from synthos.cascade.console_view import final_screen, finished_line
from tests.cascade.test_board import T0, record
from tests.conftest import ROOT

NOISY_CHILD = textwrap.dedent(
    """
    import logging, os, subprocess, sys, warnings
    from synthos.cascade.terminal_capture import TerminalCapture

    library = logging.getLogger("library")
    library.addHandler(logging.StreamHandler(sys.stderr))  # holds the original stream
    capture = TerminalCapture(sys.argv[1])
    terminal = capture.start()
    print("banner from print")
    library.warning("banner from logging")
    warnings.warn("a known-harmless warning")
    os.write(2, b"raw write to fd 2\\n")
    subprocess.run(["echo", "output of a child process"], check=True)
    print("the board", file=terminal, flush=True)
    capture.stop()
    print("after the capture")
    """
)


def test_capture_sends_every_kind_of_output_to_the_log(tmp_path):
    log = tmp_path / "cascade.log"
    proc = subprocess.run(
        [sys.executable, "-c", NOISY_CHILD, str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the board\nafter the capture\n"
    assert proc.stderr == ""
    logged = log.read_text()
    for line in (
        "banner from print",
        "banner from logging",
        "a known-harmless warning",
        "raw write to fd 2",
        "output of a child process",
    ):
        assert line in logged, line
    assert "the board" not in logged


def _text(renderable) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, soft_wrap=True).print(renderable)
    return buffer.getvalue()


def test_board_prints_a_line_per_finished_model_and_a_status_line(tmp_path):
    progress = tmp_path / "progress.jsonl"
    board = CascadeBoard([TierPlan(1, 2, 100, 1.0)], started=T0)
    out = io.StringIO()
    live = LiveBoard(progress, board, "Cascade test", out, plain_interval_s=0.0)
    lines = [
        record(1, 0, 0, 0),
        record(
            1,
            0,
            5,
            100,
            event="model_finished",
            seconds=5.0,
            val_loss=1.25,
            metrics={"val/target_acc": 0.75},
        ),
        record(1, 1, 6, 0),
        record(
            1,
            1,
            7,
            0,
            event="model_failed",
            error={"code": 2003, "name": "CHECKPOINT", "message": "unreadable"},
        ),
    ]
    progress.write_text("".join(json.dumps(r) + "\n" for r in lines))
    live.poll()
    text = out.getvalue()
    assert "✓ t1v0  tier 1  0:05  val_loss 1.25  val/target_acc 0.75" in text
    assert "✗ t1v1  tier 1  failed: [2003 CHECKPOINT] unreadable" in text
    assert "Cascade test  2/2 models" in text
    progress.write_text(progress.read_text() + json.dumps(record(1, 1, 9, 4)) + "\n")
    live.poll()
    assert out.getvalue().splitlines()[-1].endswith("|  training t1v1: step 4/100 (4%)  loss 1.96")


def test_final_screen_has_verdict_prediction_top_causes_and_files():
    results = {
        "validation_id": "v-1",
        "models_completed": 17,
        "models_total": 18,
        "collapse": {"status": "completed"},
    }
    report = {
        "collapse_detected": True,
        "overall_score": 32.25,
        "risk_score": 91,
        "severity": "critical",
        "collapse_type": "mode_collapse",
        "root_causes": [
            {"cause": f"cause{i}", "percentage": 40 - 10 * i, "description": f"why {i}"}
            for i in range(4)
        ],
    }
    files = {"html": "/runs/v-1/report.html", "report": "/runs/v-1/report.json"}
    text = _text(final_screen(results, report, files, "predicted acc: 0.8 [0.7, 0.9]", 345.0))
    assert "Cascade v-1: 17/18 models finished in 5:45" in text
    assert "verdict     COLLAPSE DETECTED (overall 32.2/100, risk 91/100" in text
    assert "prediction  predicted acc: 0.8 [0.7, 0.9]" in text
    assert "cause2" in text and "cause3" not in text  # the top three only
    assert "html:     /runs/v-1/report.html" in text

    failed = {**results, "collapse": {"status": "failed", "error": {"message": "no rows"}}}
    assert "collapse detection failed: no rows" in _text(final_screen(failed, None, {}, "", 1))
    assert "collapse detection not run" in _text(
        final_screen({**results, "collapse": None}, None, {}, "", 1)
    )


def test_finished_line_without_a_result_still_names_the_model():
    board = CascadeBoard([TierPlan(1, 1, 10, 1.0)], started=T0)
    model = board.update(record(1, 0, 1, 10, event="model_finished"))
    assert _text(finished_line(model)).startswith("✓ t1v0  tier 1")


def test_a_failure_without_a_message_names_its_type():
    board = CascadeBoard([TierPlan(1, 1, 10, 1.0)], started=T0)
    model = board.update(
        record(1, 0, 1, 3, event="model_failed", error={"type": "KeyboardInterrupt", "message": ""})
    )
    assert "failed: KeyboardInterrupt" in _text(finished_line(model))


def test_the_console_callback_pickles_without_its_terminal(tmp_path):
    """Parallel launchers pickle Hydra's callbacks into their workers."""
    import pickle

    from synthos.cascade.console import CascadeConsole
    from synthos.cascade.terminal_capture import TerminalCapture

    console = CascadeConsole(plain_interval_s=5.0)
    console._capture = TerminalCapture(tmp_path / "cascade.log")
    console._capture.terminal = (tmp_path / "terminal").open("w")
    try:
        copy = pickle.loads(pickle.dumps(console))
    finally:
        console._capture.terminal.close()
    assert copy.plain_interval_s == 5.0 and copy._capture is None and copy._board is None
