import math

import pytest
import torch

from synthos.callbacks import GradientStats
from tests.callbacks.micro import FAMILIES, ScaledLossLM, lm, loaders, trainer


def fit_scaled(scale: float, tmp_path, steps: int = 6, **kw) -> tuple[GradientStats, dict]:
    torch.manual_seed(0)
    module = lm(FAMILIES["resonance"](), lr=1e-4, cls=ScaledLossLM)
    module.scale = scale
    stats = GradientStats(**kw)
    run = trainer(
        [stats],
        tmp_path,
        max_steps=steps,
        limit_val_batches=0,
        log_every_n_steps=1,
        gradient_clip_val=1.0,  # norms are read before clipping, so it hides nothing
    )
    run.fit(module, loaders("pattern", n_train=160)[0])
    return stats, {k: float(v) for k, v in run.callback_metrics.items() if k.startswith("grad/")}


def test_healthy_gradients_raise_no_flag(tmp_path):
    stats, logged = fit_scaled(1.0, tmp_path)
    latest = stats.latest
    assert not latest["vanishing"] and not latest["exploding"]
    assert 0 < latest["min_param_norm"] <= latest["max_param_norm"] <= latest["total_norm"]
    assert latest["steps_checked"] == 6 and latest["exploding_steps"] == 0
    assert logged["grad/total_norm"] == pytest.approx(latest["total_norm"], rel=1e-5)
    assert logged["grad/exploding"] == 0.0 and logged["grad/vanishing"] == 0.0


def test_scaled_loss_is_flagged_exploding(tmp_path):
    stats, logged = fit_scaled(1e6, tmp_path)
    assert stats.latest["exploding"] and not stats.latest["vanishing"]
    assert stats.latest["total_norm"] > 1e3
    assert stats.latest["exploding_steps"] == 6 and stats.latest["first_exploding_step"] == 0
    assert logged["grad/exploding"] == 1.0


def test_non_finite_gradients_are_exploding(tmp_path):
    stats, _ = fit_scaled(math.inf, tmp_path, steps=1)
    assert stats.latest["exploding"] and stats.latest["nonfinite_steps"] == 1
    assert stats.latest["mean_total_norm"] is None


def test_zeroed_gradients_are_flagged_vanishing(tmp_path):
    stats, logged = fit_scaled(0.0, tmp_path)
    assert stats.latest["vanishing"] and not stats.latest["exploding"]
    assert stats.latest["total_norm"] == 0.0 and stats.latest["vanishing_steps"] == 6
    assert logged["grad/vanishing"] == 1.0


def test_thresholds_are_configurable(tmp_path):
    stats, _ = fit_scaled(1.0, tmp_path, steps=2, exploding_threshold=1e-9)
    assert stats.latest["exploding"]
    stats, _ = fit_scaled(1.0, tmp_path, steps=2, vanishing_threshold=1e9)
    assert stats.latest["vanishing"]
