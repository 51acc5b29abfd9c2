"""DataModules: files in, batches and a TaskSpec out.

Importing the package registers the `${synthos.sample:...}` OmegaConf resolver, so any config
composed after `import synthos.datamodules` can point at the bundled sample data. The
DataModules (torch, Lightning) load on first use, so `synthos.datamodules.loading` alone
stays light.
"""

from importlib import import_module
from typing import Any

from synthos.datamodules.sample_data import (
    register_resolvers,
    sample_series,
    sample_table,
    sample_table_candidate,
    sample_text,
)

_LAZY = {
    "ModalityInference": "synthos.datamodules.modality",
    "infer_modality": "synthos.datamodules.modality",
    "TimeSeriesDataModule": "synthos.datamodules.series",
    "TabularDataModule": "synthos.datamodules.tabular",
    "TabularVocab": "synthos.datamodules.tabular",
    "TextDataModule": "synthos.datamodules.text",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


register_resolvers()

__all__ = [
    *_LAZY,
    "register_resolvers",
    "sample_series",
    "sample_table",
    "sample_table_candidate",
    "sample_text",
]
