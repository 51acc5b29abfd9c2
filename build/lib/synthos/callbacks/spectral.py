"""Spectral diagnostics of a training run: how many directions the representations use,
and what the token mixers' filters or eigenvalues look like.

A model that collapses tends to show it here first: the residual stream loses rank, the
Resonance filters pile all their energy into one band, or TEN eigenvalues all drift to
the origin (no memory) or onto the unit circle (no forgetting). The helpers at the top are
the one implementation of effective rank in Synthos; `RunHealthMonitor` reuses them.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from synthos.forecast_windows import instance_scale
from synthos.task import FORECASTING


def normalized_entropy(weights: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy of non-negative `weights` (normalised along `dim`) divided by
    log(n): 1 for a flat distribution, 0 when one entry holds everything."""
    weights = weights.double().clamp_min(0)
    n = weights.shape[dim]
    if n < 2:
        return torch.zeros_like(weights.sum(dim)).float()
    total = weights.sum(dim, keepdim=True)
    p = weights / total.clamp_min(torch.finfo(torch.float64).tiny)
    entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(dim)
    return (entropy / math.log(n)).float()


def matrix_spectrum(matrix: torch.Tensor, centre: bool = True, rtol: float = 1e-6) -> torch.Tensor:
    """Singular values of the (n, d) matrix (rows centred first), float64 on the matrix's
    device. Values below `rtol` times the uncentred matrix's norm are dropped: a
    representation that is constant up to rounding noise has rank 0, not the high rank of
    its noise."""
    x = matrix.detach().double()
    scale = torch.linalg.matrix_norm(x).item()
    if centre:
        x = x - x.mean(0, keepdim=True)
    if scale == 0 or not math.isfinite(scale):
        return x.new_zeros(0)
    s = torch.linalg.svdvals(x)
    return s[s > rtol * scale]


def effective_rank(matrix: torch.Tensor, centre: bool = True) -> float:
    """exp(entropy of the normalised singular values) (Roy & Vetterli, 2007).

    Equals k for a matrix with k equal singular values and decays smoothly as the spectrum
    concentrates; 0 for a (numerically) constant matrix. Rows are observations (tokens),
    columns features (d_model)."""
    s = matrix_spectrum(matrix, centre)
    if s.numel() == 0:
        return 0.0
    p = s / s.sum()
    return float(torch.exp(-(p * torch.log(p)).sum()))


def attainable_rank(n_rows: int, n_cols: int, centre: bool = True) -> int:
    """The largest rank a (n_rows, n_cols) matrix can have (centring removes one)."""
    return max(1, min(n_cols, n_rows - 1 if centre else n_rows))


def spectral_entropy(matrix: torch.Tensor, centre: bool = True) -> float:
    """Normalised entropy of the variance spectrum (squared singular values), in [0, 1]:
    how evenly the representation spreads its energy over its attainable directions."""
    s = matrix_spectrum(matrix, centre)
    if s.numel() == 0:
        return 0.0
    n = attainable_rank(*matrix.shape, centre=centre)
    padded = torch.cat([s.pow(2), s.new_zeros(max(0, n - s.numel()))])
    return float(normalized_entropy(padded))


def batch_tensor(pl_module: pl.LightningModule, batch: Any) -> torch.Tensor | None:
    """The data tensor of a Synthos batch: `tokens` (language model) or `window`
    (forecaster), given bare, in a dict, or first in a tuple."""
    if isinstance(batch, dict):
        kind = getattr(getattr(pl_module, "task", None), "kind", None)
        batch = batch.get("window" if kind == FORECASTING else "tokens")
    elif isinstance(batch, (list, tuple)):
        batch = batch[0] if batch else None
    return batch if isinstance(batch, torch.Tensor) else None


def probe_inputs(
    pl_module: pl.LightningModule, batch: Any, max_rows: int, max_len: int
) -> torch.Tensor | None:
    """A small network input taken from a validation batch, as the module would feed it:
    tokens[:, :-1] for a language model, the instance-scaled history of a forecasting
    window. None when the batch has a form this does not know."""
    task = getattr(pl_module, "task", None)
    is_forecast = getattr(task, "kind", None) == FORECASTING
    batch = batch_tensor(pl_module, batch)
    if batch is None or batch.dim() < 2 or batch.shape[1] < 2:
        return None
    batch = batch[:max_rows].detach()
    if is_forecast:
        history = batch[:, : batch.shape[1] - task.horizon][:, -max_len:].float()
        if history.shape[1] < 1:
            return None
        loc, scale = instance_scale(history)
        return ((history - loc) / scale).clone()
    return batch[:, :-1][:, :max_len].clone()


def filter_spectrum_stats(filters: torch.Tensor) -> dict[str, float]:
    """Magnitude-spectrum summary of causal filters (channels, length): mean and max
    magnitude, share of energy below half the Nyquist frequency, normalised entropy of
    each channel's power spectrum (mean over channels; 1 = white, 0 = one frequency)."""
    magnitude = torch.fft.rfft(filters.detach().float(), dim=-1).abs()
    power = magnitude.double().pow(2)
    n_bins = magnitude.shape[-1]
    low = power[..., : max(1, n_bins // 2)].sum()
    return {
        "mean_magnitude": float(magnitude.mean()),
        "max_magnitude": float(magnitude.max()),
        "low_freq_energy": float(low / power.sum().clamp_min(1e-300)),
        "entropy": float(normalized_entropy(power, dim=-1).mean()),
    }


def eigenvalue_stats(log_lambdas: list[torch.Tensor], unit_tol: float) -> dict[str, float]:
    """|lambda| summary of recurrences lambda = exp(log_lambda): min, mean, max and the
    share within `unit_tol` of the unit circle (memories that barely fade)."""
    radius = torch.cat([torch.exp(ll.detach().real.double()).flatten() for ll in log_lambdas])
    return {
        "abs_min": float(radius.min()),
        "abs_mean": float(radius.mean()),
        "abs_max": float(radius.max()),
        "near_unit": float((radius >= 1.0 - unit_tol).double().mean()),
    }


def layer_modules(net: nn.Module) -> list[tuple[int, nn.Module]]:
    """(layer index, block) pairs: the residual blocks when the net has them."""
    blocks = getattr(net, "blocks", None)
    if isinstance(blocks, nn.ModuleList):
        return list(enumerate(blocks))
    return [(0, net)]


def network(pl_module: nn.Module) -> nn.Module:
    """The pure network inside a Synthos LightningModule (the module itself otherwise)."""
    return getattr(pl_module, "net", pl_module)


class ProbingCallback(Callback):
    """Keeps a fixed probe, taken from the first validation batch as the module would feed
    it (`probe_inputs`), for callbacks that measure the network on the same inputs each
    epoch."""

    def __init__(self, probe_rows: int, probe_len: int) -> None:
        self.probe_rows = probe_rows
        self.probe_len = probe_len
        self.probe: torch.Tensor | None = None

    def on_validation_batch_start(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.probe is None and batch_idx == 0 and dataloader_idx == 0:
            self.probe = probe_inputs(pl_module, batch, self.probe_rows, self.probe_len)


class SpectralMetrics(ProbingCallback):
    """Once per validation epoch (never in the sanity check), on a fixed probe taken from
    the first validation batch: effective rank and spectral entropy of the residual stream
    after the embedding (layer 0) and after each block, and summaries of the mixers'
    filter spectra (modules with `causal_filters(seq_len)`, Resonance) or eigenvalues
    (modules with `log_lambda()`, TEN). Logged under `spectral/...`; the latest values,
    without the prefix, stay in `self.latest` for ProgressStream.

    Keys: `effective_rank/layer{i}`, `entropy/layer{i}` (i = 0 is the embedding),
    `effective_rank/last`, `effective_rank_ratio/{last,min}` (over the attainable rank),
    `entropy/last`; `filter/[layer{i}/]{mean_magnitude,max_magnitude,low_freq_energy,
    entropy}`; `eigen/[layer{i}/]{abs_min,abs_mean,abs_max,near_unit}`. Filters are
    summarised over the model's context (`max_seq_len`, at most `max_filter_len` lags)
    unless `filter_len` is given.
    """

    def __init__(
        self,
        probe_rows: int = 8,
        probe_len: int = 256,
        filter_len: int | None = None,
        max_filter_len: int = 4096,
        unit_circle_tol: float = 0.01,
        per_layer: bool = True,
    ) -> None:
        super().__init__(probe_rows, probe_len)
        self.filter_len = filter_len
        self.max_filter_len = max_filter_len
        self.unit_circle_tol = unit_circle_tol
        self.per_layer = per_layer
        self.latest: dict[str, float] = {}

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values = self.compute(pl_module)
        if not values:
            return
        for key, value in values.items():
            pl_module.log(f"spectral/{key}", value, on_step=False, on_epoch=True)
        self.latest = {**values, "step": int(trainer.global_step)}

    @torch.no_grad()
    def compute(self, pl_module: nn.Module) -> dict[str, float]:
        """All metrics for the current weights, as {name: value}."""
        net = network(pl_module)
        out: dict[str, float] = {}
        if self.probe is not None and hasattr(net, "hidden_states"):
            out.update(self._hidden_metrics(net, self.probe))
        out.update(self._mixer_metrics(net, self._filter_len(net)))
        return out

    def _filter_len(self, net: nn.Module) -> int:
        """Lags to summarise filters over: the model's context, capped for memory."""
        if self.filter_len:
            return self.filter_len
        context = getattr(getattr(net, "config", None), "max_seq_len", None)
        if context:
            return int(min(context, self.max_filter_len))
        return self.probe.shape[1] if self.probe is not None else 256

    def _hidden_metrics(self, net: nn.Module, probe: torch.Tensor) -> dict[str, float]:
        was_training = net.training
        net.eval()
        try:
            states = net.hidden_states(probe)
        finally:
            net.train(was_training)
        out: dict[str, float] = {}
        ranks, ratios, entropies = [], [], []
        for state in states:
            matrix = state.reshape(-1, state.shape[-1])
            ranks.append(effective_rank(matrix))
            ratios.append(ranks[-1] / attainable_rank(*matrix.shape))
            entropies.append(spectral_entropy(matrix))
        if self.per_layer:
            for i, (rank, entropy) in enumerate(zip(ranks, entropies, strict=True)):
                out[f"effective_rank/layer{i}"] = rank
                out[f"entropy/layer{i}"] = entropy
        out["effective_rank/last"] = ranks[-1]
        out["effective_rank_ratio/last"] = ratios[-1]
        out["effective_rank_ratio/min"] = min(ratios)
        out["entropy/last"] = entropies[-1]
        return out

    def _mixer_metrics(self, net: nn.Module, seq_len: int) -> dict[str, float]:
        out: dict[str, float] = {}
        filter_layers: list[dict[str, float]] = []
        eigen_layers: list[dict[str, float]] = []
        for i, block in layer_modules(net):
            filters = [
                m.causal_filters(seq_len)
                for m in block.modules()
                if callable(getattr(m, "causal_filters", None))
            ]
            lambdas = [
                m.log_lambda() for m in block.modules() if callable(getattr(m, "log_lambda", None))
            ]
            if filters:
                stats = filter_spectrum_stats(torch.cat(filters))
                filter_layers.append(stats)
                if self.per_layer:
                    out.update({f"filter/layer{i}/{k}": v for k, v in stats.items()})
            if lambdas:
                stats = eigenvalue_stats(lambdas, self.unit_circle_tol)
                eigen_layers.append(stats)
                if self.per_layer:
                    out.update({f"eigen/layer{i}/{k}": v for k, v in stats.items()})
        if filter_layers:
            out.update(_pool(filter_layers, "filter", {"max_magnitude": max}))
        if eigen_layers:
            out.update(_pool(eigen_layers, "eigen", {"abs_min": min, "abs_max": max}))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"latest": dict(self.latest)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.latest = dict(state_dict.get("latest", {}))


def _pool(layers: list[dict[str, float]], prefix: str, reducers: dict) -> dict[str, float]:
    """Across-layer summary: the mean, or the reducer named for that statistic."""
    out = {}
    for key in layers[0]:
        values = [layer[key] for layer in layers]
        reduce = reducers.get(key, lambda v: sum(v) / len(v))
        out[f"{prefix}/{key}"] = float(reduce(values))
    return out
