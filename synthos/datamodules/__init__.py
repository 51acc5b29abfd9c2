"""DataModules: files in, batches and a TaskSpec out.

Importing the package registers the `${synthos.sample:...}` OmegaConf resolver, so any config
composed after `import synthos.datamodules` can point at the bundled sample data.
"""

from synthos.datamodules.modality import ModalityInference, infer_modality
from synthos.datamodules.sample_data import (
    register_resolvers,
    sample_series,
    sample_table,
    sample_text,
)
from synthos.datamodules.series import TimeSeriesDataModule
from synthos.datamodules.tabular import TabularDataModule, TabularVocab
from synthos.datamodules.text import TextDataModule

register_resolvers()

__all__ = [
    "ModalityInference",
    "TabularDataModule",
    "TabularVocab",
    "TextDataModule",
    "TimeSeriesDataModule",
    "infer_modality",
    "register_resolvers",
    "sample_series",
    "sample_table",
    "sample_text",
]
