import math

import pytest
import torch

from synthos.errors import DataError, ErrorCode, ModelError
from synthos.models.causal_fft_conv import causal_fft_conv, lean_causal_fft_conv
from synthos.models.resonance import (
    AdvancedSpectralGating,
    HierarchicalFFT,
    ResonanceConfig,
    ResonanceNN,
)
from tests.model_checks import (
    assert_causal,
    preset_fields,
    random_token_loss,
    train_copy_task,
)

MICRO = preset_fields("resonance_micro")

MIXER_VARIANTS = {
    "plain": dict(spectral_gating=False),
    "spectral_gating": dict(),
    "frequency_selector": dict(frequency_selector=True),
    "hierarchical": dict(hierarchical_chunk=16),
    "all": dict(frequency_selector=True, hierarchical_chunk=8),
}
#: Every causality check runs on both implementations of the token mixer.
IMPLS = ["reference", "fast"]
CONVS = {"reference": causal_fft_conv, "fast": lean_causal_fft_conv}


def small_config(**overrides) -> ResonanceConfig:
    fields = dict(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_freqs=16, max_seq_len=4096)
    return ResonanceConfig(**{**fields, **overrides})


def test_causal_fft_conv_matches_direct_convolution():
    torch.manual_seed(0)
    u, h = torch.randn(2, 3, 50, dtype=torch.float64), torch.randn(3, 50, dtype=torch.float64)
    direct = torch.zeros_like(u)
    for t in range(50):
        for s in range(t + 1):
            direct[..., t] += h[:, s] * u[..., t - s]
    torch.testing.assert_close(causal_fft_conv(u, h).double(), direct, atol=1e-4, rtol=1e-4)


def test_causal_fft_conv_complex_matches_direct_convolution():
    torch.manual_seed(0)
    u = torch.randn(1, 2, 20, dtype=torch.complex64)
    h = torch.randn(2, 20, dtype=torch.complex64)
    direct = torch.stack(
        [sum(h[:, s] * u[..., t - s] for s in range(t + 1)) for t in range(20)], dim=-1
    )
    torch.testing.assert_close(causal_fft_conv(u, h), direct, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("variant", MIXER_VARIANTS)
@pytest.mark.parametrize("seq_len", [37, 67])
def test_mixer_is_causal(variant, seq_len, impl):
    torch.manual_seed(0)
    mixer = AdvancedSpectralGating(small_config(**MIXER_VARIANTS[variant], mixer_impl=impl))
    with torch.no_grad():  # make the modulations non-trivial so leaks would show
        for p in mixer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(2, seq_len, 32)
    positions = [0, 7, 8, 15, 16, 17, 31, 32, seq_len - 2]
    assert_causal(mixer, x, positions)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seq_len", [16, 37, 64, 100])
def test_hierarchical_fft_is_causal_across_chunks(seq_len, impl):
    torch.manual_seed(0)
    hier = HierarchicalFFT(chunk=16)
    h = torch.randn(3, seq_len)
    u = torch.randn(2, seq_len, 3)
    conv = CONVS[impl]
    assert_causal(
        lambda x: hier(x.transpose(1, 2), h, conv).transpose(1, 2), u, list(range(seq_len - 1))
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_hierarchical_fft_is_exact_inside_first_chunk(impl):
    torch.manual_seed(0)
    u, h = torch.randn(1, 2, 40), torch.randn(2, 40)
    full = causal_fft_conv(u, h)
    torch.testing.assert_close(HierarchicalFFT(16)(u, h, CONVS[impl])[..., :16], full[..., :16])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("variant", MIXER_VARIANTS)
def test_language_model_is_causal_end_to_end(variant, impl):
    torch.manual_seed(0)
    net = ResonanceNN(small_config(**MIXER_VARIANTS[variant], mixer_impl=impl))
    tokens = torch.randint(0, 64, (2, 45))
    embedded = net.io.embed(tokens)

    def from_embeddings(h):
        for block in net.blocks:
            h = block(h)
        return net.io.output(net.norm(h))

    assert_causal(from_embeddings, embedded, [0, 10, 16, 30, 43])


@pytest.mark.parametrize("impl", IMPLS)
def test_token_positions_are_causal(impl):
    """Changing later tokens (not just embeddings) leaves earlier logits unchanged."""
    torch.manual_seed(0)
    net = ResonanceNN(small_config(mixer_impl=impl))
    tokens = torch.randint(0, 64, (2, 40))
    assert_causal(net, tokens, [5, 20], perturb=lambda t: torch.randint_like(t, 0, 64))


@pytest.mark.parametrize("impl", IMPLS)
def test_forecaster_is_causal_and_shapes(impl):
    torch.manual_seed(0)
    net = ResonanceNN(small_config(vocab_size=None, n_features=3, horizon=5, mixer_impl=impl))
    x = torch.randn(2, 40, 3)
    assert net(x).shape == (2, 40, 5, 3)
    assert_causal(lambda v: net(v).flatten(2), x, [0, 19, 38])


def test_language_model_shapes_and_tied_embeddings():
    net = ResonanceNN(small_config())
    assert net(torch.randint(0, 64, (3, 11))).shape == (3, 11, 64)
    assert net.io.head.weight is net.io.embedding.weight


@pytest.mark.parametrize("impl", IMPLS)
def test_random_tokens_cannot_be_predicted(impl):
    torch.manual_seed(0)
    net = ResonanceNN(vocab_size=64, **{**MICRO, "mixer_impl": impl})
    assert random_token_loss(net, vocab=64, seq_len=64, steps=200) >= math.log(64) - 0.1


def test_learns_copy_task_at_length_256():
    torch.manual_seed(0)
    vocab = 16
    net = ResonanceNN(vocab_size=vocab, **MICRO)
    accuracy = train_copy_task(net, vocab=vocab, delay=128, steps=150)
    assert accuracy >= 0.9, f"copy accuracy {accuracy:.3f}; unigram baseline {1 / vocab:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_long_context_forward_backward_at_131072(impl):
    torch.manual_seed(0)
    # The micro preset at a small vocabulary, at its maximum context.
    net = ResonanceNN(vocab_size=256, **{**MICRO, "mixer_impl": impl})
    assert MICRO["max_seq_len"] == 131072
    tokens = torch.randint(0, 256, (1, 131072))
    logits = net(tokens)
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], tokens[0, 1:])
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_sequence_longer_than_maximum_is_a_clear_error():
    net = ResonanceNN(small_config(max_seq_len=32))
    with pytest.raises(DataError) as info:
        net(torch.zeros(1, 33, dtype=torch.long))
    assert info.value.code == ErrorCode.SEQUENCE_TOO_LONG
    assert "33" in str(info.value) and "32" in str(info.value)


def test_wrong_input_kind_is_a_clear_error():
    net = ResonanceNN(small_config())
    with pytest.raises(DataError, match="integer tokens"):
        net(torch.randn(1, 8, 32))


@pytest.mark.parametrize(
    "overrides",
    [dict(d_model=30, n_heads=4), dict(vocab_size=None), dict(n_features=3), dict(n_layers=0)],
)
def test_bad_config_is_a_model_error(overrides):
    with pytest.raises(ModelError):
        ResonanceNN(small_config(**overrides))


@pytest.mark.parametrize("impl", IMPLS)
def test_activation_checkpointing_gives_same_gradients(impl):
    torch.manual_seed(0)
    net = ResonanceNN(small_config(mixer_impl=impl))
    tokens = torch.randint(0, 64, (2, 24))

    def grads(checkpointing):
        net.zero_grad()
        net.activation_checkpointing = checkpointing
        net(tokens).sum().backward()
        return [p.grad.clone() for p in net.parameters() if p.grad is not None]

    for a, b in zip(grads(False), grads(True), strict=True):
        torch.testing.assert_close(a, b)


def test_frequency_sparsity_counts_once_per_block():
    net = ResonanceNN(small_config(frequency_selector=True, sparsity_weight=0.5))
    with torch.no_grad():
        for i, block in enumerate(net.blocks):
            block.mixer.selector.band_logits.fill_(float(i))
    # sigmoid(0) = 0.5 in block 0, sigmoid(1) in block 1, each weighted 0.5.
    expected = 0.5 * (0.5 + 1 / (1 + math.exp(-1)))
    assert net.auxiliary_loss().item() == pytest.approx(expected, rel=1e-6)
    assert ResonanceNN(small_config()).auxiliary_loss().item() == 0.0


def test_residual_projections_start_small_whatever_their_names():
    torch.manual_seed(0)
    config = small_config(d_model=64, n_layers=8)
    net = ResonanceNN(config)
    residual_std = 64**-0.5 / math.sqrt(2 * 8)
    for block in net.blocks:
        assert block.mixer.out_proj.weight.std().item() == pytest.approx(residual_std, rel=0.1)
        assert block.ffn.down.weight.std().item() == pytest.approx(residual_std, rel=0.1)
        assert block.mixer.in_proj.weight.std().item() == pytest.approx(64**-0.5, rel=0.1)
