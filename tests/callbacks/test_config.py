"""The callbacks are built by Hydra from plain config values."""

from hydra.utils import instantiate
from omegaconf import OmegaConf

from synthos.callbacks import GradientStats, ProgressStream, RunHealthMonitor, SpectralMetrics

CONFIG = """
progress:
  _target_: synthos.callbacks.ProgressStream
  validation_id: val-7
  tier: 2
  variant: 1
  models_total: 18
  sweep_dir: ${sweep}
  interval_s: 10
spectral:
  _target_: synthos.callbacks.SpectralMetrics
  probe_rows: 4
gradients:
  _target_: synthos.callbacks.GradientStats
  exploding_threshold: 100.0
run_health:
  _target_: synthos.callbacks.RunHealthMonitor
  stop_on_collapse: true
  rank_fraction: 0.1
"""


def test_callbacks_instantiate_from_config(tmp_path):
    cfg = OmegaConf.create(CONFIG)
    cfg.sweep = str(tmp_path)
    built = {name: instantiate(entry) for name, entry in cfg.items() if name != "sweep"}
    progress = built["progress"]
    assert isinstance(progress, ProgressStream)
    assert progress.jsonl_path == str(tmp_path / "progress.jsonl")
    assert (progress.tier, progress.variant, progress.models_total) == (2, 1, 18)
    assert isinstance(built["spectral"], SpectralMetrics) and built["spectral"].probe_rows == 4
    assert isinstance(built["gradients"], GradientStats)
    assert built["gradients"].exploding_threshold == 100.0
    assert (
        isinstance(built["run_health"], RunHealthMonitor) and built["run_health"].stop_on_collapse
    )
