"""The aggregate's W&B run (offline): a job table and the scaling-fit plot."""

from __future__ import annotations

import json

from synthos.cascade.aggregate import aggregate_sweep
from synthos.cascade.wandb_summary import log_cascade_summary


def _fake_sweep(root):
    """Finished jobs whose held-out loss falls with size and tokens as a power law."""
    sizes = {1: 1e5, 2: 4e5, 3: 1.6e6}
    for tier, variants in ((1, 3), (2, 2), (3, 2)):
        for variant in range(variants):

            def loss(tokens, tier=tier, variant=variant):
                return 2.0 + 30.0 * sizes[tier] ** -0.3 + 50 * tokens**-0.3 + 0.01 * variant

            points = [
                {
                    "steps": t // 100,
                    "tokens": t,
                    "rows": 100,
                    "final": t == 800_000,
                    "metrics": {"loss": loss(t), "loss_se": 0.01},
                }
                for t in (100_000, 200_000, 400_000, 800_000)
            ]
            job = root / f"t{tier}v{variant}"
            job.mkdir(parents=True)
            record = {
                "status": "completed",
                "parameters": int(sizes[tier]),
                "task": {"kind": "language_model"},
                "metrics": {"test/loss": loss(800_000)},
                "budget_points": {"points": points},
                "seconds": 1.0,
            }
            (job / "metrics.json").write_text(json.dumps(record))
    return root


def test_summary_run_logs_job_table_and_plot_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    sweep = _fake_sweep(tmp_path / "sweep")
    results = aggregate_sweep(sweep, target_params=10_000_000, validation_id="v-test")
    assert results["prediction"]["loss"]["predicted"] > 2.0
    run_dir = log_cascade_summary(results, save_dir=tmp_path / "wb", tags=["cascade"])
    assert run_dir is not None and "offline-run-" in run_dir
    files = tmp_path / "wb" / "wandb"
    (run,) = files.glob("offline-run-*")
    assert list(run.glob("*.wandb")), "no offline run file"
    tables = list(run.glob("files/media/table/cascade/jobs_*.table.json"))
    assert tables, sorted(p.relative_to(run) for p in run.rglob("*") if p.is_file())
    table = json.loads(tables[0].read_text())
    assert table["columns"][:2] == ["job", "tier"]
    assert sorted(row[0] for row in table["data"]) == sorted(j["job"] for j in results["jobs"])
    assert list(run.glob("files/media/images/cascade/scaling_fit_*.png"))


def test_disabled_wandb_logs_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    results = aggregate_sweep(_fake_sweep(tmp_path / "sweep"), target_params=10_000_000)
    assert log_cascade_summary(results, save_dir=tmp_path / "wb") is None
    assert not (tmp_path / "wb" / "wandb").exists()
