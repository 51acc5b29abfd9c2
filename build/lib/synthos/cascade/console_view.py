"""What the cascade shows on the terminal, as rich renderables: the live board (tiers, models
done, the model in training, elapsed time and ETA), one line per finished model, and the
final screen (verdict, prediction with its interval, top root causes, report files)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from synthos.cascade.board import CascadeBoard, ModelState

MARKS = {"completed": ("✓", "green"), "failed": ("✗", "red"), "running": ("▶", "yellow")}


def duration(seconds: float | None) -> str:
    """`1:02:03`, `4:05`, or `-` for an unknown duration."""
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_line(board: CascadeBoard, title: str, now: float) -> Text:
    """One line: title, models done, elapsed, ETA."""
    eta = board.eta(now)
    eta_text = (
        f"ETA {time.strftime('%H:%M:%S', time.localtime(eta))} (in {duration(eta - now)})"
        if eta is not None
        else "ETA measuring"
    )
    return Text.assemble(
        (title, "bold"),
        f"  {board.models_done}/{board.models_total} models",
        f"  elapsed {duration(now - board.started)}",
        f"  {eta_text}",
    )


def board_view(board: CascadeBoard, title: str, now: float | None = None) -> Group:
    """The live board: status line, a row per tier, the model(s) in training."""
    now = time.time() if now is None else now
    per_step = board.seconds_per_step()
    tiers = Table.grid(padding=(0, 2))
    for _ in range(4):
        tiers.add_column()
    for plan in board.tiers:
        mine = sorted(
            (m for m in board.models.values() if m.tier == plan.tier), key=lambda m: m.variant
        )
        marks = Text()
        for model in mine:
            mark, style = MARKS.get(model.status, ("·", "dim"))
            marks.append(mark, style=style)
        done = sum(m.status in ("completed", "failed") for m in mine)
        speed = f"{per_step[plan.tier]:.3g} s/step" if plan.tier in per_step else ""
        tiers.add_row(f"tier {plan.tier}", f"{done}/{len(mine)}", marks, speed)
    rows: list[Any] = [status_line(board, title, now), tiers]
    for model in board.running:
        rows.append(training_line(model))
    return Group(*rows)


def training_line(model: ModelState) -> Text:
    total = model.total_steps
    share = f" ({100 * model.step / total:.0f}%)" if total else ""
    loss = f"  loss {model.loss:.4g}" if model.loss is not None else ""
    return Text(f"training {model.name}: step {model.step}/{total or '?'}{share}{loss}")


#: Validation metrics a finished-model line shows (the first one the model reports).
LINE_METRICS = ("val/target_acc", "val/skill", "val/acc")


def finished_line(model: ModelState) -> Text:
    """A line for a model that ended: mark, name, seconds, losses, a metric or the error."""
    result = model.result or {}
    mark, style = MARKS.get(model.status, ("?", ""))
    line = Text.assemble((mark, style), f" {model.name}  tier {model.tier}")
    seconds = result.get("seconds")
    if seconds is not None:
        line.append(f"  {duration(seconds)}")
    if model.status == "failed":
        error = result.get("error") or {}
        code = f"[{error['code']} {error.get('name', '')}] " if "code" in error else ""
        message = error.get("message") or error.get("type") or "no error recorded"
        line.append(f"  failed: {code}{message}", style="red")
        return line
    for key in ("train_loss", "val_loss"):
        if result.get(key) is not None:
            line.append(f"  {key} {result[key]:.4g}")
    metrics = result.get("metrics") or {}
    shown = next((name for name in LINE_METRICS if metrics.get(name) is not None), None)
    if shown is not None:
        line.append(f"  {shown} {metrics[shown]:.4g}")
    return line


def final_screen(
    results: dict[str, Any],
    report: dict[str, Any] | None,
    files: dict[str, str],
    prediction: str,
    seconds: float | None,
) -> Group:
    """The end of a cascade: verdict, prediction (with interval), top root causes, files."""
    lines: list[Any] = [
        Text(
            f"Cascade {results['validation_id']}: {results['models_completed']}/"
            f"{results['models_total']} models finished in {duration(seconds)}",
            style="bold",
        )
    ]
    lines.append(_labelled("verdict", _verdict(results, report)))
    lines.append(_labelled("prediction", prediction))
    causes = (report or {}).get("root_causes") or []
    for index, cause in enumerate(causes[:3]):
        label = "root causes" if index == 0 else ""
        text = f"{cause['percentage']:5.1f}%  {cause['cause']}: {cause['description']}"
        lines.append(_labelled(label, text))
    for index, (name, path) in enumerate(files.items()):
        lines.append(_labelled("files" if index == 0 else "", f"{name + ':':<10}{path}"))
    return Group(*lines)


def _labelled(label: str, text: str) -> Text:
    return Text.assemble((f"{label:<12}", "bold"), text)


def _verdict(results: dict[str, Any], report: dict[str, Any] | None) -> str:
    collapse = results.get("collapse")
    if collapse and collapse.get("status") == "failed":
        return f"collapse detection failed: {collapse['error']['message']}"
    if not report or report.get("collapse_detected") is None:
        return "collapse detection not run (no dataset path in the plan)"
    verdict = "COLLAPSE DETECTED" if report["collapse_detected"] else "no collapse detected"
    kind = f", type {report['collapse_type']}" if report.get("collapse_type") else ""
    overall = report.get("overall_score")
    overall = "n/a" if overall is None else f"{overall:.1f}"
    return (
        f"{verdict} (overall {overall}/100, risk {report['risk_score']}/100, "
        f"severity {report['severity']}{kind})"
    )
