"""The contract between a dataset and the model trained on it.

A DataModule knows what its data asks of a model (vocabulary, number of series, forecast
horizon, season); the LightningModule and the network are built from this spec, so the two
sides never disagree and the spec travels inside checkpoints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LANGUAGE_MODEL = "language_model"
FORECASTING = "forecasting"


@dataclass
class TaskSpec:
    kind: str = LANGUAGE_MODEL
    vocab_size: int | None = 50257
    n_features: int | None = None
    horizon: int = 1
    season_length: int | None = None

    def __post_init__(self) -> None:
        if self.kind == LANGUAGE_MODEL:
            if not self.vocab_size or self.vocab_size < 2:
                raise ValueError(
                    f"a language-model task needs vocab_size >= 2, got {self.vocab_size}"
                )
            self.n_features = None
        elif self.kind == FORECASTING:
            if not self.n_features or self.n_features < 1:
                raise ValueError(f"a forecasting task needs n_features >= 1, got {self.n_features}")
            if self.horizon < 1:
                raise ValueError(f"horizon must be >= 1, got {self.horizon}")
            self.vocab_size = None
        else:
            raise ValueError(
                f"unknown task kind {self.kind!r}; expected {LANGUAGE_MODEL!r} or {FORECASTING!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
