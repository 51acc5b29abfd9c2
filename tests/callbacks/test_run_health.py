import json
import math

import pytest
import torch
from torch.utils.data import DataLoader

from synthos.callbacks import GradientStats, ProgressStream, RunHealthMonitor, read_jsonl
from synthos.callbacks.run_health import VERDICT_FILE, unigram_entropy
from synthos.errors import ErrorCode, ModelError
from tests.callbacks.micro import (
    FAMILIES,
    ConstantNN,
    DivergingLM,
    NaNAfterLM,
    OverconfidentNN,
    forecaster,
    lm,
    loaders,
    sine_windows,
    trainer,
)


def fit(module, data: str, tmp_path, monitor: RunHealthMonitor | None = None, **kw):
    monitor = monitor or RunHealthMonitor()
    run = trainer([monitor], tmp_path, **kw)
    run.fit(module, *loaders(data, n_train=kw.get("max_steps", 60) * 16))
    return monitor, run


def saved_verdict(tmp_path) -> dict:
    return json.loads((tmp_path / VERDICT_FILE).read_text())


@pytest.mark.parametrize("family", ["resonance", "ten"])
def test_healthy_run_on_a_learnable_pattern_is_not_flagged(family, tmp_path):
    torch.manual_seed(0)
    monitor, run = fit(lm(FAMILIES[family]()), "pattern", tmp_path)
    assert run.callback_metrics["val/loss"] < 1.0
    assert monitor.verdict["collapsed"] is False and monitor.verdict["reasons"] == []
    assert saved_verdict(tmp_path) == json.loads(json.dumps(monitor.verdict))
    assert run.global_step == 60


def test_random_tokens_are_flagged_stuck_at_the_trivial_loss(tmp_path):
    torch.manual_seed(0)
    monitor, run = fit(lm(FAMILIES["resonance"]()), "random", tmp_path)
    verdict = monitor.verdict
    assert verdict["collapsed"] and verdict["reasons"] == ["trivial_loss"]
    details = verdict["details"]["trivial_loss"]
    # The unigram entropy of uniform tokens is ln V (up to sampling noise).
    assert details["trivial_level"] == pytest.approx(math.log(64), abs=0.01)
    assert details["val_loss"] >= 0.98 * details["trivial_level"]
    # Judged only after the warm-up (30 % of 60 steps): the first check is at step 20.
    assert verdict["first_collapse_step"] == 20
    assert verdict["stopped"] is False and run.global_step == 60
    assert saved_verdict(tmp_path)["collapsed"] is True


def test_constant_output_model_is_flagged_rank_collapsed(tmp_path):
    torch.manual_seed(0)
    monitor, _ = fit(
        lm(ConstantNN(**FAMILIES["resonance"]().config.to_dict())), "pattern", tmp_path
    )
    reasons = monitor.verdict["reasons"]
    assert "rank_collapse" in reasons and "trivial_loss" in reasons
    assert monitor.verdict["details"]["rank_collapse"]["effective_rank"] < 1.0


def test_overconfident_wrong_model_is_flagged_entropy_collapse(tmp_path):
    torch.manual_seed(0)
    net = OverconfidentNN(**FAMILIES["resonance"]().config.to_dict())
    monitor, _ = fit(lm(net, lr=1e-6), "random", tmp_path, max_steps=20)
    details = monitor.verdict["details"]["entropy_collapse"]
    assert details["predictive_entropy"] < 0.05 and details["val_loss"] > math.log(64)


def test_stop_on_collapse_stops_the_run_early(tmp_path):
    torch.manual_seed(0)
    monitor = RunHealthMonitor(stop_on_collapse=True)
    _, run = fit(lm(FAMILIES["ten"]()), "random", tmp_path, monitor=monitor, max_steps=200)
    # Warm-up ends at 60 steps; the validation at step 60 flags and stops the run.
    assert run.global_step == 60
    assert monitor.verdict["stopped"] and saved_verdict(tmp_path)["stopped"]


def test_divergence_is_flagged_and_sticky(tmp_path):
    torch.manual_seed(0)
    monitor = RunHealthMonitor(check_every_n_steps=5)
    module = lm(FAMILIES["resonance"](), cls=DivergingLM)
    monitor, _ = fit(module, "pattern", tmp_path, monitor=monitor, max_steps=80)
    assert "divergence" in monitor.verdict["reasons"]
    assert monitor.verdict["details"]["divergence"]["step"] > 40


def test_divergence_rule_on_loss_sequences():
    def run(losses):
        monitor = RunHealthMonitor()
        for step, loss in enumerate(losses):
            monitor._check_train_loss(loss, step)
        return "divergence" in monitor._sticky

    converging = [4.0 * 0.8**i for i in range(40)]
    assert not run(converging)
    # A converged loss wobbling between 0.005 and 0.02 is not a divergence...
    assert not run(converging + [0.005, 0.02] * 20)
    # ...but climbing back most of the way to where it started is.
    assert run(converging + [3.0] * 10)
    # So is a loss that only ever grows.
    assert run([1.0 * 1.5**i for i in range(20)])


def test_non_finite_loss_is_recorded_when_the_run_fails(tmp_path):
    monitor = RunHealthMonitor()
    with pytest.raises(ModelError) as failure:
        fit(lm(FAMILIES["resonance"](), cls=NaNAfterLM), "pattern", tmp_path, monitor=monitor)
    assert failure.value.code == ErrorCode.MODEL_DIVERGED
    verdict = saved_verdict(tmp_path)
    assert verdict["collapsed"] and verdict["reasons"] == ["non_finite"]
    assert verdict["details"]["non_finite"]["step"] == 5


def test_non_finite_gradients_count_as_non_finite(tmp_path):
    module = lm(FAMILIES["resonance"]())
    module.net.norm.weight.register_hook(lambda grad: grad * math.nan)  # finite loss
    monitor = RunHealthMonitor(check_every_n_steps=1)
    run = trainer([GradientStats(), monitor], tmp_path, max_steps=1, limit_val_batches=0)
    run.fit(module, loaders("pattern", n_train=32)[0])
    assert monitor.verdict["reasons"] == ["non_finite"]
    assert monitor.verdict["details"]["non_finite"]["source"] == "gradients"


def test_verdict_path_is_configurable(tmp_path):
    path = tmp_path / "elsewhere" / "verdict.json"
    monitor = RunHealthMonitor(verdict_path=str(path))
    fit(lm(FAMILIES["resonance"]()), "pattern", tmp_path, monitor=monitor, max_steps=20)
    assert json.loads(path.read_text())["step"] == 20
    assert not (tmp_path / VERDICT_FILE).exists()


def test_unigram_entropy_estimate():
    counts = torch.bincount(torch.randint(0, 64, (20000,)), minlength=64)
    assert unigram_entropy(counts) == pytest.approx(math.log(64), abs=0.005)
    assert unigram_entropy(torch.tensor([10, 0, 0])) == 0.0


@pytest.mark.parametrize("signal", ["sine", "white_noise"])
def test_forecaster_trivial_rule(signal, tmp_path):
    torch.manual_seed(0)
    if signal == "sine":
        train, val = sine_windows(960, 33, 0.05, seed=1), sine_windows(64, 33, 0.05, seed=2)
    else:
        g = torch.Generator().manual_seed(1)
        train, val = torch.randn(960, 33, 1, generator=g), torch.randn(64, 33, 1, generator=g)
    monitor = RunHealthMonitor()
    run = trainer([monitor], tmp_path, max_steps=60)
    run.fit(forecaster(), DataLoader(train, batch_size=16), DataLoader(val, batch_size=16))
    if signal == "sine":
        assert monitor.verdict["reasons"] == []
    else:  # nothing to forecast: no better than forecasting the window's mean
        assert monitor.verdict["reasons"] == ["trivial_loss"]
        assert "mean_forecast_level" in monitor.verdict["details"]["trivial_loss"]


@pytest.mark.timeout(240)  # ranks that disagree would hang in the next collective
def test_ddp_ranks_agree_to_stop_when_only_rank_zero_sees_collapse(tmp_path):
    from tests.callbacks.micro import RankZeroAlarm

    torch.manual_seed(0)
    monitor = RankZeroAlarm(str(tmp_path), at=4, stop_on_collapse=True, check_every_n_steps=2)
    progress = tmp_path / "progress.jsonl"
    stream = ProgressStream("v", 3, 0, models_total=1, jsonl_path=str(progress), interval_s=0.5)
    run = trainer(
        [stream, GradientStats(), monitor],
        tmp_path,
        max_steps=100,
        strategy="ddp_spawn",
        devices=2,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    run.fit(lm(FAMILIES["resonance"]()), loaders("pattern", n_train=1600)[0])
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # Both stopped at the first check that saw the signal (a rank left running would hang).
    assert [r["step"] for r in ranks] == [4, 4]
    assert ranks[0]["verdict"]["reasons"] == ["injected"]
    assert ranks[1]["verdict"]["reasons"] == ["other_rank"]
    assert all(r["verdict"]["stopped"] for r in ranks)
    assert saved_verdict(tmp_path)["reasons"] == ["injected"]  # rank 0 writes the file
    # The callbacks survive pickling into the workers; only rank 0 reports progress.
    ends = [r for r in read_jsonl(progress) if r["event"] != "progress"]
    assert len(ends) == 1 and ends[0]["event"] == "model_finished"
    assert ends[0]["result"]["run_health"] == {
        "collapsed": True,
        "reasons": ["injected"],
        "step": 4,
        "stopped": True,
    }
