import math

import numpy as np
import pytest
import torch

from synthos.callbacks import SpectralMetrics, effective_rank, spectral_entropy
from synthos.callbacks.spectral import attainable_rank, filter_spectrum_stats, probe_inputs
from tests.callbacks.micro import FAMILIES, forecaster, lm, loaders, sine_windows, trainer


def rank_k(n: int, d: int, singular_values: list[float], seed: int = 0) -> torch.Tensor:
    """An (n, d) matrix with centred columns and exactly the given singular values."""
    g = torch.Generator().manual_seed(seed)
    k = len(singular_values)
    u = torch.randn(n, k, generator=g, dtype=torch.float64)
    u, _ = torch.linalg.qr(u - u.mean(0))
    v, _ = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=torch.float64))
    return (u * torch.tensor(singular_values, dtype=torch.float64)) @ v.T


@pytest.mark.parametrize("k", [1, 3, 7])
def test_effective_rank_of_a_rank_k_matrix_is_k(k):
    x = rank_k(200, 32, [2.0] * k)
    assert effective_rank(x) == pytest.approx(k, abs=1e-6)
    # Equal variance over k of the 32 attainable directions.
    assert spectral_entropy(x) == pytest.approx(math.log(k) / math.log(32), abs=1e-6)
    # A shifted copy has the same rank: the mean is removed first.
    assert effective_rank(x + 5.0) == pytest.approx(k, abs=1e-6)


def test_effective_rank_drops_as_the_spectrum_concentrates():
    even = effective_rank(rank_k(200, 32, [1.0] * 8))
    skewed = effective_rank(rank_k(200, 32, [10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    assert 1.0 < skewed < even == pytest.approx(8.0)


def test_constant_and_full_rank_matrices():
    constant = torch.ones(100, 16) * 3.0 + 1e-9 * torch.randn(100, 16)
    assert effective_rank(constant) == 0.0
    assert spectral_entropy(constant) == 0.0
    noise = torch.randn(4000, 16, generator=torch.Generator().manual_seed(0))
    assert effective_rank(noise) > 15.0
    assert attainable_rank(10, 16) == 9 and attainable_rank(100, 16) == 16


def test_filter_spectrum_of_a_lowpass_and_a_white_filter():
    impulse = torch.zeros(2, 64)
    impulse[:, 0] = 1.0  # flat spectrum
    smooth = torch.exp(-torch.arange(64.0) / 10).expand(2, 64)  # low-pass
    white, lowpass = filter_spectrum_stats(impulse), filter_spectrum_stats(smooth)
    assert white["entropy"] == pytest.approx(1.0, abs=1e-6)
    assert white["low_freq_energy"] == pytest.approx(16 / 33, abs=1e-6)
    assert lowpass["low_freq_energy"] > 0.95 and lowpass["entropy"] < white["entropy"]


@pytest.mark.parametrize("family", ["resonance", "ten"])
def test_metrics_logged_each_validation_for_both_families(family, tmp_path):
    torch.manual_seed(0)
    spectral = SpectralMetrics()
    run = trainer([spectral], tmp_path, max_steps=40)
    run.fit(lm(FAMILIES[family]()), *loaders("pattern", n_train=640))
    logged = {k: float(v) for k, v in run.callback_metrics.items() if k.startswith("spectral/")}
    for i in range(3):  # embedding + 2 blocks
        assert 0 < logged[f"spectral/effective_rank/layer{i}"] <= 32
        assert 0 < logged[f"spectral/entropy/layer{i}"] <= 1
    assert spectral.latest["step"] == 40  # computed after training steps, not in the sanity check
    assert spectral.latest["effective_rank/last"] == pytest.approx(
        logged["spectral/effective_rank/last"]
    )
    if family == "resonance":
        keys = ("mean_magnitude", "max_magnitude", "low_freq_energy", "entropy")
        for key in keys:
            assert math.isfinite(logged[f"spectral/filter/layer1/{key}"])
        assert 0 < logged["spectral/filter/low_freq_energy"] < 1
        assert not any("eigen" in k for k in logged)
    else:
        assert 0 < logged["spectral/eigen/abs_min"] <= logged["spectral/eigen/abs_mean"]
        assert logged["spectral/eigen/abs_max"] < 1
        assert 0 <= logged["spectral/eigen/near_unit"] <= 1
        assert not any("filter" in k for k in logged)


def test_sanity_check_is_skipped(tmp_path):
    spectral = SpectralMetrics()
    run = trainer([spectral], tmp_path, max_steps=0, num_sanity_val_steps=1)
    run.fit(lm(FAMILIES["resonance"]()), *loaders("pattern", n_train=640))
    assert spectral.probe is not None  # the probe is taken from the first validation batch
    assert spectral.latest == {}


def test_forecaster_probe_is_scaled_history():
    module = forecaster()
    windows = sine_windows(4, 33, 0.1) * 50 + 7
    probe = probe_inputs(module, windows, max_rows=2, max_len=16)
    assert probe.shape == (2, 16, 1)
    # The last 16 steps of each window's history (its final step is the horizon's target),
    # standardised per window: the network sees its inputs in window units.
    history = windows[:2, 16:32, 0].double().numpy()
    expected = (history - history.mean(axis=1, keepdims=True)) / history.std(axis=1, keepdims=True)
    np.testing.assert_allclose(probe[..., 0].double().numpy(), expected, atol=1e-4)
    metrics = SpectralMetrics()
    metrics.probe = probe_inputs(module, windows, max_rows=4, max_len=32)
    values = metrics.compute(module)
    assert 0 < values["effective_rank/last"] <= 32 and "eigen/abs_mean" in values
