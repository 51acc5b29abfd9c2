"""What a run directory holds for a reader: the validated report.json, and beside it (when the
stages that make them ran) the cascade's results, its models' loss curves, the scaling-fit
plot and the localizer's row scores.

A run directory is a cascade's sweep directory or the output directory of `synthos detect`;
everything but report.json is optional, and its absence is recorded rather than guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.callbacks.jsonl import read_jsonl
from synthos.errors import DataError, ErrorCode
from synthos.report.schema import REPORT_FILE, read_report

RESULTS_FILE = "cascade_results.json"
PROGRESS_FILE = "progress.jsonl"
SCALING_PLOT_FILE = "scaling_fit.png"
ROW_SCORES_FILE = "row_scores.parquet"
#: Timings keys (prefixes) by which a stage that found nothing tells it ran.
STAGE_TIMING_PREFIXES = {
    "regions": ("locali",),
    "recommendations": ("recommend",),
    "signature_matches": ("signature", "prescreen", "pre_screen"),
}


@dataclass(frozen=True)
class LossCurve:
    """One model's training loss over optimizer steps."""

    job: str
    tier: int
    variant: int
    status: str
    steps: list[float]
    losses: list[float]


@dataclass(frozen=True)
class RowScores:
    """The localizer's per-row scores (row_scores.parquet), summarised for reading."""

    path: Path
    rows: int
    scores: list[float]
    issue_counts: dict[str, int]
    top_rows: list[dict[str, Any]]


@dataclass(frozen=True)
class RunContents:
    run_dir: Path
    report: dict[str, Any]
    cascade: dict[str, Any] | None = None
    loss_curves: list[LossCurve] = field(default_factory=list)
    scaling_plot: Path | None = None
    row_scores: RowScores | None = None

    def stage_ran(self, key: str) -> bool:
        """Whether the stage that fills `key` (regions, recommendations, signature_matches)
        ran: it left entries, or a timing, or (regions) the row scores it writes."""
        if self.report.get(key):
            return True
        if key == "regions" and self.row_scores is not None:
            return True
        prefixes = STAGE_TIMING_PREFIXES.get(key, ())
        return any(name.startswith(prefixes) for name in self.report.get("timings") or {})


def load_run(run_dir: str | Path) -> RunContents:
    """Read a run directory; report.json must exist and meet its schema (DataError if not)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError("run directory not found", code=ErrorCode.DATA_NOT_FOUND, path=str(run_dir))
    report = read_report(run_dir / REPORT_FILE, validate=True)
    plot = run_dir / SCALING_PLOT_FILE
    return RunContents(
        run_dir=run_dir,
        report=report,
        cascade=_read_json(run_dir / RESULTS_FILE),
        loss_curves=read_loss_curves(run_dir / PROGRESS_FILE),
        scaling_plot=plot if plot.is_file() else None,
        row_scores=read_row_scores(run_dir / ROW_SCORES_FILE),
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"not valid JSON: {exc}", code=ErrorCode.DATA_FORMAT, path=str(path)
        ) from exc


def read_loss_curves(path: Path) -> list[LossCurve]:
    """Each model's loss curve from the last end record of its job in progress.jsonl (a
    resumed job ends more than once); unreadable lines are skipped, as `tail -f` readers do."""
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for record in read_jsonl(path):
        result = record.get("result")
        if record.get("event") in ("model_finished", "model_failed") and isinstance(result, dict):
            latest[(int(record["tier"]), int(record["variant"]))] = result
    curves = []
    for (tier, variant), result in sorted(latest.items()):
        points = [p for p in result.get("loss_curve") or [] if p[1] is not None]
        curves.append(
            LossCurve(
                job=f"t{tier}v{variant}",
                tier=tier,
                variant=variant,
                status=str(result.get("status")),
                steps=[float(p[0]) for p in points],
                losses=[float(p[1]) for p in points],
            )
        )
    return curves


def read_row_scores(path: Path, top: int = 10) -> RowScores | None:
    """Summary of row_scores.parquet (score column required; issue_type and a row index
    column used when present)."""
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(
            f"row scores are not a readable Parquet file: {exc}",
            code=ErrorCode.DATA_CORRUPT,
            path=str(path),
        ) from exc
    if "score" not in table.column_names:
        raise DataError(
            "row scores have no score column",
            code=ErrorCode.DATA_SCHEMA,
            path=str(path),
            expected="columns row, score, issue_type",
        )
    frame = table.to_pandas()
    issues = (
        frame["issue_type"].astype(str).value_counts().to_dict()
        if "issue_type" in frame.columns
        else {}
    )
    shown = [c for c in ("row", "row_index", "score", "issue_type") if c in frame.columns]
    best = frame.sort_values("score", ascending=False).head(top)[shown]
    return RowScores(
        path=path,
        rows=len(frame),
        scores=[float(s) for s in frame["score"].dropna()],
        issue_counts={str(k): int(v) for k, v in issues.items()},
        top_rows=best.to_dict(orient="records"),
    )
