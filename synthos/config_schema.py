"""Typed schemas for Hydra: a misspelled or mistyped override of a model fails at composition.

The schemas are the model dataclasses themselves plus a `_target_`, so a field exists in one
place only. Model presets in `synthos/conf/model/` list a schema first in their defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, OmegaConf

from synthos.cascade.plan import register_resolvers as register_cascade_resolvers
from synthos.datamodules.sample_data import register_resolvers as register_sample_resolver
from synthos.lit_modules.optim import OptimConfig
from synthos.models.common import SequenceModelConfig
from synthos.models.resonance import ResonanceConfig
from synthos.models.ten import TENConfig
from synthos.task import TaskSpec


def net_schema(config_cls: type[SequenceModelConfig], target: str) -> type:
    """The model's config dataclass plus `_target_`, with its input/output sizes taken from
    the module's task (so they always match the data)."""
    return make_dataclass(
        f"{config_cls.__name__}Schema",
        [
            ("_target_", str, field(default=target)),
            ("vocab_size", int | None, field(default=II("..task.vocab_size"))),
            ("n_features", int | None, field(default=II("..task.n_features"))),
            ("horizon", int, field(default=II("..task.horizon"))),
        ],
        bases=(config_cls,),
    )


@dataclass
class ModuleSchema:
    _target_: str = "synthos.lit_modules.build_module"
    _convert_: str = "object"
    task: TaskSpec = field(default_factory=TaskSpec)
    net: Any = MISSING
    optim: OptimConfig = field(default_factory=OptimConfig)
    activation_checkpointing: bool = False


def register_configs() -> None:
    """Schemas and the `${synthos.*}` resolvers. Idempotent: safe to call from train.py,
    tests and tools."""
    register_sample_resolver()
    register_cascade_resolvers()
    if not OmegaConf.has_resolver("synthos.cwd"):
        # The launch directory, usable before Hydra's own config exists (sweep dirs).
        OmegaConf.register_new_resolver("synthos.cwd", os.getcwd)
    store = ConfigStore.instance()
    store.store(group="model", name="module_schema", node=ModuleSchema)
    store.store(
        group="model/net",
        name="resonance_schema",
        node=net_schema(ResonanceConfig, "synthos.models.ResonanceNN"),
    )
    store.store(
        group="model/net",
        name="ten_schema",
        node=net_schema(TENConfig, "synthos.models.TemporalEigenstateNetwork"),
    )


def to_container(cfg: Any) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
