"""The recommender's settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecommendConfig:
    """What the recommender proposes and how it measures each fix.

    seeds: random-control draws and retrained models per measured dataset (at least 3).
    measure_impact: retrain tier-1 models on every fixed dataset (and its control), besides
        re-running the collapse detector on it (which always happens: it takes seconds).
    profile: the cascade profile whose tier 1 is retrained (`synthos/conf/cascade/<profile>.yaml`).
    overrides: extra `train.py` overrides for every retraining (e.g. trainer=cpu logger=csv).
    combine_top: the best fixes (by measured impact) also applied together, as one more fix.
    mix_ratio: reference rows mixed in, as a share of the candidate's rows.
    rebalance_gap: total-variation distance between the candidate's and the reference's
        class shares above which rebalancing is proposed.
    max_recommendations: recommendations kept (best first).
    level: level of the intervals over seeds.
    train_timeout_s: the most one retraining sweep may take.
    only: measure only these fix categories (None: every fix that applies).
    """

    seeds: int = 3
    measure_impact: bool = False
    profile: str = "quick"
    overrides: list[str] = field(default_factory=lambda: ["trainer=cpu", "logger=csv"])
    combine_top: int = 3
    mix_ratio: float = 0.2
    rebalance_gap: float = 0.05
    max_recommendations: int = 10
    level: float = 0.9
    train_timeout_s: float = 3600.0
    only: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.seeds < 3:
            raise ValueError(f"seeds must be >= 3 (an interval needs them), got {self.seeds}")
        if not 0 < self.mix_ratio <= 1:
            raise ValueError(f"mix_ratio must be in (0, 1], got {self.mix_ratio}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.combine_top < 0 or self.max_recommendations < 1:
            raise ValueError("combine_top must be >= 0 and max_recommendations >= 1")
