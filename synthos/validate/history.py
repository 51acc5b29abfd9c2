"""A validate run directory: the stage cache and one numbered directory per validation.

    RUN_DIR/cache/<stage>/<key>/           stage results by content (`synthos.stage_cache`)
    RUN_DIR/validations/01-<name>/         report.json, report.html, row_scores.parquet, fixes/
    RUN_DIR/latest -> validations/NN-...   the newest validation

Each validation keeps its own directory so that validating a fixed dataset written by an
earlier validation never overwrites that dataset or its report.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthos.report.schema import REPORT_FILE

VALIDATIONS = "validations"
CACHE = "cache"
LATEST = "latest"
_NUMBERED = re.compile(r"^(\d+)-")


@dataclass(frozen=True)
class PastValidation:
    number: int
    directory: Path
    report: dict[str, Any]

    @property
    def candidate_digest(self) -> str | None:
        return (self.report.get("validation_run") or {}).get("candidate_digest")


@dataclass(frozen=True)
class RunHistory:
    run_dir: Path

    @property
    def cache_dir(self) -> Path:
        return self.run_dir / CACHE

    def past(self) -> list[PastValidation]:
        """Finished validations (those with a readable report.json), oldest first."""
        found = []
        for directory in sorted((self.run_dir / VALIDATIONS).glob("*")):
            match = _NUMBERED.match(directory.name)
            try:
                report = json.loads((directory / REPORT_FILE).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if match:
                found.append(PastValidation(int(match.group(1)), directory, report))
        return sorted(found, key=lambda v: v.number)

    def before(self, candidate_digest: str | None) -> PastValidation | None:
        """The newest validation of other data than `candidate_digest` (a re-validation of
        the same data is compared with what came before it)."""
        for past in reversed(self.past()):
            if candidate_digest is None or past.candidate_digest != candidate_digest:
                return past
        return None

    def new_directory(self, name: str) -> tuple[int, Path]:
        """The next numbered validation directory, created (a number another validation
        took meanwhile is skipped)."""
        (self.run_dir / VALIDATIONS).mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "dataset"
        while True:
            numbers = [
                int(m.group(1))
                for d in (self.run_dir / VALIDATIONS).iterdir()
                if (m := _NUMBERED.match(d.name))
            ]
            number = max(numbers, default=0) + 1
            directory = self.run_dir / VALIDATIONS / f"{number:02d}-{safe}"
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            return number, directory

    def mark_latest(self, directory: Path) -> Path | None:
        """Point RUN_DIR/latest at `directory` (relative, so the run directory can move);
        None where the file system has no symbolic links."""
        link = self.run_dir / LATEST
        tmp = self.run_dir / f".{LATEST}.tmp"
        try:
            tmp.unlink(missing_ok=True)
            os.symlink(os.path.relpath(directory, self.run_dir), tmp)
            os.replace(tmp, link)
        except OSError:
            return None
        return link
