"""Multivariate forecasting: MSE loss and skill against a seasonal-naive forecast."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from synthos.forecast_windows import forecast_targets, instance_scale, seasonal_naive
from synthos.lit_modules.base import SequenceLightningModule


class ForecastSkill(Metric):
    """1 - MSE(model) / MSE(seasonal naive), pooled over all forecasts of an epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state(
            "model_sq", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state(
            "naive_sq", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )

    def update(self, forecast: torch.Tensor, naive: torch.Tensor, actual: torch.Tensor) -> None:
        self.model_sq += (forecast.double() - actual.double()).pow(2).sum()
        self.naive_sq += (naive.double() - actual.double()).pow(2).sum()

    def compute(self) -> torch.Tensor:
        return 1.0 - self.model_sq / self.naive_sq.clamp_min(1e-12)


class ForecastingModule(SequenceLightningModule):
    """Batches are FloatTensor windows (B, context + horizon, F).

    Training scores the forecast made at every position (all are valid forecast origins
    for a causal model) in window units; evaluation scores the forecast from the end of the
    context, the one a user would get, in data units, against the seasonal-naive forecast
    from the same history.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.val_skill = ForecastSkill()
        self.test_skill = ForecastSkill()

    def forecast(self, history: torch.Tensor) -> torch.Tensor:
        """Forecast the `horizon` steps after `history` (B, L, F): (B, horizon, F), data units."""
        loc, scale = instance_scale(history)
        return self.net((history - loc) / scale)[:, -1].float() * scale + loc

    def step_loss(self, batch: torch.Tensor, stage: str) -> torch.Tensor:
        window = batch["window"] if isinstance(batch, dict) else batch
        horizon = self.task.horizon
        context = window.shape[1] - horizon
        history = window[:, :context]
        loc, scale = instance_scale(history)
        scaled = (window - loc) / scale
        forecasts = self.net(scaled[:, :context])  # (B, L, H, F), window units
        loss = F.mse_loss(forecasts.float(), forecast_targets(scaled, context, horizon))
        if stage != "train":
            actual = window[:, context:]
            final = forecasts[:, -1].float() * scale + loc
            season = self.task.season_length or 1
            if season > context:
                season = 1
            skill = getattr(self, f"{stage}_skill")
            skill.update(final, seasonal_naive(history, horizon, season), actual)
            self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True)
            self.log(f"{stage}/mse", F.mse_loss(final, actual), on_epoch=True)
            self.log(f"{stage}/skill", skill, prog_bar=True, on_epoch=True)
        return loss

    def batch_tokens(self, batch: Any) -> int:
        """Forecast origins: every context position of every window."""
        window = batch["window"] if isinstance(batch, dict) else batch
        return window.shape[0] * (window.shape[1] - self.task.horizon)

    def evaluation_terms(self, batch: Any) -> dict[str, torch.Tensor]:
        """Squared errors per window (window units, every origin, as the training loss) and
        the final forecast's squared errors against the seasonal-naive one (data units)."""
        window = batch["window"] if isinstance(batch, dict) else batch
        horizon = self.task.horizon
        context = window.shape[1] - horizon
        history = window[:, :context]
        loc, scale = instance_scale(history)
        scaled = (window - loc) / scale
        forecasts = self.net(scaled[:, :context]).float()
        errors = (forecasts - forecast_targets(scaled, context, horizon)).pow(2)
        final = forecasts[:, -1] * scale + loc
        season = self.task.season_length or 1
        naive = seasonal_naive(history, horizon, 1 if season > context else season)
        actual = window[:, context:]
        return {
            "loss_sum": errors.flatten(1).sum(dim=1),
            "loss_count": torch.full_like(errors[:, 0, 0, 0], errors[0].numel()),
            "model_sq": (final - actual).pow(2).flatten(1).sum(dim=1),
            "naive_sq": (naive - actual).pow(2).flatten(1).sum(dim=1),
        }
