"""The fast Resonance mixer against the reference: same operator, same numbers (fp32 on CPU),
less saved memory, a documented error under bf16 autocast, and a compile guard that falls
back to eager."""

import itertools

import pytest
import torch

from synthos.errors import ModelError
from synthos.models.causal_fft_conv import (
    causal_fft_conv,
    lean_causal_fft_conv,
    smooth_fft_length,
)
from synthos.models.compile_guard import GuardedCompile
from synthos.models.resonance import (
    AdvancedSpectralGating,
    ResonanceConfig,
    ResonanceNN,
    fast_spectral_mix,
)
from tests.model_checks import assert_causal
from tests.models.test_resonance import MIXER_VARIANTS, small_config


def direct_causal_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """y[t] = sum_{s<=t} h[s] u[t-s] by loops in float64: the ground truth."""
    u, h = u.double(), h.double()
    out = torch.zeros_like(u)
    for t in range(u.shape[-1]):
        out[..., t] = (h[:, : t + 1].flip(-1) * u[..., : t + 1]).sum(-1)
    return out


def seven_smooth_up_to(limit: int) -> set[int]:
    """Every 2^a 3^b 5^c 7^d <= limit, generated from the exponents."""
    found = set()
    for a, b, c, d in itertools.product(range(20), range(13), range(9), range(8)):
        value = 2**a * 3**b * 5**c * 7**d
        if value <= limit:
            found.add(value)
    return found


def test_fft_length_is_the_smallest_even_7_smooth_at_least_2l():
    smooth = seven_smooth_up_to(300_000)
    for seq_len in [*range(1, 400), 1000, 1023, 1025, 4097, 131072]:
        n = smooth_fft_length(seq_len)
        expected = min(m for m in smooth if m % 2 == 0 and m >= 2 * seq_len)
        assert n == expected, seq_len
    assert smooth_fft_length(1000) == 2000 and smooth_fft_length(1025) == 2058
    assert smooth_fft_length(131072) == 262144


@pytest.mark.parametrize("seq_len", [1, 5, 37, 100])
@pytest.mark.parametrize("keep_spectra", [False, True])
@pytest.mark.parametrize("max_elements", [1 << 25, 60])  # one chunk; one channel per chunk
def test_lean_conv_matches_direct_convolution(seq_len, keep_spectra, max_elements):
    torch.manual_seed(0)
    u = torch.randn(2, 3, 4, seq_len, requires_grad=True)  # two batch dimensions
    h = torch.randn(4, seq_len, requires_grad=True)
    y = lean_causal_fft_conv(u, h, max_spectrum_elements=max_elements, keep_spectra=keep_spectra)
    u64, h64 = u.detach().double().requires_grad_(), h.detach().double().requires_grad_()
    exact = direct_causal_conv(u64, h64)
    scale = exact.abs().max()
    assert y.dtype == torch.float32
    assert (y.double() - exact).abs().max() <= 1e-5 * scale
    weights = torch.randn_like(exact)
    (y.double() * weights).sum().backward()
    (exact * weights).sum().backward()
    for fast, truth in ((u.grad, u64.grad), (h.grad, h64.grad)):
        assert (fast.double() - truth).abs().max() <= 1e-5 * truth.abs().max()


@pytest.mark.parametrize("keep_spectra", [False, True])
def test_lean_conv_gradients_pass_gradcheck(keep_spectra):
    torch.manual_seed(0)
    u = torch.randn(2, 3, 9, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 9, dtype=torch.float64, requires_grad=True)
    for max_elements in (10, 1 << 20):  # chunked (one channel) and whole

        def conv(a, b, max_elements=max_elements):
            return lean_causal_fft_conv(a, b, max_elements, keep_spectra)

        assert torch.autograd.gradcheck(conv, (u, h))


def test_lean_conv_is_causal_across_channel_chunks():
    torch.manual_seed(0)
    h = torch.randn(5, 50)

    def conv(x):
        return lean_causal_fft_conv(x.transpose(1, 2), h, max_spectrum_elements=2 * 51).transpose(
            1, 2
        )

    assert_causal(conv, torch.randn(2, 50, 5), [0, 1, 24, 25, 26, 48])


def test_lean_conv_rejects_mismatched_filters():
    with pytest.raises(ValueError, match="do not match"):
        lean_causal_fft_conv(torch.randn(2, 3, 10), torch.randn(3, 9))
    with pytest.raises(ValueError, match="do not match"):
        lean_causal_fft_conv(torch.randn(2, 3, 10), torch.randn(4, 10))


def test_lean_conv_complex_input_uses_the_reference():
    torch.manual_seed(0)
    u, h = torch.randn(2, 3, 12, dtype=torch.complex64), torch.randn(3, 12, dtype=torch.complex64)
    torch.testing.assert_close(lean_causal_fft_conv(u, h), causal_fft_conv(u, h))


def saved_bytes(fn) -> int:
    """Bytes of every tensor autograd saves for backward while `fn` runs."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_lean_conv_saves_a_fraction_of_the_reference_memory(dtype):
    torch.manual_seed(0)
    u = torch.randn(2, 64, 1024, dtype=dtype, requires_grad=True)
    h = torch.randn(64, 1024, requires_grad=True)
    reference = saved_bytes(lambda: causal_fft_conv(u, h))
    lean = saved_bytes(lambda: lean_causal_fft_conv(u, h, keep_spectra=False))
    # The reference keeps both complex spectra of length 2L (8 bytes per bin); the lean conv
    # recomputing them keeps u in its dtype and the real filter.
    assert lean <= u.numel() * u.element_size() + h.numel() * 4
    assert lean <= reference / 4
    # Keeping them (short contexts) keeps no more than the reference.
    assert saved_bytes(lambda: lean_causal_fft_conv(u, h, keep_spectra=True)) <= reference


def twin_mixers(**overrides) -> tuple[AdvancedSpectralGating, AdvancedSpectralGating]:
    torch.manual_seed(0)
    reference = AdvancedSpectralGating(small_config(**overrides))
    with torch.no_grad():  # non-trivial modulations and gates
        for p in reference.parameters():
            p.add_(0.3 * torch.randn_like(p))
    fast = AdvancedSpectralGating(small_config(**overrides, mixer_impl="fast"))
    fast.load_state_dict(reference.state_dict())
    return reference, fast


def outputs_and_grads(mixer, x, weights, autocast=None):
    mixer.zero_grad()
    x = x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast is not None):
        y = mixer(x)
    (y.float() * weights).sum().backward()
    return y.float().detach(), [x.grad, *(p.grad for p in mixer.parameters())]


@pytest.mark.parametrize("variant", MIXER_VARIANTS)
@pytest.mark.parametrize("seq_len", [37, 64, 100])
def test_fast_mixer_equals_reference_in_fp32(variant, seq_len):
    reference, fast = twin_mixers(**MIXER_VARIANTS[variant])
    x = torch.randn(3, seq_len, 32)
    weights = torch.randn(3, seq_len, 32)
    y_ref, g_ref = outputs_and_grads(reference, x, weights)
    y_fast, g_fast = outputs_and_grads(fast, x, weights)
    assert (y_fast - y_ref).abs().max() <= 1e-5 * y_ref.abs().max()
    for a, b in zip(g_fast, g_ref, strict=True):
        assert (a - b).abs().max() <= 2e-5 * b.abs().max()


def test_fast_language_model_equals_reference_in_fp32():
    torch.manual_seed(0)
    reference = ResonanceNN(small_config())
    fast = ResonanceNN(small_config(mixer_impl="fast"))
    fast.load_state_dict(reference.state_dict())
    tokens = torch.randint(0, 64, (2, 45))
    logits_ref, logits_fast = reference(tokens), fast(tokens)
    assert (logits_fast - logits_ref).abs().max() <= 1e-5 * logits_ref.abs().max()
    logits_ref.square().mean().backward()
    logits_fast.square().mean().backward()
    for (name, a), b in zip(fast.named_parameters(), reference.parameters(), strict=True):
        assert (a.grad - b.grad).abs().max() <= 2e-5 * b.grad.abs().max(), name


def relative_error(y: torch.Tensor, truth: torch.Tensor) -> float:
    return ((y - truth).abs().max() / truth.abs().max()).item()


def test_bf16_autocast_error_is_bounded_and_no_worse_than_the_reference():
    """bf16 activations with the FFT in fp32: the error against the fp32 reference comes
    from bf16 rounding (2^-8 relative per rounding), measured here beside the reference
    path's own error under the same autocast (the baseline)."""
    reference, fast = twin_mixers()
    torch.manual_seed(1)
    x = torch.randn(4, 256, 32)
    weights = torch.randn(4, 256, 32)
    y_exact, g_exact = outputs_and_grads(reference, x, weights)
    y_ref16, g_ref16 = outputs_and_grads(reference, x, weights, autocast=torch.bfloat16)
    y_fast16, g_fast16 = outputs_and_grads(fast, x, weights, autocast=torch.bfloat16)
    error_fast, error_ref = relative_error(y_fast16, y_exact), relative_error(y_ref16, y_exact)
    assert error_fast <= 2e-2 and error_fast <= 1.5 * error_ref
    grad_fast = relative_error(g_fast16[0], g_exact[0])
    assert grad_fast <= 3e-2 and grad_fast <= 1.5 * relative_error(g_ref16[0], g_exact[0])


def test_lean_conv_of_bf16_input_adds_only_the_output_rounding():
    """The fp32 FFT's own error is ~1e-6 of the scale; the bf16 output adds its rounding."""
    torch.manual_seed(0)
    u = torch.randn(4, 16, 512).bfloat16()
    h = torch.randn(16, 512) * torch.exp(-torch.arange(512) / 64.0)
    y = lean_causal_fft_conv(u, h)
    assert y.dtype == torch.bfloat16
    exact = direct_causal_conv(u, h)
    scale = exact.abs().max()
    bound = 2**-8 * exact.abs() + 1e-5 * scale  # half an ulp of bf16 is 2^-9 relative
    assert ((y.double() - exact).abs() <= bound).all()
    y32 = lean_causal_fft_conv(u.float(), h)
    assert (y32.double() - exact).abs().max() <= 1e-5 * scale


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_mixer_impl_is_validated(impl):
    assert ResonanceConfig(vocab_size=8, mixer_impl=impl).mixer_impl == impl
    with pytest.raises(ModelError, match="mixer_impl"):
        ResonanceNN(small_config(mixer_impl="flash"))


def test_mixer_impl_and_compile_compose_from_hydra(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg(
        "model=resonance_micro",
        "model.task.vocab_size=97",
        "model.net.mixer_impl=fast",
        "model.net.compile_mixer=true",
    )
    net = instantiate(cfg.model).net
    assert net.config.mixer_impl == "fast" and net.config.compile_mixer
    assert net(torch.randint(0, 97, (2, 12))).shape == (2, 12, 97)
    guard = net.blocks[0].mixer.fast_mix
    assert guard.compiled is None and "compiled only on" in guard.reason  # CPU: eager


def test_compile_on_cpu_falls_back_to_eager_with_identical_results():
    _, fast = twin_mixers()
    compiled = AdvancedSpectralGating(small_config(mixer_impl="fast", compile_mixer=True))
    compiled.load_state_dict(fast.state_dict())
    x = torch.randn(2, 40, 32)
    assert torch.equal(compiled(x), fast(x))
    assert compiled.fast_mix.compiled is None
    assert compiled.fast_mix.reason == "tensors on cpu, compiled only on ('cuda',)"


def test_fast_mix_traces_whole_under_compile():
    """Dynamo and AOT autograd capture the conv and gating, custom backward included, in one
    graph (no graph break), and the compiled function gives the eager numbers."""
    torch.manual_seed(0)
    z = torch.randn(2, 96, 50, requires_grad=True)
    h = torch.randn(32, 50, requires_grad=True)
    skip = torch.randn(32, requires_grad=True)
    guard = GuardedCompile(
        fast_spectral_mix, True, devices=("cpu",), backend="aot_eager", fullgraph=True
    )
    y = guard(z, h, skip, 0)
    assert guard.compiled is not None and guard.reason is None
    grads = torch.autograd.grad(y.square().sum(), (z, h, skip))
    y_eager = fast_spectral_mix(z, h, skip, 0)
    grads_eager = torch.autograd.grad(y_eager.square().sum(), (z, h, skip))
    torch.testing.assert_close(y, y_eager)
    for a, b in zip(grads, grads_eager, strict=True):
        torch.testing.assert_close(a, b)


def test_compile_failure_falls_back_to_eager_once():
    def data_dependent(x):
        if x.sum() > 0:  # a graph break: fullgraph compilation must fail
            return x * 2
        return x - 1

    guard = GuardedCompile(data_dependent, True, devices=("cpu",), backend="eager", fullgraph=True)
    x = torch.ones(3)
    assert torch.equal(guard(x), x * 2)
    assert not guard.enabled and guard.reason.startswith("torch.compile failed")
    assert torch.equal(guard(-x), -x - 1)


def test_backward_lowering_failure_is_caught_in_the_forward_call():
    """A backend whose backward lowering fails: the failure surfaces in the guarded forward
    call (so the guard can fall back), not later in loss.backward()."""
    from torch._dynamo.backends.common import aot_autograd

    def failing_backward(gm, example_inputs):
        raise RuntimeError("backward lowering failed")

    backend = aot_autograd(fw_compiler=lambda gm, _: gm, bw_compiler=failing_backward)
    guard = GuardedCompile(lambda x: (x * 3).sin(), True, devices=("cpu",), backend=backend)
    x = torch.randn(4, requires_grad=True)
    y = guard(x)
    assert not guard.enabled and "backward lowering failed" in guard.reason
    y.sum().backward()
    torch.testing.assert_close(x.grad, 3 * (3 * x.detach()).cos())


@pytest.mark.parametrize(
    ("batch", "seq_len", "bound"),
    [(2, 2048, 0.6), (1, 32768, 0.4)],  # spectra kept (0.53 when written); recomputed (0.34)
)
def test_fast_mixer_keeps_far_less_for_backward(batch, seq_len, bound):
    """The filters' bases and spectra are recomputed, and from 32K the conv keeps no
    spectrum either: the fast mixer's activation memory is a fraction of the reference's."""
    reference, fast = twin_mixers()
    x = torch.randn(batch, seq_len, 32, requires_grad=True)
    kept = {}
    for name, mixer in (("reference", reference), ("fast", fast)):
        kept[name] = saved_bytes(lambda mixer=mixer: mixer(x))
    assert kept["fast"] <= bound * kept["reference"], kept
