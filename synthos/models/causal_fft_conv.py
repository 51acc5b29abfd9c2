"""Causal long convolution by FFT, the O(L log L) primitive both model families share.

Two implementations of one operator: `causal_fft_conv` (the reference: plain autograd through
`torch.fft`, power-of-two lengths) and `lean_causal_fft_conv` (the fast path: FFT lengths
with small prime factors, channel chunks that bound the transient spectra, and a backward
that keeps the input in its own dtype instead of its complex spectrum).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

#: Complex elements (complex64: 8 bytes each) in one chunk's spectrum: 256 MiB. Chunks this
#: size still fill a GPU, and the transient memory of one conv stays a few such buffers.
MAX_SPECTRUM_ELEMENTS = 1 << 25
#: From this many sequences per call on, the filter spectrum is kept for the backward pass;
#: below, it is recomputed (at batch 1 it is as large as the input's own spectrum).
KEEP_SPECTRUM_MIN_BATCH = 4


def fft_length(seq_len: int) -> int:
    """Smallest power of two >= 2 * seq_len: linear (not circular) convolution, fast FFT sizes."""
    return 1 << (2 * seq_len - 1).bit_length()


def smooth_fft_length(seq_len: int) -> int:
    """Smallest even n >= 2 * seq_len whose prime factors are 2, 3, 5 and 7.

    n >= 2L - 1 keeps the circular convolution's wrap-around off the first L outputs (so
    causality is exact); n even suits rfft/irfft; factors up to 7 are the sizes FFT
    libraries (cuFFT, pocketFFT) run at full speed, and they overshoot 2L far less than the
    next power of two does (L = 1000: 2000 instead of 2048; L = 2^k + 1: about 2L
    instead of 4L).
    """
    n = 2 * max(seq_len, 1)
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 2


def causal_fft_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """y[..., t] = sum_{s=0..t} h[..., s] * u[..., t - s], computed with zero padding to >= 2L.

    `u` is (..., C, L) and `h` is (C, L) (lags 0..L-1), real or complex. Zero padding to at
    least 2L makes the circular convolution of the FFT equal the linear one on the first L
    outputs, so output t never sees inputs after t: exact causality up to round-off.
    FFTs run in float32 (complex64) even under autocast, since half precision FFTs lose the
    accuracy that causality and long filters need.
    """
    seq_len = u.shape[-1]
    if h.shape[-1] != seq_len:
        raise ValueError(f"filter length {h.shape[-1]} != input length {seq_len}")
    n = fft_length(seq_len)
    with torch.autocast(device_type=u.device.type, enabled=False):
        if u.is_complex() or h.is_complex():
            uf = torch.fft.fft(u.to(torch.complex64), n=n)
            hf = torch.fft.fft(h.to(torch.complex64), n=n)
            y = torch.fft.ifft(uf * hf, n=n)[..., :seq_len]
        else:
            uf = torch.fft.rfft(u.float(), n=n)
            hf = torch.fft.rfft(h.float(), n=n)
            y = torch.fft.irfft(uf * hf, n=n)[..., :seq_len]
    return y


def project_to_causal(spectrum: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Back to the time domain, keeping lags 0..L-1 only.

    A filter modulated in the frequency domain generally spreads over all n lags of the
    circular buffer, including "negative" lags (the upper half), which would read the future.
    Truncating to lags 0..L-1 restores causal support.
    """
    n = 2 * (spectrum.shape[-1] - 1)
    return torch.fft.irfft(spectrum, n=n)[..., :seq_len]


class _LeanCausalFFTConv(torch.autograd.Function):
    """y = causal_conv(u, h) with hand-written gradients.

    Saves `u` in its own dtype (bf16 under autocast: 2 bytes per element instead of the
    8 of a complex64 spectrum) and recomputes its spectrum in backward. The gradients are
    the adjoint correlations, both exact on lags 0..L-1 because n >= 2L - 1:
    du[s] = sum_{t>=s} dy[t] h[t-s] and dh[k] = sum_batch sum_t dy[t] u[t-k].
    """

    @staticmethod
    def forward(ctx, u, h, n, chunk, keep_spectrum):
        seq_len = u.shape[-1]
        out = torch.empty_like(u)
        spectra = []
        for sl in _channel_slices(h.shape[0], chunk):
            hf = torch.fft.rfft(h[sl], n=n)
            uf = torch.fft.rfft(u[..., sl, :].to(h.dtype), n=n)
            out[..., sl, :] = torch.fft.irfft(uf.mul_(hf), n=n)[..., :seq_len]
            if keep_spectrum:
                spectra.append(hf)
        ctx.save_for_backward(u, h, *spectra)
        ctx.n, ctx.chunk = n, chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        u, h, *spectra = ctx.saved_tensors
        n, seq_len = ctx.n, u.shape[-1]
        need_u, need_h = ctx.needs_input_grad[:2]
        grad_u = torch.empty_like(u) if need_u else None
        grad_h = torch.empty_like(h) if need_h else None  # h is already in the FFT's dtype
        batch_dims = tuple(range(u.dim() - 2))
        for i, sl in enumerate(_channel_slices(h.shape[0], ctx.chunk)):
            hf = spectra[i] if spectra else torch.fft.rfft(h[sl], n=n)
            gf = torch.fft.rfft(grad[..., sl, :].to(h.dtype), n=n)
            if need_h:
                cross = torch.fft.rfft(u[..., sl, :].to(h.dtype), n=n).conj_physical_().mul_(gf)
                if batch_dims:
                    cross = cross.sum(dim=batch_dims)
                grad_h[sl] = torch.fft.irfft(cross, n=n)[..., :seq_len]
            if need_u:
                grad_u[..., sl, :] = torch.fft.irfft(gf.mul_(hf.conj()), n=n)[..., :seq_len]
        return grad_u, grad_h, None, None, None


def _channel_slices(channels: int, chunk: int) -> list[slice]:
    return [slice(start, start + chunk) for start in range(0, channels, chunk)]


def lean_causal_fft_conv(
    u: torch.Tensor,
    h: torch.Tensor,
    max_spectrum_elements: int = MAX_SPECTRUM_ELEMENTS,
    keep_spectrum: bool | None = None,
) -> torch.Tensor:
    """The same operator as `causal_fft_conv` for real inputs, built for long contexts.

    `u` is (..., C, L), in any float dtype; `h` is (C, L). The FFTs run in float32 (float64
    for float64 input) with the smallest 7-smooth length >= 2L (`smooth_fft_length`); the
    output has `u`'s dtype (under bf16 autocast the only error beyond the reference's is
    that final rounding).
    Channels are processed in chunks of at most `max_spectrum_elements` complex bins per
    spectrum, so transient memory is bounded whatever the length. The filter spectrum is
    computed once per call (shared by the whole batch) and, with `keep_spectrum` (default:
    batch >= KEEP_SPECTRUM_MIN_BATCH), reused by the backward pass. Complex inputs go to
    the reference implementation.
    """
    seq_len = u.shape[-1]
    if h.dim() != 2 or h.shape[-1] != seq_len or u.shape[-2] != h.shape[0]:
        raise ValueError(
            f"filters {tuple(h.shape)} do not match input {tuple(u.shape)}: expected "
            f"(channels, length) = ({u.shape[-2]}, {seq_len})"
        )
    if u.is_complex() or h.is_complex():
        return causal_fft_conv(u, h)
    # The FFT's precision: float32, or float64 when either input is (exact gradient checks).
    h = h.to(torch.float64 if torch.float64 in (u.dtype, h.dtype) else torch.float32)
    n = smooth_fft_length(seq_len)
    batch = u[..., 0, 0].numel()
    chunk = max(1, min(h.shape[0], max_spectrum_elements // (batch * (n // 2 + 1))))
    if keep_spectrum is None:
        keep_spectrum = batch >= KEEP_SPECTRUM_MIN_BATCH
    with torch.autocast(device_type=u.device.type, enabled=False):
        return _LeanCausalFFTConv.apply(u, h, n, chunk, keep_spectrum)
