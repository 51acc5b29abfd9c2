"""Causal long convolution by FFT, the O(L log L) primitive both model families share."""

from __future__ import annotations

import torch


def fft_length(seq_len: int) -> int:
    """Smallest power of two >= 2 * seq_len: linear (not circular) convolution, fast FFT sizes."""
    return 1 << (2 * seq_len - 1).bit_length()


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
