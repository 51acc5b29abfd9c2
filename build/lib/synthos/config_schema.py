"""Typed schemas for Hydra: a misspelled or mistyped override fails at composition.

Each schema is derived from what it configures, so a field exists in one place only: the
model dataclasses plus a `_target_`; the DataModules' and Lightning Trainer's `__init__`
signatures (a type OmegaConf cannot check is left untyped, the name still checked); the
cascade's own dataclasses. Configs list their schema first in their defaults.
"""

from __future__ import annotations

import inspect
import os
import typing
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING, OmegaConf

from synthos.cascade.plan import CascadeSchema
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


#: Types OmegaConf validates; anything else in a signature is kept as Any.
_CHECKED = {int, float, str, bool, int | None, float | None, str | None, bool | None}
_CHECKED |= {list[str] | None, list[int] | None, list[str], list[int], list[float]}


def signature_schema(cls: type, target: str) -> type:
    """A dataclass of `cls.__init__`'s parameters (typed where OmegaConf can check the type,
    required where the signature has no default) plus `_target_`."""
    hints = typing.get_type_hints(cls.__init__)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=target))]
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(name, Any)
        kind = hint if hint in _CHECKED else Any
        default = MISSING if param.default is inspect.Parameter.empty else param.default
        if isinstance(default, (list, dict)):
            fields.append((name, kind, field(default_factory=lambda d=default: d)))
        else:
            fields.append((name, kind, field(default=default)))
    return make_dataclass(f"{cls.__name__}Schema", fields)


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
    _register_data_and_trainer(store)
    store.store(name="cascade_schema", node={"cascade": CascadeSchema})
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


def _register_data_and_trainer(store: ConfigStore) -> None:
    import lightning.pytorch as pl

    from synthos.datamodules import TabularDataModule, TextDataModule, TimeSeriesDataModule

    for name, cls in (
        ("text_schema", TextDataModule),
        ("tabular_schema", TabularDataModule),
        ("series_schema", TimeSeriesDataModule),
    ):
        store.store(
            group="data",
            name=name,
            node=signature_schema(cls, f"synthos.datamodules.{cls.__name__}"),
        )
    store.store(
        group="trainer",
        name="trainer_schema",
        node=signature_schema(pl.Trainer, "lightning.pytorch.Trainer"),
    )
