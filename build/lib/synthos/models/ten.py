"""Temporal Eigenstate Networks (DESIGN section 3): attention-free sequence models whose token
mixer is a diagonal complex linear recurrence over K eigenstates.

Because the recurrence is time-invariant it has two exact forms: a causal FFT convolution for
training (O(K L log L)) and a step-by-step update with O(K) state for streaming inference.
Both are exactly causal; tests check that they agree and that no output reads the future.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synthos.errors import ErrorCode, ModelError
from synthos.models.causal_fft_conv import causal_fft_conv
from synthos.models.common import (
    GatedFFN,
    ResidualProjection,
    RMSNorm,
    SequenceModel,
    SequenceModelConfig,
)

# Streaming state of one cell: the complex eigenstate amplitudes, (batch, K).
CellState = torch.Tensor


@dataclass
class TENConfig(SequenceModelConfig):
    """TEN hyper-parameters on top of the shared ones.

    `n_eigenstates` is K for every TemporalFlowCell (a hierarchical layer has one cell per
    scale). `scales` other than (1,) makes every layer a HierarchicalTEN (which cannot
    stream). `coupling_eps` bounds how far the coupling R = I + eps M may leave the
    identity. `min_decay`/`max_decay` set the ring |lambda| starts on: memories of roughly
    1 / (1 - |lambda|) steps.
    """

    n_eigenstates: int = 64
    scales: tuple[int, ...] = (1,)
    coupling_eps: float = 0.05
    eigen_attention: bool = True
    min_decay: float = 0.9
    max_decay: float = 0.999

    def __post_init__(self) -> None:
        # YAML / Hydra hand lists; a tuple keeps the config hashable and comparable.
        self.scales = tuple(self.scales)

    def validate(self) -> None:
        super().validate()

        def fail(message: str) -> None:
            raise ModelError(message, code=ErrorCode.MODEL_CONFIG)

        if self.n_eigenstates < 1:
            fail(f"n_eigenstates must be >= 1, got {self.n_eigenstates}")
        if not self.scales:
            fail("scales must name at least one scale, e.g. (1,) or (1, 2, 4, 8)")
        if any(not isinstance(s, int) or s < 1 for s in self.scales):
            fail(f"scales must be positive integers, got {self.scales}")
        if len(set(self.scales)) != len(self.scales):
            fail(f"scales must be distinct, got {self.scales}")
        if not 0.0 <= self.coupling_eps <= 1.0:
            fail(
                f"coupling_eps must be in [0, 1] (R = I + eps M stays near I), got "
                f"{self.coupling_eps}"
            )
        if not 0.0 < self.min_decay <= self.max_decay < 1.0:
            fail(
                "need 0 < min_decay <= max_decay < 1 (|lambda| = 1 never forgets and blows "
                f"up the state), got min_decay={self.min_decay}, max_decay={self.max_decay}"
            )
        if not 0.0 <= self.dropout < 1.0:
            fail(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def streamable(self) -> bool:
        return self.scales == (1,)


def _realify(matrix: torch.Tensor) -> torch.Tensor:
    """Real (2n, 2n) form of a complex (n, n) matrix acting on interleaved (re, im) pairs."""
    re, im = matrix.real, matrix.imag
    blocks = torch.stack([re, -im, im, re], dim=-1).unflatten(-1, (2, 2))  # (n, n, 2, 2)
    return blocks.transpose(1, 2).flatten(2, 3).flatten(0, 1)


class ResonanceBlock(nn.Module):
    """Eigenstate coupling R = I + eps * M.

    A diagonal recurrence keeps eigenstates independent; R lets the readout mix them. M is
    tanh-bounded entrywise (scaled by 1/sqrt(K)), so R cannot drift far from the identity
    however training pushes it.
    """

    def __init__(self, n_eigenstates: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.logits = nn.Parameter(torch.randn(2, n_eigenstates, n_eigenstates) * 0.5)

    def matrix(self) -> torch.Tensor:
        k = self.logits.shape[-1]
        m = torch.complex(*torch.tanh(self.logits).unbind(0)) / math.sqrt(k)
        eye = torch.eye(k, dtype=m.dtype, device=m.device)
        return eye + self.eps * m

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """Couple complex eigenstates `state` (..., K)."""
        return state @ self.matrix().transpose(0, 1)


class EigenstateAttention(nn.Module):
    """Data-dependent readout weights: a softmax over the K eigenstates, scored from x_t.

    Scores come from the input at the same step only, so the readout stays causal. Weights
    are scaled by K so that uniform scores reproduce the plain readout, and scores start at
    zero: random initial scores would jitter every eigenstate's contribution step by step
    and blur the delay kernels the recurrence has to learn.
    """

    def __init__(self, d_model: int, n_eigenstates: int) -> None:
        super().__init__()
        self.score = nn.Linear(d_model, n_eigenstates)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) inputs -> (..., K) non-negative weights with mean 1."""
        return torch.softmax(self.score(x).float(), dim=-1) * self.score.out_features


class TemporalFlowCell(nn.Module):
    """Diagonal complex recurrence c_t = lambda c_{t-1} + g B x_t, y_t = Re(C R (a_t c_t)).

    lambda = exp(-exp(nu) + i theta) always has |lambda| < 1. g = sqrt(1 - |lambda|^2) keeps
    the state's variance O(1) however long the memory. a_t are the EigenstateAttention
    weights (ones without it). Parallel mode convolves with the kernel g lambda^s by FFT;
    `step` runs the recurrence with O(K) state. Complex vectors travel as interleaved
    (re, im) pairs of real ones: `in_proj` yields (Re, Im) of B x, and `out_proj` holds
    (Re C, -Im C), so the shared residual initialisation applies to it.
    """

    def __init__(
        self,
        d_model: int,
        n_eigenstates: int,
        *,
        coupling_eps: float = 0.05,
        eigen_attention: bool = True,
        min_decay: float = 0.9,
        max_decay: float = 0.999,
    ) -> None:
        super().__init__()
        k = n_eigenstates
        self.n_eigenstates = k
        self.in_proj = nn.Linear(d_model, 2 * k, bias=False)  # rows (Re B_k, Im B_k)
        self.out_proj = ResidualProjection(2 * k, d_model, bias=False)
        self.coupling = ResonanceBlock(k, coupling_eps)
        self.attention = EigenstateAttention(d_model, k) if eigen_attention else None
        # Ring init: |lambda|^2 uniform in [min^2, max^2] (uniform over the ring's area) and
        # phases evenly over (0, pi), a Fourier-like basis in which a fixed delay of up to
        # ~2K steps is representable.
        radius = torch.sqrt(min_decay**2 + torch.rand(k) * (max_decay**2 - min_decay**2))
        self.nu = nn.Parameter(torch.log(-torch.log(radius)))
        self.theta = nn.Parameter(math.pi * (torch.arange(k) + 0.5) / k)

    def log_lambda(self) -> torch.Tensor:
        return torch.complex(-torch.exp(self.nu), self.theta)

    def input_gain(self) -> torch.Tensor:
        """sqrt(1 - |lambda|^2), computed without cancellation for |lambda| near 1."""
        return torch.sqrt(-torch.expm1(-2 * torch.exp(self.nu)))

    def project_in(self, x: torch.Tensor) -> torch.Tensor:
        """B x as complex (..., K)."""
        return torch.view_as_complex(self.in_proj(x).float().unflatten(-1, (-1, 2)))

    def readout(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Re(C R (a_t * c_t)); x (..., D) supplies the attention scores."""
        if self.attention is not None:
            state = state * self.attention(x)
        weight = self.out_proj.weight.float()
        if state.numel() > weight.numel():
            # Many steps (parallel mode): fold R into C once (D 4K^2) rather than per step.
            weight = weight @ _realify(self.coupling.matrix())
        else:
            # Few steps (streaming): coupling the state is the cheaper order.
            state = self.coupling(state)
        return F.linear(torch.view_as_real(state).flatten(-2), weight).to(x.dtype)

    def kernel(self, seq_len: int) -> torch.Tensor:
        """(K, L) complex g lambda^s for s = 0..L-1, with lambda^s = exp(s log lambda).

        Phases s * theta reach ~L pi, so they are formed in float64 and rounded afterwards.
        """
        s = torch.arange(seq_len, device=self.nu.device, dtype=torch.float64)
        log_lam = self.log_lambda().to(torch.complex128)
        return torch.exp(log_lam[:, None] * s).to(torch.complex64) * self.input_gain()[:, None]

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """All eigenstate amplitudes c_1..c_L, (B, L, K) complex, by causal FFT convolution."""
        u = self.project_in(x).transpose(-1, -2)  # (B, K, L)
        return causal_fft_conv(u, self.kernel(x.shape[-2])).transpose(-1, -2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Parallel mode: (B, L, D) -> (B, L, D)."""
        return self.readout(x, self.states(x))

    def init_state(self, batch: int) -> CellState:
        return torch.zeros(batch, self.n_eigenstates, dtype=torch.complex64, device=self.nu.device)

    def step(self, x_t: torch.Tensor, state: CellState) -> tuple[torch.Tensor, CellState]:
        """Recurrent mode: one step (B, D) -> (B, D), O(K) state per sample."""
        state = torch.exp(self.log_lambda()) * state + self.input_gain() * self.project_in(x_t)
        return self.readout(x_t, state), state


class HierarchicalTEN(nn.Module):
    """Cells at several time scales, mixed with learned softmax weights.

    For scale s, x is mean-pooled over blocks of s steps (block j = steps js..js+s-1) and a
    cell runs on the pooled sequence. Steps in block j receive the coarse output of block
    j-1, which summarises steps < js only, so no step sees anything after itself. The tail
    is zero-padded to a whole block; padding only touches the last block, whose coarse
    output is never used, so it cannot change any output.
    """

    def __init__(self, d_model: int, scales: tuple[int, ...], **cell_kwargs: Any) -> None:
        super().__init__()
        self.scales = tuple(scales)
        self.cells = nn.ModuleList(TemporalFlowCell(d_model, **cell_kwargs) for _ in self.scales)
        self.scale_logits = nn.Parameter(torch.zeros(len(self.scales)))

    def scale_output(self, cell: TemporalFlowCell, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale == 1:
            return cell(x)
        batch, seq_len, d = x.shape
        n_blocks = -(-seq_len // scale)
        padded = F.pad(x, (0, 0, 0, n_blocks * scale - seq_len))
        pooled = padded.view(batch, n_blocks, scale, d).mean(dim=2)
        coarse = cell(pooled)
        # Shift one coarse step: block j gets block j-1's output, block 0 gets zeros.
        shifted = F.pad(coarse[:, :-1], (0, 0, 1, 0))
        return shifted.repeat_interleave(scale, dim=1)[:, :seq_len]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.scale_logits, dim=0)
        outputs = [
            self.scale_output(cell, x, s) for cell, s in zip(self.cells, self.scales, strict=True)
        ]
        return sum(w * y for w, y in zip(weights, outputs, strict=True))


class TENLayer(nn.Module):
    """Pre-norm residual layer: h += mixer(norm(h)); h += GatedFFN(norm(h))."""

    def __init__(self, config: TENConfig) -> None:
        super().__init__()
        d = config.d_model
        cell_kwargs = dict(
            n_eigenstates=config.n_eigenstates,
            coupling_eps=config.coupling_eps,
            eigen_attention=config.eigen_attention,
            min_decay=config.min_decay,
            max_decay=config.max_decay,
        )
        self.mix_norm = RMSNorm(d)
        if config.streamable:
            self.mixer: nn.Module = TemporalFlowCell(d, **cell_kwargs)
        else:
            self.mixer = HierarchicalTEN(d, config.scales, **cell_kwargs)
        self.ffn_norm = RMSNorm(d)
        self.ffn = GatedFFN(d, config.ffn_mult, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.dropout(self.mixer(self.mix_norm(h)))
        return h + self.ffn(self.ffn_norm(h))

    def step(self, h_t: torch.Tensor, state: CellState) -> tuple[torch.Tensor, CellState]:
        y, state = self.mixer.step(self.mix_norm(h_t), state)
        h_t = h_t + self.dropout(y)
        return h_t + self.ffn(self.ffn_norm(h_t)), state


class TemporalEigenstateNetwork(SequenceModel):
    """TEN language model or forecaster (see SequenceModel for the input/output contract).

    With scales == (1,) it also streams: `init_state` then `step` one position at a time,
    matching `forward` with O(n_layers K) state regardless of how long the stream runs.
    """

    config_class = TENConfig
    config: TENConfig

    def build_block(self, layer: int) -> nn.Module:
        return TENLayer(self.config)

    def reset_parameters(self) -> None:
        super().reset_parameters()  # re-draws every nn.Linear, the attention scores included
        for module in self.modules():
            if isinstance(module, EigenstateAttention):
                module.reset_parameters()

    def _require_streamable(self) -> None:
        if not self.config.streamable:
            raise ModelError(
                f"streaming needs a non-hierarchical TEN (scales=(1,)), this one has "
                f"scales={self.config.scales}; use forward() on the whole sequence instead",
                code=ErrorCode.MODEL_CONFIG,
            )

    def init_state(self, batch: int) -> list[CellState]:
        """Zero state for `step`: one (batch, K) complex tensor per layer."""
        self._require_streamable()
        return [block.mixer.init_state(batch) for block in self.blocks]

    def step(
        self, x_t: torch.Tensor, state: list[CellState]
    ) -> tuple[torch.Tensor, list[CellState]]:
        """One position: tokens (B,) -> logits (B, V), or values (B, F) -> (B, horizon, F).

        Matches `forward` in eval mode (dropout, if any, draws differently step by step).
        """
        self._require_streamable()
        h = self.io.embed(x_t.unsqueeze(1)).squeeze(1)
        new_state = []
        for block, s in zip(self.blocks, state, strict=True):
            h, s = block.step(h, s)
            new_state.append(s)
        return self.io.output(self.norm(h)), new_state
