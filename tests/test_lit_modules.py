import pytest
import torch

from synthos.forecast_windows import forecast_targets, seasonal_naive
from synthos.lit_modules import ForecastingModule, LanguageModelModule, build_module
from synthos.lit_modules.forecaster import ForecastSkill
from synthos.lit_modules.optim import (
    OptimConfig,
    parameter_groups,
    warmup_cosine,
    warmup_stable_decay,
)
from synthos.models import ResonanceNN
from synthos.task import TaskSpec


def test_seasonal_naive_repeats_last_season():
    # history 0..9 with season 4: the last season is 6, 7, 8, 9.
    history = torch.arange(10.0).view(1, 10, 1)
    naive = seasonal_naive(history, horizon=6, season=4)
    assert naive.flatten().tolist() == [6.0, 7.0, 8.0, 9.0, 6.0, 7.0]


def test_seasonal_naive_with_season_one_is_last_value():
    history = torch.tensor([[[1.0], [5.0], [3.0]]])
    assert seasonal_naive(history, horizon=3, season=1).flatten().tolist() == [3.0, 3.0, 3.0]


def test_forecast_targets_are_the_next_horizon_values():
    window = torch.arange(8.0).view(1, 8, 1)  # context 5, horizon 3
    targets = forecast_targets(window, context=5, horizon=3)
    assert targets.shape == (1, 5, 3, 1)
    assert targets[0, 0].flatten().tolist() == [1.0, 2.0, 3.0]
    assert targets[0, 4].flatten().tolist() == [5.0, 6.0, 7.0]


def test_forecast_skill():
    actual = torch.tensor([[1.0, 2.0]])
    naive = torch.tensor([[0.0, 0.0]])  # squared error 5
    skill = ForecastSkill()
    skill.update(actual.clone(), naive, actual)
    assert skill.compute().item() == pytest.approx(1.0)
    skill = ForecastSkill()
    skill.update(torch.tensor([[2.0, 2.0]]), naive, actual)  # squared error 1
    assert skill.compute().item() == pytest.approx(1 - 1 / 5)


def test_warmup_stable_decay_schedule():
    # 100 steps, 20 % cooldown: warmup to 1, flat until step 80, then linear towards 0.
    assert warmup_stable_decay(0, 10, 100, 0.2) == pytest.approx(0.1)
    assert warmup_stable_decay(10, 10, 100, 0.2) == 1.0
    assert warmup_stable_decay(80, 10, 100, 0.2) == 1.0
    assert warmup_stable_decay(90, 10, 100, 0.2) == pytest.approx(0.5)
    assert warmup_stable_decay(99, 10, 100, 0.2) == pytest.approx(0.05)


def test_warmup_cosine_schedule():
    assert warmup_cosine(0, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert warmup_cosine(100, 10, 100, 0.1) == pytest.approx(0.1)


def test_norms_and_vectors_are_not_decayed():
    net = ResonanceNN(vocab_size=32, d_model=16, n_layers=1, n_heads=2, n_freqs=4)
    decay, _ = parameter_groups(net, 0.1)
    decayed = {id(p) for p in decay["params"]}
    for name, param in net.named_parameters():
        if "norm" in name or param.dim() < 2:
            assert id(param) not in decayed, name
    assert id(net.io.embedding.weight) in decayed


def test_build_module_picks_module_by_task():
    lm = build_module(TaskSpec(vocab_size=32), ResonanceNN(vocab_size=32, d_model=16, n_heads=2))
    assert isinstance(lm, LanguageModelModule)
    task = TaskSpec(kind="forecasting", n_features=2, horizon=3, season_length=4)
    net = ResonanceNN(vocab_size=None, n_features=2, horizon=3, d_model=16, n_heads=2)
    fc = build_module(task, net, OptimConfig(lr=1e-3))
    assert isinstance(fc, ForecastingModule) and fc.optim.lr == 1e-3


def test_forecaster_is_invariant_to_series_level_and_scale():
    torch.manual_seed(0)
    task = TaskSpec(kind="forecasting", n_features=1, horizon=4, season_length=6)
    net = ResonanceNN(vocab_size=None, n_features=1, horizon=4, d_model=16, n_heads=2)
    module = build_module(task, net)
    history = torch.randn(2, 24, 1)
    base = module.forecast(history)
    shifted = module.forecast(history * 10 + 500)
    torch.testing.assert_close(shifted, base * 10 + 500, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kind", ["language_model", "forecasting"])
def test_bad_task_is_rejected(kind):
    with pytest.raises(ValueError):
        TaskSpec(kind=kind, vocab_size=None, n_features=None)
