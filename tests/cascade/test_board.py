"""The cascade board: records folded into models done / running, and an ETA that prices the
tiers still to come by their compute per step."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from synthos.cascade.board import CascadeBoard, TierPlan, _cost_exponent

T0 = 1_800_000_000.0


def record(tier, variant, at, step, event="progress", total=100, **result):
    stamp = datetime.fromtimestamp(T0 + at, tz=timezone.utc).isoformat()
    out = {
        "tier": tier,
        "variant": variant,
        "timestamp": stamp,
        "event": event,
        "step": step,
        "total_steps": total,
        "current_loss": 2.0 - step / 100,
    }
    if event != "progress":
        out["result"] = {"status": "failed" if event == "model_failed" else "completed", **result}
    return out


def plans(cost2=4.0, cost3=16.0):
    return [
        TierPlan(tier=1, variants=2, max_steps=100, step_cost=1.0),
        TierPlan(tier=2, variants=2, max_steps=100, step_cost=cost2),
        TierPlan(tier=3, variants=1, max_steps=50, step_cost=cost3),
    ]


def run_model(board, tier, variant, start, seconds_per_step, steps=100, event="model_finished"):
    board.update(record(tier, variant, start, 0, total=steps))
    board.update(
        record(tier, variant, start + steps * seconds_per_step / 2, steps // 2, total=steps)
    )
    end = start + steps * seconds_per_step
    return board.update(record(tier, variant, end, steps, event=event, total=steps)), end


def test_records_fold_into_done_running_and_failed():
    board = CascadeBoard(plans(), started=T0)
    assert board.models_total == 5 and board.models_done == 0
    assert board.eta(T0) is None  # nothing measured yet
    finished, end = run_model(board, 1, 0, 1.0, 0.1)
    assert finished.name == "t1v0" and finished.status == "completed"
    failed = board.update(
        record(
            1,
            1,
            end + 1,
            0,
            event="model_failed",
            error={"code": 2003, "message": "bad checkpoint"},
        )
    )
    assert failed.status == "failed" and board.models_done == 2
    board.update(record(2, 0, end + 3, 10))
    assert [m.name for m in board.running] == ["t2v0"]
    assert board.models[(2, 0)].step == 10 and board.models[(2, 0)].loss == pytest.approx(1.9)
    assert board.update({"tier": "x"}) is None  # a malformed record changes nothing
    assert board.models_done == 2


def test_eta_prices_unstarted_tiers_by_compute_per_step():
    board = CascadeBoard(plans(), started=T0)
    _, end = run_model(board, 1, 0, 0.0, 0.1)  # 10 s of training
    _, end = run_model(board, 1, 1, end + 2.0, 0.1)  # 2 s between models
    assert board.seconds_per_step()[1] == pytest.approx(0.1)
    assert board.overhead() == pytest.approx(2.0)
    # One measured tier: seconds per step grow as compute ** PRIOR_EXPONENT (0.5).
    tier2 = 2 * (2.0 + 100 * 0.1 * 4.0**0.5)
    tier3 = 2.0 + 50 * 0.1 * 16.0**0.5
    assert board.remaining_seconds(T0 + end) == pytest.approx(tier2 + tier3)
    naive = 3 * 10.0  # models left x mean duration so far: what the old ETA said
    assert board.remaining_seconds(T0 + end) > 2 * naive


def test_eta_reprices_a_tier_once_its_model_runs_and_fits_the_exponent():
    board = CascadeBoard(plans(), started=T0)
    _, end = run_model(board, 1, 0, 0.0, 0.1)
    _, end = run_model(board, 1, 1, end + 2.0, 0.1)
    # Tier 2 turns out to take 0.2 s per step (not 0.4): its running model says so.
    board.update(record(2, 0, end + 2.0, 0))
    board.update(record(2, 0, end + 2.0 + 60 * 0.2, 60))
    assert board.seconds_per_step()[2] == pytest.approx(0.2)
    assert _cost_exponent([(1.0, 0.1), (4.0, 0.2)]) == pytest.approx(0.5)
    running = 40 * 0.2
    pending_tier2 = 2.0 + 100 * 0.2
    tier3 = 2.0 + 50 * 0.2 * (16.0 / 4.0) ** 0.5
    assert board.remaining_seconds(T0 + end + 14.0) == pytest.approx(
        running + pending_tier2 + tier3
    )


def test_a_resumed_model_is_timed_from_its_new_start():
    board = CascadeBoard(plans(), started=T0 + 1000)
    run_model(board, 1, 0, 0.0, 5.0, event="model_failed")  # an earlier launch, slow
    board.update(record(1, 0, 1000.0, 40))
    board.update(record(1, 0, 1004.0, 80))
    assert board.models[(1, 0)].status == "running"
    assert board.seconds_per_step()[1] == pytest.approx(0.1)
    assert board.overhead() == 0.0  # no gap across launches


@pytest.mark.parametrize(
    ("points", "exponent"),
    [
        ([(1.0, 0.3)], 0.5),
        ([(1.0, 0.1), (8.0, 0.8)], 1.0),
        ([(1.0, 0.5), (8.0, 0.25)], 0.0),  # slower small tier: clamped, never negative
        ([(1.0, 0.1), (2.0, 1.0)], 1.5),  # clamped above
    ],
)
def test_cost_exponent(points, exponent):
    assert _cost_exponent(points) == pytest.approx(exponent)


def test_parallel_slots_share_the_pending_models():
    sequential = CascadeBoard(plans(), started=T0)
    parallel = CascadeBoard(plans(), started=T0, parallel=2)
    for board in (sequential, parallel):
        _, end = run_model(board, 1, 0, 0.0, 0.1)
        board.update(record(1, 1, end + 2.0, 0))
        board.update(record(1, 1, end + 3.0, 10))
    now = T0 + end + 3.0
    running = 90 * 0.1
    pending = 2 * (2.0 + 100 * 0.2) + 2.0 + 50 * 0.1 * 4.0
    assert sequential.remaining_seconds(now) == pytest.approx(running + pending)
    assert parallel.remaining_seconds(now) == pytest.approx(running + pending / 2)


def test_a_running_model_is_projected_with_the_time_profile_of_finished_ones():
    board = CascadeBoard(plans(), started=T0)
    # Tier 1 spends half its time in the first fifth of its steps (evaluations come early).
    for at, step in ((0.0, 0), (10.0, 20), (20.0, 100)):
        board.update(record(1, 0, at, step, event="progress" if step < 100 else "model_finished"))
    assert board.models[(1, 0)].time_share_at(0.2) == pytest.approx(0.5)
    assert board.models[(1, 0)].time_share_at(0.6) == pytest.approx(0.75)
    board.update(record(2, 0, 22.0, 0))
    board.update(record(2, 0, 52.0, 20))  # 30 s for a fifth of the steps
    now = T0 + 52.0
    assert board.tier_seconds(now)[2] == pytest.approx(60.0)  # not 150 (steps alone)
    assert board.remaining_seconds(now) >= 30.0
