"""Cascade jobs: `python -m synthos.train +cascade=<profile> ...` as a background subprocess per
validation id, with its progress followed from the sweep's progress.jsonl.

- One job per validation id. Submitting an id that is running joins it; one that completed
  replays it; one that failed, was cancelled or interrupted is launched again, and the
  cascade resumes: finished models are skipped, unfinished ones resume from last.ckpt.
- Each job runs in its own process group. Stopping it (cancel, server shutdown) sends
  SIGINT to the group (Lightning stops at once, checkpoints stay), then SIGKILL after the
  grace period.
- Progress records get a sequence number (their line in progress.jsonl), so a subscriber
  can come back and continue where it left off; after the last record the job's end is
  sent as one more record (event "job_completed", "job_failed", ...).
- State lives in the JobStore (SQLite). On start-up, jobs a shutdown or crash left RUNNING
  or INTERRUPTED are launched again (`resume_interrupted`) or marked FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from serve.config import ServerConfig
from serve.errors import FailedPrecondition, bad_request
from synthos.callbacks.jsonl import JsonlTail, read_jsonl
from synthos.callbacks.progress import PROGRESS_FILE
from synthos.cascade.aggregate import RESULTS_FILE
from synthos.cascade.plan import validation_id as derived_validation_id
from synthos.errors import DataError, ErrorCode, SynthosError
from synthos.report.schema import REPORT_FILE

from .store import JobRecord, JobState, JobStore, utc_now

log = logging.getLogger("serve.cascades")

VALIDATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FAMILIES = ("resonance", "ten")
DATA_GROUP = {"text": "text", "tabular": "tabular", "time_series": "series"}
# Characters a value may not hold on a Hydra command line (quoting, interpolation).
_UNSAFE = re.compile(r"['\\$\n\r]")


@dataclass(frozen=True)
class CascadeSpec:
    """What launches a cascade; stored with the job so a restart can launch it again."""

    dataset_path: str
    modality: str
    profile: str
    family: str = "resonance"
    target_params: int = 0
    level: float = 0.0
    seed: int | None = None
    data_options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CascadeSpec:
        return cls(**data)

    def default_validation_id(self) -> str:
        return derived_validation_id(self.dataset_path, self.profile, self.family)


def quote(value: Any) -> str:
    """A Hydra override value, quoted so commas, spaces and '=' stay literal."""
    text = str(value)
    if _UNSAFE.search(text):
        raise bad_request(f"value {text!r} contains a quote, backslash, '$' or line break")
    return f"'{text}'"


def check_validation_id(value: str) -> str:
    if not VALIDATION_ID.match(value):
        raise bad_request(
            "validation_id must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit; got {value!r}",
            field="validation_id",
        )
    return value


class RunningJob:
    """A launched cascade process and the progress read from its sweep so far."""

    def __init__(self, validation_id: str, sweep_dir: Path) -> None:
        self.validation_id = validation_id
        self.records: list[dict[str, Any]] = []
        self.tail = JsonlTail(sweep_dir / PROGRESS_FILE)
        self.changed = asyncio.Condition()
        self.finished = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.stop_reason: JobState | None = None  # CANCELLED or INTERRUPTED when stopped
        self.monitor: asyncio.Task | None = None

    def read_progress(self) -> bool:
        new = [r for r in self.tail.read_new() if r.get("validation_id") == self.validation_id]
        self.records.extend(new)
        return bool(new)


class CascadeJobs:
    def __init__(self, config: ServerConfig, store: JobStore) -> None:
        self.config = config
        self.store = store
        self.runs_dir = (config.storage / "runs").resolve()
        self.logs_dir = (config.storage / "logs").resolve()
        # The training entry: the package's own Hydra app unless a script is configured.
        self.train_entry = (
            [str(Path(config.train_script))] if config.train_script else ["-m", "synthos.train"]
        )
        self._running: dict[str, RunningJob] = {}
        self._closing = False

    # ------------------------------------------------------------------ lifecycle
    async def recover(self) -> None:
        """Relaunch (or fail) the jobs a shutdown or crash interrupted."""
        for record in self.store.in_states(JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED):
            if _is_cascade_process(record.pid, record.validation_id):
                _kill_group(record.pid)  # a crashed server left it behind
            if not self.config.resume_interrupted:
                record.state = JobState.FAILED
                record.finished_at = utc_now()
                record.failure = SynthosError(
                    ErrorCode.INTERNAL,
                    "the server restarted while this cascade ran; submit it again to resume it",
                ).to_dict()
                self.store.put(record)
            elif len(self._running) < self.config.max_concurrent_cascades:
                log.info(
                    "resuming cascade %s (attempt %d)", record.validation_id, record.attempts + 1
                )
                await self._launch(record)
            else:
                record.state = JobState.INTERRUPTED
                self.store.put(record)

    async def shutdown(self) -> None:
        """Stop every running cascade and leave it INTERRUPTED (resumable)."""
        self._closing = True
        await asyncio.gather(
            *(self._stop(job, JobState.INTERRUPTED) for job in list(self._running.values()))
        )

    @property
    def closing(self) -> bool:
        return self._closing

    # ------------------------------------------------------------------ requests
    async def submit(self, spec: CascadeSpec, validation_id: str) -> tuple[JobRecord, bool]:
        """Start, join, replay or resume the job of `validation_id` (see the module doc);
        the flag says whether this call launched the cascade process."""
        if self._closing:
            raise SynthosError(
                ErrorCode.RESOURCE_BUSY, "the server is shutting down", retry_after_seconds=5
            )
        check_validation_id(validation_id)
        record = self.store.get(validation_id)
        if record is not None and record.spec.get("dataset_path") != spec.dataset_path:
            raise FailedPrecondition(
                f"validation id {validation_id} belongs to another dataset "
                f"({record.spec.get('dataset_path')})",
                validation_id=validation_id,
            )
        if validation_id in self._running or (
            record is not None and record.state == JobState.COMPLETED
        ):
            return record, False
        if len(self._running) >= self.config.max_concurrent_cascades:
            raise SynthosError(
                ErrorCode.RESOURCE_BUSY,
                f"{len(self._running)} cascade(s) running, the server's limit; retry later",
                {"running": len(self._running), "limit": self.config.max_concurrent_cascades},
                retry_after_seconds=self.config.cascade_retry_after_s,
            )
        if record is None:
            record = JobRecord(
                validation_id=validation_id,
                state=JobState.QUEUED,
                spec=spec.to_dict(),
                sweep_dir=str(self.runs_dir / "cascade" / validation_id),
            )
        else:
            record.spec = spec.to_dict()
        await self._launch(record)
        return record, True

    def get(self, validation_id: str) -> JobRecord:
        record = self.store.get(validation_id)
        if record is None:
            raise DataError(
                f"no cascade job with validation id {validation_id!r}",
                code=ErrorCode.DATA_NOT_FOUND,
            )
        return record

    def progress(self, record: JobRecord) -> list[dict[str, Any]]:
        """The job's progress records so far."""
        job = self._running.get(record.validation_id)
        return list(job.records) if job is not None else _read_progress(record)

    async def cancel(self, validation_id: str) -> JobRecord:
        record = self.get(validation_id)
        job = self._running.get(validation_id)
        if job is not None:
            await self._stop(job, JobState.CANCELLED)
        elif record.state in (JobState.QUEUED, JobState.INTERRUPTED):
            record.state = JobState.CANCELLED
            record.finished_at = utc_now()
            self.store.put(record)
        return self.get(validation_id)

    async def follow(
        self, validation_id: str, from_sequence: int = 0
    ) -> AsyncIterator[tuple[int, dict[str, Any] | None, JobState, JobRecord | None]]:
        """(sequence, progress record, job state, None) for every record from
        `from_sequence` on, as they come, then (sequence, None, final state, final job
        record) once the job has ended."""
        record = self.get(validation_id)
        sequence = max(0, from_sequence)
        job = self._running.get(validation_id)
        if job is None:
            records = _read_progress(record)
            for index in range(sequence, len(records)):
                yield index, records[index], record.state, None
            yield max(sequence, len(records)), None, record.state, record
            return
        while True:
            async with job.changed:
                while sequence >= len(job.records) and not job.finished.is_set():
                    await job.changed.wait()
            batch = job.records[sequence:]
            for offset, item in enumerate(batch):
                yield sequence + offset, item, JobState.RUNNING, None
            sequence += len(batch)
            if job.finished.is_set() and sequence >= len(job.records):
                final = self.get(validation_id)
                yield sequence, None, final.state, final
                return

    # ------------------------------------------------------------------ processes
    def command(self, spec: CascadeSpec, validation_id: str) -> list[str]:
        command = [
            sys.executable,
            *self.train_entry,
            f"+cascade={spec.profile}",
            f"data={DATA_GROUP[spec.modality]}",
            f"data.path={quote(spec.dataset_path)}",
            f"cascade.validation_id={validation_id}",
            f"cascade.family={spec.family}",
            f"paths.log_dir={quote(self.runs_dir)}",
            f"paths.data_dir={quote(self.config.storage.resolve() / 'data')}",
        ]
        if spec.target_params:
            command.append(f"cascade.target_params={int(spec.target_params)}")
        if spec.level:
            command.append(f"cascade.level={float(spec.level)}")
        if spec.seed is not None:
            command.append(f"seed={int(spec.seed)}")
        for key, value in sorted(spec.data_options.items()):
            command.append(f"data.{key}={value if isinstance(value, int) else quote(value)}")
        return [*command, *self.config.cascade_overrides]

    async def _launch(self, record: JobRecord) -> None:
        spec = CascadeSpec.from_dict(record.spec)
        job = RunningJob(record.validation_id, Path(record.sweep_dir))
        job.read_progress()
        # Registered before the first await, so a concurrent submit joins instead of
        # launching a second process, and counts against the limit.
        self._running[record.validation_id] = job
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{record.validation_id}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("WANDB_MODE", "disabled")
        try:
            with open(log_path, "ab") as log_file:
                job.process = await asyncio.create_subprocess_exec(
                    *self.command(spec, record.validation_id),
                    cwd=str(self.runs_dir),
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
        except BaseException:
            self._running.pop(record.validation_id, None)
            job.finished.set()
            raise
        record.state = JobState.RUNNING
        record.attempts += 1
        record.pid = job.process.pid
        record.started_at = utc_now()
        record.finished_at = ""
        record.exit_code = None
        record.failure = None
        self.store.put(record)
        log.info(
            "cascade %s started (pid %d, attempt %d, log %s)",
            record.validation_id,
            job.process.pid,
            record.attempts,
            log_path,
        )
        # The task is kept on the job: the event loop holds only weak references.
        job.monitor = asyncio.create_task(
            self._monitor(job), name=f"cascade-{record.validation_id}"
        )

    async def _monitor(self, job: RunningJob) -> None:
        process = job.process
        assert process is not None
        try:
            while process.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), timeout=self.config.progress_poll_s)
                if job.read_progress():
                    async with job.changed:
                        job.changed.notify_all()
            job.read_progress()
            _kill_group(process.pid)  # nothing of the cascade may outlive it
            self._finish(job, process.returncode)
        except Exception:
            log.exception("monitoring cascade %s failed", job.validation_id)
            self._finish(job, process.returncode if process.returncode is not None else -1)
        finally:
            self._running.pop(job.validation_id, None)
            job.finished.set()
            async with job.changed:
                job.changed.notify_all()

    def _finish(self, job: RunningJob, exit_code: int) -> None:
        record = self.get(job.validation_id)
        record.exit_code = exit_code
        record.finished_at = utc_now()
        sweep_dir = Path(record.sweep_dir)
        report_path = sweep_dir / REPORT_FILE
        if job.stop_reason is not None:
            record.state = job.stop_reason
        elif exit_code == 0 and report_path.is_file():
            record.state = JobState.COMPLETED
            record.report = json.loads(report_path.read_text())
            results_path = sweep_dir / RESULTS_FILE
            record.results = (
                json.loads(results_path.read_text()) if results_path.is_file() else None
            )
        else:
            record.state = JobState.FAILED
            record.failure = SynthosError(
                ErrorCode.MODEL_DIVERGED if exit_code == 0 else ErrorCode.INTERNAL,
                f"the cascade process exited with status {exit_code} without a report; "
                f"its output is in the server's logs/{job.validation_id}.log",
                {"exit_code": exit_code},
            ).to_dict()
        self.store.put(record)
        log.info(
            "cascade %s ended: %s (exit %s)", record.validation_id, record.state.value, exit_code
        )

    async def _stop(self, job: RunningJob, reason: JobState) -> None:
        """SIGINT to the job's process group, SIGKILL after the grace period."""
        job.stop_reason = reason
        process = job.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                await asyncio.wait_for(job.finished.wait(), timeout=self.config.shutdown_grace_s)
            except asyncio.TimeoutError:
                _kill_group(process.pid)
        await job.finished.wait()


def _kill_group(pid: int) -> None:
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _is_cascade_process(pid: int, validation_id: str) -> bool:
    """Whether `pid` is still a cascade process of this job (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return pid > 0 and f"cascade.validation_id={validation_id}".encode() in cmdline


def _read_progress(record: JobRecord) -> list[dict[str, Any]]:
    path = Path(record.sweep_dir) / PROGRESS_FILE
    return [r for r in read_jsonl(path) if r.get("validation_id") == record.validation_id]


__all__ = ["FAMILIES", "CascadeJobs", "CascadeSpec", "check_validation_id", "quote"]
