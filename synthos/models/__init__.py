"""Pure torch sequence models (no Lightning): Resonance NN and Temporal Eigenstate Networks."""

from synthos.models.common import SequenceModel, SequenceModelConfig
from synthos.models.resonance import ResonanceConfig, ResonanceNN

__all__ = ["ResonanceConfig", "ResonanceNN", "SequenceModel", "SequenceModelConfig"]
