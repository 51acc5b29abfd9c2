"""Causal long convolution by FFT, the O(L log L) primitive both model families share.

Two implementations of one operator: `causal_fft_conv` (the reference: plain autograd through
`torch.fft`, power-of-two lengths) and `lean_causal_fft_conv` (the fast path: FFT lengths
with small prime factors, channel chunks that bound the transient spectra, and, for long
contexts, a backward that keeps the input in its own dtype instead of its complex spectrum).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

#: Complex elements (complex64: 8 bytes each) in one chunk's spectrum: 256 MiB. Chunks this
#: size still fill a GPU, and the transient memory of one conv stays a few such buffers.
MAX_SPECTRUM_ELEMENTS = 1 << 25
#: From this sequence length on, spectra are recomputed in backward instead of kept: long
#: contexts are bound by activation memory (a kept input spectrum is 4x the bf16 input), short
#: ones by FFT time (recomputing costs one more FFT of the batch per backward).
RECOMPUTE_SPECTRA_FROM_LENGTH = 32768


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
    """y = causal_conv(u, h) with hand-written gradients, the adjoint correlations (exact on
    lags 0..L-1 because n >= 2L - 1): du[s] = sum_{t>=s} dy[t] h[t-s] and
    dh[k] = sum_batch sum_t dy[t] u[t-k].

    With `keep_spectra` the forward's spectra of u and h are kept for backward (two FFTs
    per chunk in backward, as autograd through `torch.fft` would do); without, only u (in
    its own dtype: 2 bytes per element under bf16 autocast instead of 8 for a complex64
    spectrum) and h are kept and both spectra are recomputed (one FFT more per chunk).
    """

    @staticmethod
    def forward(ctx, u, h, n, chunk, keep_spectra):
        seq_len = u.shape[-1]
        out = torch.empty_like(u)
        spectra = []
        for sl in _channel_slices(h.shape[0], chunk):
            hf = torch.fft.rfft(h[sl], n=n)
            uf = torch.fft.rfft(u[..., sl, :].to(h.dtype), n=n)
            if keep_spectra:
                spectra += [uf, hf]
                product = uf * hf
            else:
                product = uf.mul_(hf)
            out[..., sl, :] = torch.fft.irfft(product, n=n)[..., :seq_len]
        ctx.save_for_backward(*(spectra if keep_spectra else (u, h)))
        ctx.n, ctx.chunk, ctx.keep_spectra = n, chunk, keep_spectra
        ctx.u_meta, ctx.h_meta = (u.dtype, u.shape), (h.dtype, h.shape)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        (u_dtype, u_shape), (fft_dtype, h_shape) = ctx.u_meta, ctx.h_meta
        n, seq_len = ctx.n, u_shape[-1]
        need_u, need_h = ctx.needs_input_grad[:2]
        grad_u = grad.new_empty(u_shape, dtype=u_dtype) if need_u else None
        grad_h = grad.new_empty(h_shape, dtype=fft_dtype) if need_h else None
        batch_dims = tuple(range(len(u_shape) - 2))
        for i, sl in enumerate(_channel_slices(h_shape[0], ctx.chunk)):
            if ctx.keep_spectra:
                uf, hf = saved[2 * i], saved[2 * i + 1]
            else:
                u, h = saved
                uf, hf = None, torch.fft.rfft(h[sl], n=n)
            gf = torch.fft.rfft(grad[..., sl, :].to(fft_dtype), n=n)
            if need_h:
                if uf is None:
                    uf = torch.fft.rfft(u[..., sl, :].to(fft_dtype), n=n)
                cross = gf * uf.conj()
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
    keep_spectra: bool | None = None,
) -> torch.Tensor:
    """The same operator as `causal_fft_conv` for real inputs, built for long contexts.

    `u` is (..., C, L), in any float dtype; `h` is (C, L). The FFTs run in float32 (float64
    for float64 input) with the smallest 7-smooth length >= 2L (`smooth_fft_length`); the
    output has `u`'s dtype (under bf16 autocast the only error beyond the reference's is
    that final rounding).
    Channels are processed in chunks of at most `max_spectrum_elements` complex bins per
    spectrum, so transient memory is bounded whatever the length. The filter spectrum is
    computed once per call (shared by the whole batch). `keep_spectra` (default: below
    RECOMPUTE_SPECTRA_FROM_LENGTH) keeps the forward's spectra for backward; otherwise
    backward recomputes them from the input kept in its own dtype. Complex inputs go to the
    reference implementation.
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
    if keep_spectra is None:
        keep_spectra = seq_len < RECOMPUTE_SPECTRA_FROM_LENGTH
    with torch.autocast(device_type=u.device.type, enabled=False):
        return _LeanCausalFFTConv.apply(u, h, n, chunk, keep_spectra)
