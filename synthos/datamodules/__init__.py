"""DataModules: files in, batches and a TaskSpec out.

Importing the package registers the `${synthos.sample:...}` OmegaConf resolver, so any config
composed after `import synthos.datamodules` can point at the bundled sample data.
"""

from synthos.datamodules.sample_data import register_resolvers, sample_series, sample_text
from synthos.datamodules.series import TimeSeriesDataModule
from synthos.datamodules.text import TextDataModule

register_resolvers()

__all__ = [
    "TextDataModule",
    "TimeSeriesDataModule",
    "register_resolvers",
    "sample_series",
    "sample_text",
]
