"""Forecasting windows as the models see them: targets per position, instance scaling and
the seasonal-naive forecast that skill is measured against. Pure tensor transforms, shared by
the forecasting module and the training callbacks that probe it."""

from __future__ import annotations

import torch


def seasonal_naive(history: torch.Tensor, horizon: int, season: int) -> torch.Tensor:
    """Forecast steps 1..horizon after the end of `history` (B, L, F) by repeating the last
    season: step h takes the value one or more whole seasons earlier. Returns (B, H, F)."""
    length = history.shape[1]
    steps = torch.arange(1, horizon + 1, device=history.device)
    seasons_back = torch.div(steps + season - 1, season, rounding_mode="floor")
    index = length - 1 + steps - season * seasons_back
    return history[:, index]


def forecast_targets(window: torch.Tensor, context: int, horizon: int) -> torch.Tensor:
    """Targets (B, L, H, F): for position t, the values at t+1..t+H."""
    return window[:, 1:].unfold(1, horizon, 1)[:, :context].permute(0, 1, 3, 2)


def instance_scale(history: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window, per-series location and scale of the history (B, 1, F) each.

    The network sees each window in its own units, so a level or a trend that leaves the
    training range (as any trending series does by the test period) is no extrapolation.
    """
    loc = history.mean(dim=1, keepdim=True)
    scale = history.std(dim=1, keepdim=True, unbiased=False).clamp_min(eps)
    return loc, scale
