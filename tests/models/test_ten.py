import math

import pytest
import torch

from synthos.errors import DataError, ErrorCode, ModelError
from synthos.models.ten import (
    EigenstateAttention,
    HierarchicalTEN,
    ResonanceBlock,
    TemporalEigenstateNetwork,
    TemporalFlowCell,
    TENConfig,
)
from tests.model_checks import (
    assert_causal,
    preset_fields,
    random_token_loss,
    train_copy_task,
)

HIERARCHY = (1, 2, 4, 8)

MICRO = preset_fields("ten_micro")
MINI = preset_fields("ten_mini")


def small_config(**overrides) -> TENConfig:
    fields = dict(vocab_size=64, d_model=32, n_layers=2, n_eigenstates=16, max_seq_len=4096)
    return TENConfig(**{**fields, **overrides})


def perturbed(module: torch.nn.Module, scale: float = 0.3) -> torch.nn.Module:
    """Push every parameter off its initialisation so couplings, attention and scale weights
    are all non-trivial and any leak would show."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))
    return module


def cell(d_model: int = 16, k: int = 8, **kwargs) -> TemporalFlowCell:
    torch.manual_seed(0)
    return perturbed(TemporalFlowCell(d_model, k, **kwargs))


def run_recurrent(step, init_state, xs: torch.Tensor) -> torch.Tensor:
    state, outputs = init_state, []
    for t in range(xs.shape[1]):
        y, state = step(xs[:, t], state)
        outputs.append(y)
    return torch.stack(outputs, dim=1)


# ----- causality -----------------------------------------------------------------------------


@pytest.mark.parametrize("eigen_attention", [False, True])
def test_flow_cell_is_causal(eigen_attention):
    mixer = cell(eigen_attention=eigen_attention)
    x = torch.randn(2, 50, 16)
    assert_causal(mixer, x, [0, 1, 17, 31, 48])


def test_eigenstate_attention_is_per_step_and_normalised():
    torch.manual_seed(0)
    attention = perturbed(EigenstateAttention(16, 8), scale=1.0)
    x = torch.randn(2, 30, 16)
    weights = attention(x)
    torch.testing.assert_close(weights.mean(-1), torch.ones(2, 30))
    assert weights.std() > 0.1  # data-dependent, not uniform
    assert_causal(attention, x, [0, 10, 28])


@pytest.mark.parametrize("seq_len", [37, 67])
def test_hierarchical_ten_is_causal_across_scale_boundaries(seq_len):
    torch.manual_seed(0)
    mixer = perturbed(HierarchicalTEN(16, HIERARCHY, n_eigenstates=8))
    x = torch.randn(2, seq_len, 16)
    assert mixer(x).shape == x.shape
    boundaries = [0, 1, 2, 3, 6, 7, 8, 9, 14, 15, 16, 23, 24, 31, 32, 33, seq_len - 2]
    assert_causal(mixer, x, sorted({t for t in boundaries if t < seq_len - 1}))


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_coarse_stream_is_shifted_by_one_block(scale):
    """Positions in block j see coarse output of blocks < j only: block 0 gets nothing, and
    the first step of each block already carries the whole previous block."""
    torch.manual_seed(0)
    mixer = perturbed(HierarchicalTEN(8, (scale,), n_eigenstates=4))
    x = torch.randn(1, 5 * scale + 3, 8)  # a partial last block
    with torch.no_grad():
        out = mixer(x)
        assert out[:, :scale].abs().max() == 0
        x2 = x.clone()
        x2[:, 2 * scale - 1] += 5.0  # last step of block 1
        diff = (mixer(x2) - out).abs().amax(dim=(0, 2))
    tolerance = 1e-5 * out.abs().max()  # FFT round-off
    assert diff[: 2 * scale].max() <= tolerance
    assert (diff[2 * scale :] > tolerance).all()


@pytest.mark.parametrize("scales", [(1,), HIERARCHY])
def test_language_model_is_causal_end_to_end(scales):
    torch.manual_seed(0)
    net = perturbed(TemporalEigenstateNetwork(small_config(scales=scales)), scale=0.05)
    tokens = torch.randint(0, 64, (2, 45))
    assert_causal(net, tokens, [0, 7, 8, 16, 30, 43], perturb=lambda t: torch.randint_like(t, 64))


@pytest.mark.parametrize("scales", [(1,), HIERARCHY])
def test_forecaster_is_causal_and_shapes(scales):
    torch.manual_seed(0)
    config = small_config(vocab_size=None, n_features=3, horizon=5, scales=scales)
    net = TemporalEigenstateNetwork(config)
    x = torch.randn(2, 37, 3)
    assert net(x).shape == (2, 37, 5, 3)
    assert_causal(lambda v: net(v).flatten(2), x, [0, 7, 15, 35])


# ----- parallel (FFT) and recurrent (streaming) modes agree ------------------------------------


@pytest.mark.parametrize("eigen_attention", [False, True])
def test_flow_cell_parallel_matches_recurrent(eigen_attention):
    mixer = cell(eigen_attention=eigen_attention)
    x = torch.randn(2, 300, 16)
    with torch.no_grad():
        parallel = mixer(x)
        recurrent = run_recurrent(mixer.step, mixer.init_state(2), x)
    torch.testing.assert_close(recurrent, parallel, atol=1e-4, rtol=1e-4)


def test_flow_cell_modes_agree_over_long_memories():
    """|lambda| near 1 and thousands of steps: phases s*theta must stay accurate."""
    torch.manual_seed(0)
    mixer = TemporalFlowCell(8, 16, min_decay=0.999, max_decay=0.9999)
    x = torch.randn(1, 3000, 8)
    with torch.no_grad():
        parallel = mixer(x)
        recurrent = run_recurrent(mixer.step, mixer.init_state(1), x)
    torch.testing.assert_close(recurrent, parallel, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("task", ["language_model", "forecaster"])
def test_network_streaming_matches_forward(task):
    torch.manual_seed(0)
    if task == "language_model":
        net = TemporalEigenstateNetwork(small_config())
        x = torch.randint(0, 64, (3, 60))
    else:
        net = TemporalEigenstateNetwork(small_config(vocab_size=None, n_features=4, horizon=2))
        x = torch.randn(3, 60, 4)
    perturbed(net, scale=0.05).eval()
    with torch.no_grad():
        parallel = net(x)
        recurrent = run_recurrent(net.step, net.init_state(3), x)
    torch.testing.assert_close(recurrent, parallel, atol=1e-4, rtol=1e-4)


def test_streaming_a_hierarchical_network_is_a_model_error():
    net = TemporalEigenstateNetwork(small_config(scales=HIERARCHY))
    with pytest.raises(ModelError) as info:
        net.init_state(1)
    assert info.value.code == ErrorCode.MODEL_CONFIG
    assert "scales" in str(info.value)
    with pytest.raises(ModelError):
        net.step(torch.zeros(1, dtype=torch.long), [])


# ----- parameterisation ------------------------------------------------------------------------


def test_eigenvalues_start_on_the_configured_ring():
    torch.manual_seed(0)
    mixer = TemporalFlowCell(8, 64, min_decay=0.95, max_decay=0.999)
    lam = torch.exp(mixer.log_lambda())
    assert lam.abs().min() >= 0.95 - 1e-6 and lam.abs().max() <= 0.999 + 1e-6
    assert lam.angle().min() > 0 and lam.angle().max() < math.pi
    # The input gain keeps the stationary state variance at one for every eigenstate.
    gain = mixer.input_gain()
    torch.testing.assert_close(gain**2 / (1 - lam.abs() ** 2), torch.ones(64), rtol=1e-3, atol=0)


def test_resonance_coupling_stays_near_identity():
    torch.manual_seed(0)
    coupling = ResonanceBlock(32, eps=0.05)
    with torch.no_grad():
        coupling.logits.mul_(1e3)  # however far training pushes the logits ...
    deviation = coupling.matrix() - torch.eye(32)
    assert torch.linalg.matrix_norm(deviation, ord=2) <= 0.05 * math.sqrt(2 * 32) + 1e-5


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = TemporalEigenstateNetwork(small_config(scales=HIERARCHY))
    net(torch.randint(0, 64, (2, 40))).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name


def test_activation_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    net = TemporalEigenstateNetwork(small_config(scales=HIERARCHY))
    tokens = torch.randint(0, 64, (2, 24))

    def grads(checkpointing):
        net.zero_grad()
        net.activation_checkpointing = checkpointing
        net(tokens).sum().backward()
        return [p.grad.clone() for p in net.parameters()]

    for a, b in zip(grads(False), grads(True), strict=True):
        torch.testing.assert_close(a, b)


# ----- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        dict(n_eigenstates=0),
        dict(scales=()),
        dict(scales=(1, 0)),
        dict(scales=(1, 2, 2)),
        dict(coupling_eps=-0.1),
        dict(min_decay=0.0),
        dict(max_decay=1.0),
        dict(min_decay=0.99, max_decay=0.9),
        dict(dropout=1.0),
        dict(vocab_size=None),
        dict(n_layers=0),
    ],
)
def test_bad_config_is_a_model_error(overrides):
    with pytest.raises(ModelError) as info:
        TemporalEigenstateNetwork(small_config(**overrides))
    assert info.value.code == ErrorCode.MODEL_CONFIG


def test_config_accepts_lists_for_scales():
    assert TENConfig(scales=[1, 2, 4]).scales == (1, 2, 4)


@pytest.mark.parametrize("scales", [(1,), HIERARCHY])
def test_sequence_longer_than_maximum_is_a_clear_error(scales):
    net = TemporalEigenstateNetwork(small_config(max_seq_len=32, scales=scales))
    with pytest.raises(DataError) as info:
        net(torch.zeros(1, 33, dtype=torch.long))
    assert info.value.code == ErrorCode.SEQUENCE_TOO_LONG
    assert "33" in str(info.value) and "32" in str(info.value)


# ----- learning --------------------------------------------------------------------------------


def test_random_tokens_cannot_be_predicted():
    torch.manual_seed(0)
    net = TemporalEigenstateNetwork(vocab_size=64, **MICRO)
    assert random_token_loss(net, vocab=64, seq_len=64, steps=200) >= math.log(64) - 0.1


def test_hierarchical_random_tokens_cannot_be_predicted():
    torch.manual_seed(0)
    net = TemporalEigenstateNetwork(small_config(scales=HIERARCHY))
    assert random_token_loss(net, vocab=64, seq_len=64, steps=200) >= math.log(64) - 0.1


def test_learns_copy_task_at_length_256():
    torch.manual_seed(0)
    vocab = 16
    net = TemporalEigenstateNetwork(vocab_size=vocab, **MICRO)
    accuracy = train_copy_task(net, vocab=vocab, delay=128, steps=250, lr=1e-2)
    assert accuracy >= 0.9, f"copy accuracy {accuracy:.3f}; unigram baseline {1 / vocab:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["micro", "mini"])
def test_long_context_forward_backward_at_maximum_length(preset):
    torch.manual_seed(0)
    fields = {"micro": MICRO, "mini": MINI}[preset]
    net = TemporalEigenstateNetwork(vocab_size=256, **fields)
    tokens = torch.randint(0, 256, (1, fields["max_seq_len"]))
    logits = net(tokens)
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], tokens[0, 1:])
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
