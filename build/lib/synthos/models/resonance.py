"""Resonance NN: an attention-free language model that mixes tokens by causal FFT convolution.

Each block mixes along time with long filters (one family per head, from local to global
scale), modulated in the frequency domain and gated by the data in the time domain, then
mixes along channels with a gated, spectrally filtered feed-forward. Every step that touches
time is causal: outputs at t never depend on inputs after t.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from synthos.errors import ErrorCode, ModelError
from synthos.models.causal_fft_conv import (
    causal_fft_conv,
    fft_length,
    lean_causal_fft_conv,
    project_to_causal,
)
from synthos.models.common import (
    GatedFFN,
    HasAuxiliaryLoss,
    ResidualProjection,
    RMSNorm,
    SequenceModel,
    SequenceModelConfig,
)
from synthos.models.compile_guard import GuardedCompile

#: Token-mixer implementations: the same operator, computed two ways (see `AdvancedSpectralGating`).
MIXER_IMPLS = ("reference", "fast")


@dataclass
class ResonanceConfig(SequenceModelConfig):
    n_heads: int = 4
    n_freqs: int = 64
    short_conv: int = 3
    spectral_gating: bool = True
    n_modulation_basis: int = 8
    frequency_selector: bool = False
    n_frequency_bands: int = 16
    sparsity_weight: float = 1e-3
    hierarchical_chunk: int | None = None
    # "reference": plain autograd through torch.fft; "fast": `lean_causal_fft_conv`
    # (same outputs up to float32 round-off, less memory, FFT sizes with small factors).
    mixer_impl: str = "reference"
    # The fast mixer's conv and gating under torch.compile (CUDA only; eager elsewhere).
    compile_mixer: bool = False

    def validate(self) -> None:
        super().validate()
        if self.mixer_impl not in MIXER_IMPLS:
            raise ModelError(
                f"mixer_impl must be one of {', '.join(MIXER_IMPLS)}, got {self.mixer_impl!r}",
                code=ErrorCode.MODEL_CONFIG,
            )
        if self.d_model % self.n_heads:
            raise ModelError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}",
                code=ErrorCode.MODEL_CONFIG,
            )
        if self.n_freqs < 1 or self.short_conv < 1 or self.n_modulation_basis < 1:
            raise ModelError(
                "n_freqs, short_conv and n_modulation_basis must be >= 1",
                code=ErrorCode.MODEL_CONFIG,
            )
        if self.hierarchical_chunk is not None and self.hierarchical_chunk < 2:
            raise ModelError("hierarchical_chunk must be >= 2 or null", code=ErrorCode.MODEL_CONFIG)


class MultiHeadFrequencyLayer(nn.Module):
    """Long filters h_c[t] = exp(-alpha_h t) * sum_k (a_ck cos(w_hk t) + b_ck sin(w_hk t)).

    Channels are grouped into heads; each head owns its frequencies and decay, with decays
    spread log-uniformly from a few tokens to the full context so the heads cover local to
    global scales. The parameterisation is length-free: filters exist at any length up to
    the model's context without parameters growing with it.
    """

    def __init__(self, d_model: int, n_heads: int, n_freqs: int, max_seq_len: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        # Decay half-lives from 2 tokens up to the maximum context.
        half_lives = torch.logspace(math.log10(2.0), math.log10(max(max_seq_len, 4)), n_heads)
        self.log_decay = nn.Parameter(torch.log(math.log(2.0) / half_lives))
        # Frequencies spread over (0, pi) with a per-head offset so the heads' grids differ
        # and no common period aliases a long lag onto a short one.
        grid = (torch.arange(n_freqs) + 0.5) / n_freqs
        offsets = (torch.arange(n_heads).unsqueeze(1) + 1) / (n_heads + 1) / n_freqs
        self.freqs = nn.Parameter(math.pi * (grid.unsqueeze(0) + offsets - 0.5 / n_freqs))
        self.cos_coef = nn.Parameter(torch.randn(d_model, n_freqs) / math.sqrt(n_freqs))
        self.sin_coef = nn.Parameter(torch.randn(d_model, n_freqs) / math.sqrt(n_freqs))

    def forward(self, seq_len: int) -> torch.Tensor:
        """Filters (d_model, seq_len) at lags 0..seq_len-1."""
        t = torch.arange(seq_len, device=self.freqs.device, dtype=torch.float32)
        phase = self.freqs.float().unsqueeze(-1) * t  # (H, K, L)
        envelope = torch.exp(-torch.exp(self.log_decay.float()).unsqueeze(-1) * t)  # (H, L)
        cos_basis = torch.cos(phase) * envelope.unsqueeze(1)
        sin_basis = torch.sin(phase) * envelope.unsqueeze(1)
        cos_coef = self.cos_coef.float().view(self.n_heads, self.head_dim, -1)
        sin_coef = self.sin_coef.float().view(self.n_heads, self.head_dim, -1)
        filters = torch.einsum("hck,hkl->hcl", cos_coef, cos_basis) + torch.einsum(
            "hck,hkl->hcl", sin_coef, sin_basis
        )
        return filters.reshape(-1, seq_len)


class AdaptiveFrequencySelector(HasAuxiliaryLoss, nn.Module):
    """A learned soft mask over frequency bands of each head's filter spectra.

    Sparsity is a constraint on the filters (with an L1-style penalty), never a mask on the
    input spectrum: a data-dependent mask on the input cannot be causal.
    """

    def __init__(self, n_heads: int, n_bands: int, sparsity_weight: float) -> None:
        super().__init__()
        self.band_logits = nn.Parameter(torch.full((n_heads, n_bands), 3.0))
        self.sparsity_weight = sparsity_weight

    def mask(self, n_bins: int) -> torch.Tensor:
        """(n_heads, n_bins) mask, piecewise linear between band centres."""
        probs = torch.sigmoid(self.band_logits.float()).unsqueeze(0)
        return F.interpolate(probs, size=n_bins, mode="linear", align_corners=True)[0]

    def auxiliary_loss(self) -> torch.Tensor:
        return self.sparsity_weight * torch.sigmoid(self.band_logits).mean()


class SpectralModulation(nn.Module):
    """Per-head smooth magnitude and phase responses, as cosine/sine series over frequency.

    Starts as the identity (zero coefficients) so a fresh model uses the raw filters.
    """

    def __init__(self, n_heads: int, n_basis: int) -> None:
        super().__init__()
        self.log_magnitude = nn.Parameter(torch.zeros(n_heads, n_basis))
        self.phase = nn.Parameter(torch.zeros(n_heads, n_basis))

    def forward(self, n_bins: int) -> torch.Tensor:
        """(n_heads, n_bins) complex response."""
        f = torch.linspace(0, 1, n_bins, device=self.phase.device)
        j = torch.arange(1, self.phase.shape[1] + 1, device=f.device, dtype=torch.float32)
        cos_basis = torch.cos(math.pi * j.unsqueeze(1) * f)  # (J, bins)
        sin_basis = torch.sin(math.pi * j.unsqueeze(1) * f)
        magnitude = torch.exp(self.log_magnitude.float() @ cos_basis)
        return torch.polar(magnitude, self.phase.float() @ sin_basis)


class HierarchicalFFT(nn.Module):
    """Causal multi-scale convolution for very long contexts.

    Exact convolution inside chunks of `chunk` steps, plus a coarse stream: chunk means
    convolved with the filter sampled at chunk-sized lags, shifted by one chunk so a position
    only receives summaries of chunks that ended before its own chunk began.
    """

    def __init__(self, chunk: int) -> None:
        super().__init__()
        self.chunk = chunk

    def forward(
        self,
        u: torch.Tensor,
        h: torch.Tensor,
        conv: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = causal_fft_conv,
    ) -> torch.Tensor:
        """u: (B, C, L), h: (C, L) causal filter -> (B, C, L); `conv` is the exact causal
        convolution used inside chunks and between chunk summaries."""
        return hierarchical_fft_conv(u, h, self.chunk, conv)


def hierarchical_fft_conv(
    u: torch.Tensor,
    h: torch.Tensor,
    chunk: int,
    conv: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = causal_fft_conv,
) -> torch.Tensor:
    """`HierarchicalFFT`'s computation as a function (so a compiled mixer can call it)."""
    batch, channels, seq_len = u.shape
    c = chunk
    n_chunks = -(-seq_len // c)
    pad = n_chunks * c - seq_len
    u_padded = F.pad(u, (0, pad))
    h_padded = F.pad(h, (0, pad + c))
    chunks = u_padded.view(batch, channels, n_chunks, c).transpose(1, 2)
    local = conv(chunks, h_padded[:, :c]).transpose(1, 2).reshape(batch, channels, -1)
    if n_chunks == 1:
        return local[..., :seq_len]
    summaries = u_padded.view(batch, channels, n_chunks, c).mean(-1)  # (B, C, n_chunks)
    # Coarse filter at lag m chunks: the mean filter value over lags m*c +- c/2, times c.
    centred = F.pad(h_padded, (c // 2, 0))[:, : (n_chunks + 1) * c]
    coarse_filter = c * centred.reshape(channels, n_chunks + 1, c).mean(-1)[:, :n_chunks]
    coarse_filter = torch.cat(
        [torch.zeros_like(coarse_filter[:, :1]), coarse_filter[:, 1:]], dim=1
    )  # lag 0 excluded: the current chunk is covered exactly by the local part
    coarse = conv(summaries, coarse_filter)
    out = local + coarse.repeat_interleave(c, dim=-1)
    return out[..., :seq_len]


class AdvancedSpectralGating(nn.Module):
    """The token mixer: y = out( g2 * (h * (g1 * v)) + skip * v ).

    v, g1, g2 are projections of the input after a short causal depthwise convolution; the
    elementwise gates make the mixing data-dependent while staying causal (same position);
    the long filters h come from `MultiHeadFrequencyLayer`, are modulated per head in the
    frequency domain (magnitude, phase and optional band selection) and projected back onto
    causal support before use. `config.mixer_impl` picks the reference computation or the
    fast one (`fast_spectral_mix`), which give the same outputs up to float32 round-off.
    """

    def __init__(self, config: ResonanceConfig) -> None:
        super().__init__()
        d = config.d_model
        self.config = config
        self.in_proj = nn.Linear(d, 3 * d, bias=False)
        self.short_conv = nn.Conv1d(
            3 * d, 3 * d, config.short_conv, groups=3 * d, padding=config.short_conv - 1
        )
        self.filters = MultiHeadFrequencyLayer(
            d, config.n_heads, config.n_freqs, config.max_seq_len
        )
        self.modulation = (
            SpectralModulation(config.n_heads, config.n_modulation_basis)
            if config.spectral_gating
            else None
        )
        self.selector = (
            AdaptiveFrequencySelector(
                config.n_heads, config.n_frequency_bands, config.sparsity_weight
            )
            if config.frequency_selector
            else None
        )
        self.hierarchical = (
            HierarchicalFFT(config.hierarchical_chunk) if config.hierarchical_chunk else None
        )
        self.skip = nn.Parameter(torch.ones(d))
        self.out_proj = ResidualProjection(d, d, bias=False)
        self.fast_mix = GuardedCompile(fast_spectral_mix, config.compile_mixer)

    def causal_filters(self, seq_len: int) -> torch.Tensor:
        """The filters actually applied: (d_model, seq_len), supported on lags 0..L-1."""
        h = self.filters(seq_len)
        if self.modulation is None and self.selector is None:
            return h
        n = fft_length(seq_len)
        spectrum = torch.fft.rfft(h, n=n).view(self.config.n_heads, -1, n // 2 + 1)
        if self.modulation is not None:
            spectrum = spectrum * self.modulation(n // 2 + 1).unsqueeze(1)
        if self.selector is not None:
            spectrum = spectrum * self.selector.mask(n // 2 + 1).unsqueeze(1)
        return project_to_causal(spectrum.reshape(-1, n // 2 + 1), seq_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq_len = x.shape[1]
        z = self.in_proj(x).transpose(1, 2)  # (B, 3D, L)
        z = self.short_conv(z)[..., :seq_len]  # left padding only: causal
        if self.config.mixer_impl == "fast":
            # Filters are functions of parameters only: float32 even under autocast, and
            # recomputed in backward instead of keeping their (heads, freqs, L) bases and
            # 2L-bin spectra (gigabytes at 128K, against milliseconds of recomputation).
            with torch.autocast(device_type=x.device.type, enabled=False):
                if torch.is_grad_enabled():
                    h = checkpoint(self.causal_filters, seq_len, use_reentrant=False)
                else:
                    h = self.causal_filters(seq_len)
            chunk = self.hierarchical.chunk if self.hierarchical is not None else 0
            y = self.fast_mix(z, h, self.skip, chunk if seq_len > chunk else 0)
            return self.out_proj(y.transpose(1, 2))
        v, g1, g2 = z.chunk(3, dim=1)
        h = self.causal_filters(seq_len)
        u = (g1 * v).float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            if self.hierarchical is not None and seq_len > self.hierarchical.chunk:
                mixed = self.hierarchical(u, h)
            else:
                mixed = causal_fft_conv(u, h)
        y = g2 * mixed.to(v.dtype) + self.skip.unsqueeze(-1) * v
        return self.out_proj(y.transpose(1, 2))


def fast_spectral_mix(z: torch.Tensor, h: torch.Tensor, skip: torch.Tensor, chunk: int):
    """The fast mixer between the short convolution and the output projection:
    g2 * (h * (g1 * v)) + skip * v, with z = [v; g1; g2] on channels (B, 3D, L), h the causal
    filters (D, L) and `chunk` > 0 for the hierarchical convolution. The arithmetic (and so
    the dtypes under autocast) is the reference's; only the convolution's implementation
    differs (`lean_causal_fft_conv`)."""
    v, g1, g2 = z.chunk(3, dim=1)
    u = g1 * v
    if chunk:
        mixed = hierarchical_fft_conv(u.float(), h, chunk, lean_causal_fft_conv).to(v.dtype)
    else:
        mixed = lean_causal_fft_conv(u, h)
    return g2 * mixed + skip.unsqueeze(-1) * v


class SpectralFFN(GatedFFN):
    """Gated feed-forward with a learned filter over the hidden channels' spectrum.

    The FFT runs along channels of one position, never along time, so it stays causal.
    """

    def __init__(self, d_model: int, mult: float, dropout: float = 0.0) -> None:
        super().__init__(d_model, mult, dropout)
        hidden = self.down.in_features
        self.channel_filter = nn.Parameter(torch.ones(hidden // 2 + 1, dtype=torch.complex64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(x)
        with torch.autocast(device_type=x.device.type, enabled=False):
            spectrum = torch.fft.rfft(hidden.float(), dim=-1) * self.channel_filter
            filtered = torch.fft.irfft(spectrum, n=hidden.shape[-1], dim=-1)
        return self.dropout(self.down(filtered.to(hidden.dtype)))


class SpectralMixerBlock(nn.Module):
    """Pre-norm residual block: time mixing, then channel mixing."""

    def __init__(self, config: ResonanceConfig) -> None:
        super().__init__()
        self.mixer_norm = RMSNorm(config.d_model)
        self.mixer = AdvancedSpectralGating(config)
        self.ffn_norm = RMSNorm(config.d_model)
        self.ffn = SpectralFFN(config.d_model, config.ffn_mult, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.mixer(self.mixer_norm(x)))
        return x + self.ffn(self.ffn_norm(x))


class ResonanceNN(SequenceModel):
    config_class = ResonanceConfig

    def build_block(self, layer: int) -> nn.Module:
        return SpectralMixerBlock(self.config)
