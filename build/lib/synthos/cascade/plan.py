"""The cascade's tier plan: which model and data budget each of its jobs gets.

A sweep job is named `t<tier>v<variant>` (the sweep lists the names), so a job's directory,
checkpoints, seed and data sub-sample follow from its name alone: re-running the cascade
finds every job's earlier state in the same place, whatever launcher ran it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from synthos.errors import ErrorCode, SynthosError

JOB_NAME = re.compile(r"^t(\d+)v(\d+)$")


@dataclass
class TierSchema:
    """One tier of a profile: how many variants, the share of the training rows each gets
    and the trainer settings (steps, evaluation limits) its jobs override."""

    variants: int
    data_fraction: float = 1.0
    trainer: dict[str, Any] = field(default_factory=dict)


@dataclass
class CascadeSchema:
    """The types of the `cascade` node; its values and their meaning are in
    `synthos/conf/cascade_common.yaml` and the profiles (a misspelled key fails at composition)."""

    profile: str
    family: str
    validation_id: str
    seed: int
    level: float
    target_params: int
    target_tokens: int | None
    tokens_per_param: float
    budget_fractions: list[float]
    cooldown_fraction: float
    warmup_steps: int
    job: str
    tier: int
    variant: int
    models_total: int
    verbose: bool
    run_tiers: list[int] | None
    localize: bool
    localize_model_rows: int
    devices_per_job: int | None
    device_slots: int | None
    models: dict[str, Any]
    tiers: list[TierSchema]
    #: Set by the parallel launchers only.
    parallel_jobs: int | None = None


@dataclass(frozen=True)
class CascadeJob:
    tier: int
    variant: int

    @property
    def name(self) -> str:
        return f"t{self.tier}v{self.variant}"

    @classmethod
    def parse(cls, name: str) -> CascadeJob:
        match = JOB_NAME.match(str(name))
        if not match:
            raise SynthosError(
                ErrorCode.MODEL_CONFIG,
                f"cascade job name {name!r} is not of the form t<tier>v<variant> (e.g. t1v0)",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def seed(self, base_seed: int) -> int:
        """Distinct per job, stable across re-runs."""
        return base_seed + 1000 * self.tier + self.variant


def job_names(variants_per_tier: list[int]) -> list[str]:
    """All jobs of a plan, tier by tier: [10, 5, 3] -> t1v0..t1v9, t2v0..t2v4, t3v0..t3v2."""
    return [
        CascadeJob(tier, variant).name
        for tier, count in enumerate(variants_per_tier, start=1)
        for variant in range(count)
    ]


def cascade_job_list(tiers: Any, run_tiers: Any = None) -> str:
    """Resolver: the sweep's job list, e.g. "t1v0,t1v1,...,t3v2", from the tiers' variants;
    only the tiers in `run_tiers` (1-based) when it is given, e.g. tiers 1-2 under a parallel
    launcher and tier 3 with DDP in a second launch of the same cascade."""
    names = job_names([int(tier["variants"]) for tier in tiers])
    if run_tiers is None:
        return ",".join(names)
    wanted = {int(t) for t in run_tiers}
    unknown = wanted - set(range(1, len(tiers) + 1))
    if unknown:
        raise SynthosError(
            ErrorCode.MODEL_CONFIG,
            f"cascade.run_tiers names tiers {sorted(unknown)} that the plan does not have "
            f"(tiers 1..{len(tiers)})",
        )
    return ",".join(n for n in names if CascadeJob.parse(n).tier in wanted)


def validation_id(*parts: Any) -> str:
    """Resolver: a stable id from what defines a validation (data, profile, family), so the
    same command reuses the same sweep dir and resumes."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"v-{digest[:10]}"


#: DataModule class name -> the model family a cascade uses for it unless told otherwise:
#: TEN's recurrences suit time series; Resonance NN is the default for token sequences.
DEFAULT_FAMILY = {"TimeSeriesDataModule": "ten"}


def default_family(datamodule_target: str) -> str:
    """Resolver: the cascade's model family for a DataModule (`data._target_`)."""
    return DEFAULT_FAMILY.get(str(datamodule_target).rsplit(".", 1)[-1], "resonance")


def register_resolvers() -> None:
    for name, fn in (
        ("synthos.cascade_jobs", cascade_job_list),
        ("synthos.validation_id", validation_id),
        ("synthos.default_family", default_family),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
