"""TrainCascade and the cascade jobs on the smoke cascade (slow: each test trains)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from serve import convert
from serve.client import RemoteError
from serve.generated import validation_engine_pb2 as v1
from serve.jobs.store import JobState, JobStore
from synthos.callbacks.jsonl import read_jsonl
from synthos.report.schema import read_report
from tests.serve.conftest import (
    CASCADE_OVERRIDES,
    ServerProcess,
    ServerThread,
    connect,
    free_port,
    server_config,
)

pytestmark = pytest.mark.slow

# The first tier trains "forever": the job is still running when the test acts on it.
ENDLESS = (*CASCADE_OVERRIDES, "cascade.tiers.0.trainer.max_steps=100000")
STATE = v1.JobState


def cascade_processes(validation_id: str) -> list[int]:
    """Live processes of this cascade (its command line names the validation id)."""
    marker = f"cascade.validation_id={validation_id}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def first_progress(stream) -> v1.CascadeProgress:
    for message in stream:
        if message.event == "progress":
            return message
    raise AssertionError("the stream ended before any progress")


def test_train_cascade_streams_progress_and_predictions_equal_the_report(server, client, text_data):
    messages = list(client.train_cascade(str(text_data), "smoke", validation_id="served"))
    final = messages[-1]
    assert (final.event, final.state) == ("job_completed", STATE.JOB_STATE_COMPLETED)
    assert final.error.code == 0 and final.progress_percent == pytest.approx(100.0)

    sweep = server.config.storage / "runs" / "cascade" / "served"
    records = read_jsonl(sweep / "progress.jsonl")
    assert len(messages) == len(records) + 1
    for sequence, (message, record) in enumerate(zip(messages, records, strict=False)):
        expected = convert.progress(record, sequence, STATE.JOB_STATE_RUNNING)
        assert message == expected
    finished = [m for m in messages if m.event == "model_finished"]
    assert len(finished) == 5 and all(m.result.status == "completed" for m in finished)
    assert all(m.result.loss_curve and "val/loss" in m.result.metrics for m in finished)

    report = read_report(sweep / "report.json")
    assert final.report == convert.report(report)
    predictions = client.get_predictions("served")
    expected = report["prediction"]
    assert predictions.prediction.metric == expected["metric"] == "test/loss"
    for key in ("predicted", "lower", "upper", "level"):
        assert getattr(predictions.prediction, key) == expected[key]
    assert predictions.prediction.target_tokens == expected["target_tokens"]
    for key in ("predicted", "lower", "upper"):
        assert getattr(predictions.prediction.loss, key) == expected["loss"][key]
    assert predictions.prediction.law.form == expected["law"]["form"]
    fitted = {k: v for k, v in expected["law"]["params"].items() if v is not None}
    assert dict(predictions.prediction.law.params) == fitted
    assert predictions.prediction.degenerate == expected["degenerate"]
    results = json.loads((sweep / "cascade_results.json").read_text())
    assert predictions.models_completed == results["models_completed"] == 5
    assert [m.job for m in predictions.models] == [j["job"] for j in results["jobs"]]

    # DetectCollapse reads the cascade of a validation id, as the library does.
    from synthos.analysis.collapse import CollapseConfig, detect_collapse

    verdict = client.detect_collapse(str(text_data), validation_id="served")
    local = detect_collapse(str(text_data), cascade=sweep, config=CollapseConfig(threads=1))
    stability = local.dimension("training_stability")
    served = {d.name: d for d in verdict.dimensions}["training_stability"]
    assert served.evaluated and stability.evaluated
    assert served.score == stability.score
    assert verdict.risk_score == local.risk_score

    # A later subscriber gets the same records from where it asks, then the end.
    again = list(client.watch_cascade("served", from_sequence=2))
    assert [m.sequence for m in again] == [m.sequence for m in messages[2:]]
    assert again[-1].report == final.report
    # The same request again replays the finished job instead of training.
    replay = list(client.train_cascade(str(text_data), "smoke", validation_id="served"))
    assert replay[-1].event == "job_completed"
    status = client.cascade_status("served").job
    assert (status.state, status.attempts) == (STATE.JOB_STATE_COMPLETED, 1)
    assert status.progress_records == len(records) and status.models_completed == 5


def test_cancelling_the_stream_or_calling_cancel_stops_training(
    certs, data_root, text_data, tmp_path
):
    running = ServerThread(server_config(certs, data_root, tmp_path, cascade_overrides=ENDLESS))
    try:
        with connect(running.target, certs) as remote:
            stream = remote.train_cascade(str(text_data), "smoke", validation_id="cancel-me")
            first_progress(iter(stream))
            assert cascade_processes("cancel-me")
            # One cascade at a time on this server: a second one must wait.
            with pytest.raises(RemoteError) as busy:
                list(remote.train_cascade(str(text_data), "smoke", validation_id="other"))
            assert busy.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert busy.value.error.retryable and busy.value.error.retry_after_seconds == 60

            stream.cancel()
            wait_for(
                lambda: remote.cascade_status("cancel-me").job.state == STATE.JOB_STATE_CANCELLED,
                30,
                "the job to be cancelled",
            )
            wait_for(lambda: not cascade_processes("cancel-me"), 15, "training to stop")

            # A detached job survives its stream; CancelCascade stops it.
            detached = remote.train_cascade(
                str(text_data), "smoke", validation_id="detached", detach=True
            )
            first_progress(iter(detached))
            detached.cancel()
            time.sleep(2)
            assert remote.cascade_status("detached").job.state == STATE.JOB_STATE_RUNNING
            assert cascade_processes("detached")
            response = remote.cancel_cascade("detached")
            assert response.job.state == STATE.JOB_STATE_CANCELLED
            assert not cascade_processes("detached")
    finally:
        running.stop()


def test_a_restarted_server_still_has_the_job_and_resumes_it(certs, data_root, text_data, tmp_path):
    storage = tmp_path / "storage"
    config_file = tmp_path / "serve.yaml"
    config_file.write_text(
        json.dumps(
            {
                "listen": f"127.0.0.1:{free_port()}",
                "tls_cert": str(certs.server_cert),
                "tls_key": str(certs.server_key),
                "tls_client_ca": str(certs.ca_cert),
                "data_roots": [str(data_root)],
                "storage_dir": str(storage),
                "cascade_overrides": list(ENDLESS),
                "shutdown_grace_s": 5,
                "progress_poll_s": 0.2,
            }
        )
    )
    process = ServerProcess(config_file, certs, tmp_path / "server.log")
    process.start()
    try:
        with connect(process.target, certs) as remote:
            stream = remote.train_cascade(
                str(text_data), "smoke", validation_id="restart-me", detach=True
            )
            before = first_progress(iter(stream))
            stream.cancel()
        assert process.terminate() == 0  # SIGTERM: graceful
        assert not cascade_processes("restart-me"), "a shutdown must stop the cascade"
        store = JobStore(storage / "jobs.sqlite3")
        assert store.get("restart-me").state == JobState.INTERRUPTED
        store.close()

        process.start()
        with connect(process.target, certs) as remote:
            job = remote.cascade_status("restart-me").job
            assert (job.state, job.attempts) == (STATE.JOB_STATE_RUNNING, 2)
            assert job.progress_records > before.sequence
            assert cascade_processes("restart-me")
            replay = remote.watch_cascade("restart-me")
            assert first_progress(iter(replay)) == before
            replay.cancel()

        # A crash leaves the cascade running on its own; the next start replaces it.
        orphans = set(cascade_processes("restart-me"))
        process.process.kill()
        process.process.wait(30)
        assert orphans and orphans <= set(cascade_processes("restart-me"))
        process.start()
        with connect(process.target, certs) as remote:
            job = remote.cascade_status("restart-me").job
            assert (job.state, job.attempts) == (STATE.JOB_STATE_RUNNING, 3)
            assert not orphans & set(cascade_processes("restart-me"))
            assert remote.cancel_cascade("restart-me").job.state == STATE.JOB_STATE_CANCELLED
    finally:
        if process.process.poll() is None:
            process.terminate()
