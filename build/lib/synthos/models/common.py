"""Pieces both model families share: config base, input/output heads, the residual stack.

A family supplies its block (`build_block`); this module owns everything around it, so
token language models and multivariate forecasters work the same way for both families.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from synthos.errors import DataError, ErrorCode, ModelError


@dataclass
class SequenceModelConfig:
    """Fields every family has. Exactly one of `vocab_size` (language model) or
    `n_features` (forecaster) is set."""

    vocab_size: int | None = 50257
    n_features: int | None = None
    horizon: int = 1
    d_model: int = 128
    n_layers: int = 2
    max_seq_len: int = 2048
    ffn_mult: float = 8 / 3
    dropout: float = 0.0
    tie_embeddings: bool = True

    def validate(self) -> None:
        if (self.vocab_size is None) == (self.n_features is None):
            raise ModelError(
                "set exactly one of vocab_size (language model) or n_features (forecaster), "
                f"got vocab_size={self.vocab_size}, n_features={self.n_features}",
                code=ErrorCode.MODEL_CONFIG,
            )
        for name in ("d_model", "n_layers", "max_seq_len", "horizon"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} must be >= 1", code=ErrorCode.MODEL_CONFIG)

    @property
    def is_language_model(self) -> bool:
        return self.vocab_size is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (x.float() * scale).type_as(x) * self.weight


class ResidualProjection(nn.Linear):
    """The last projection of a residual branch. `SequenceModel` initialises these small
    (std / sqrt(2 n_layers)) so that a deep stack starts close to the identity."""


class HasAuxiliaryLoss:
    """A module that owns a regulariser. `SequenceModel.auxiliary_loss` adds each owner's
    term exactly once, however deeply it is nested; wrappers do not re-export it."""

    def auxiliary_loss(self) -> torch.Tensor:
        raise NotImplementedError


class GatedFFN(nn.Module):
    """SwiGLU feed-forward: position-wise, so causal by construction."""

    def __init__(self, d_model: int, mult: float, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = round(d_model * mult / 8) * 8
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = ResidualProjection(hidden, d_model, bias=False)
        self.dropout = nn.Dropout(dropout)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return F.silu(gate) * up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(self.hidden(x)))


class SequenceIO(nn.Module):
    """Token embedding and tied logits head, or feature projection and forecast head."""

    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        if config.is_language_model:
            self.embedding = nn.Embedding(config.vocab_size, d)
            self.head = nn.Linear(d, config.vocab_size, bias=False)
            if config.tie_embeddings:
                self.head.weight = self.embedding.weight
        else:
            self.embedding = nn.Linear(config.n_features, d)
            self.head = nn.Linear(d, config.n_features * config.horizon)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.is_language_model:
            if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
                raise DataError(
                    f"a language model takes integer tokens (B, L), got {x.dtype} {tuple(x.shape)}",
                    code=ErrorCode.DATA_SCHEMA,
                    expected="LongTensor of shape (batch, length)",
                )
        elif x.dim() != 3 or x.shape[-1] != cfg.n_features or not x.is_floating_point():
            raise DataError(
                f"a forecaster takes float features (B, L, {cfg.n_features}), "
                f"got {x.dtype} {tuple(x.shape)}",
                code=ErrorCode.DATA_SCHEMA,
                expected=f"float tensor of shape (batch, length, {cfg.n_features})",
            )
        if x.shape[1] > cfg.max_seq_len:
            raise DataError(
                f"sequence length {x.shape[1]} exceeds this model's maximum context "
                f"{cfg.max_seq_len}",
                code=ErrorCode.SEQUENCE_TOO_LONG,
                expected=f"length <= {cfg.max_seq_len} (truncate or use a larger preset)",
            )
        return self.embedding(x)

    def output(self, h: torch.Tensor) -> torch.Tensor:
        out = self.head(h)
        if self.config.is_language_model:
            return out
        return out.unflatten(-1, (self.config.horizon, self.config.n_features))


class SequenceModel(nn.Module):
    """Pre-norm residual stack between `SequenceIO` ends.

    Language model: (B, L) tokens -> (B, L, V) logits. Forecaster: (B, L, F) values ->
    (B, L, horizon, F), the forecast of steps t+1..t+horizon made at each position t.
    """

    config_class: ClassVar[type[SequenceModelConfig]] = SequenceModelConfig

    def __init__(self, config: SequenceModelConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        if config is None:
            config = self.config_class(**kwargs)
        elif kwargs:
            raise TypeError("pass either a config or keyword arguments, not both")
        config.validate()
        self.config = config
        self.io = SequenceIO(config)
        self.blocks = nn.ModuleList(self.build_block(i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.d_model)
        self.activation_checkpointing = False
        self.reset_parameters()

    def build_block(self, layer: int) -> nn.Module:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        std = self.config.d_model**-0.5
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        # Residual branches start small so deep stacks train stably.
        for module in self.modules():
            if isinstance(module, ResidualProjection):
                nn.init.normal_(module.weight, std=std / (2 * self.config.n_layers) ** 0.5)

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Residual stream after the embedding and after every block (for diagnostics)."""
        h = self.io.embed(x)
        states = [h]
        for block in self.blocks:
            h = self._run_block(block, h)
            states.append(h)
        return states

    def _run_block(self, block: nn.Module, h: torch.Tensor) -> torch.Tensor:
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, h, use_reentrant=False)
        return block(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.io.embed(x)
        for block in self.blocks:
            h = self._run_block(block, h)
        return self.io.output(self.norm(h))

    def auxiliary_loss(self) -> torch.Tensor:
        """The sum of every regulariser owner's term (e.g. frequency sparsity); zero when none."""
        terms = [m.auxiliary_loss() for m in self.modules() if isinstance(m, HasAuxiliaryLoss)]
        if not terms:
            return torch.zeros((), device=self.norm.weight.device)
        return torch.stack(terms).sum()
