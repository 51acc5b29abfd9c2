"""Pure torch sequence models (no Lightning): Resonance NN and Temporal Eigenstate Networks."""

from synthos.models.common import SequenceModel, SequenceModelConfig
from synthos.models.resonance import ResonanceConfig, ResonanceNN
from synthos.models.ten import TemporalEigenstateNetwork, TENConfig

__all__ = [
    "ResonanceConfig",
    "ResonanceNN",
    "SequenceModel",
    "SequenceModelConfig",
    "TENConfig",
    "TemporalEigenstateNetwork",
]
