"""Every shipped config composes and instantiates; typed schemas reject bad overrides."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, HydraException
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from synthos.cascade.job import configure_job
from synthos.cascade.plan import CascadeJob, job_names
from synthos.datamodules.sample_data import sample_path
from synthos.lit_modules import ForecastingModule, LanguageModelModule
from synthos.models import SequenceModel
from synthos.training import parameter_counts
from tests.conftest import CONF_DIR, compose_train

MODEL_PRESETS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
PARAMETER_TARGETS = {"tiny": 76e6, "small": 454e6, "base": 983e6}
CONTEXT = {"micro": 131072, "mini": 32768, "tiny": 16384, "small": 65536, "base": 131072}


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def test_every_family_has_every_preset():
    for family in ("resonance", "ten"):
        for size in ("micro", "mini", "tiny", "small", "base"):
            assert f"{family}_{size}" in MODEL_PRESETS


@pytest.mark.parametrize("preset", MODEL_PRESETS)
def test_model_preset_instantiates_to_lightning_module_with_pure_net(make_cfg, preset):
    cfg = make_cfg(f"model={preset}")
    size = preset.split("_")[1]
    with torch.device("meta"):  # the large presets need no memory this way
        module = instantiate(cfg.model)
    assert isinstance(module, LanguageModelModule)
    assert isinstance(module.net, SequenceModel)
    assert module.net.config.vocab_size == 50257
    assert module.net.config.max_seq_len == CONTEXT[size]
    if size in PARAMETER_TARGETS:
        count = sum(p.numel() for p in module.net.parameters())
        target = PARAMETER_TARGETS[size]
        assert abs(count - target) / target <= 0.03, f"{preset}: {count:,} vs {target:,.0f}"


@pytest.mark.parametrize("preset", ["resonance_micro", "ten_micro"])
def test_language_model_contract(make_cfg, preset):
    """net(tokens (B, L)) -> logits (B, L, V), as other tools rely on."""
    module = instantiate(make_cfg(f"model={preset}", "model.task.vocab_size=97").model)
    logits = module.net(torch.randint(0, 97, (2, 12)))
    assert logits.shape == (2, 12, 97)


@pytest.mark.parametrize("enabled", [False, True])
@pytest.mark.parametrize("preset", ["resonance_micro", "ten_micro"])
def test_activation_checkpointing_switch_recomputes_blocks(make_cfg, preset, enabled):
    cfg = make_cfg(
        f"model={preset}",
        "model.task.vocab_size=97",
        f"model.activation_checkpointing={enabled}",
    )
    module = instantiate(cfg.model).train()
    calls = []
    for block in module.net.blocks:
        block.register_forward_pre_hook(lambda *_: calls.append(1))
    module.net(torch.randint(0, 97, (2, 12))).sum().backward()
    # With checkpointing each block's forward starts again during backward (recomputation).
    assert len(calls) == len(module.net.blocks) * (2 if enabled else 1)


@pytest.mark.parametrize("preset", ["resonance_micro", "ten_micro"])
def test_forecasting_task_builds_forecasting_module(make_cfg, preset):
    cfg = make_cfg(
        f"model={preset}",
        "model.task.kind=forecasting",
        "model.task.n_features=3",
        "model.task.horizon=4",
        "model.task.vocab_size=null",
    )
    module = instantiate(cfg.model)
    assert isinstance(module, ForecastingModule)
    assert module.net(torch.randn(2, 10, 3)).shape == (2, 10, 4, 3)


@pytest.mark.parametrize("data", group_options("data"))
def test_data_configs_compose_and_instantiate(make_cfg, data_dir, data):
    cfg = make_cfg(f"data={data}")
    if OmegaConf.is_missing(cfg.data, "path"):  # generic configs: the user gives the path
        kind = "text" if cfg.data._target_.endswith("TextDataModule") else "series"
        cfg = make_cfg(f"data={data}", f"data.path={sample_path(kind, str(data_dir))}")
    datamodule = instantiate(cfg.data)
    assert Path(datamodule.hparams.path).is_file()


@pytest.mark.parametrize("trainer", group_options("trainer"))
def test_trainer_configs_instantiate(make_cfg, trainer):
    cfg = make_cfg(f"trainer={trainer}", "trainer.accelerator=cpu")
    trainer_obj = instantiate(cfg.trainer)
    assert trainer_obj.max_epochs == cfg.trainer.max_epochs
    # Every trainer clips gradients by their global norm.
    assert trainer_obj.gradient_clip_val == 1.0
    assert trainer_obj.gradient_clip_algorithm == "norm"


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_callback_and_logger_options_instantiate_their_targets(make_cfg, group):
    for option in group_options(group):
        cfg = make_cfg(f"{group}={option}")
        for entry in (cfg.get(group) or {}).values():
            if entry:
                assert isinstance(instantiate(entry), get_class(entry._target_))


#: What each debug and experiment option sets, against the default composition.
OPTION_CHANGES = {
    "debug=default": {
        "task_name": "debug",
        "trainer.accelerator": "cpu",
        "trainer.detect_anomaly": True,
        "trainer.max_epochs": 1,
    },
    "debug=fdr": {"trainer.fast_dev_run": True, "trainer.detect_anomaly": True},
    "debug=limit": {
        "trainer.limit_train_batches": 5,
        "trainer.limit_val_batches": 2,
        "trainer.limit_test_batches": 2,
    },
    "experiment=sample_series": {
        "data._target_": "synthos.datamodules.TimeSeriesDataModule",
        "model.net._target_": "synthos.models.TemporalEigenstateNetwork",
        "trainer.max_epochs": 30,
    },
    "experiment=sample_text": {
        "data._target_": "synthos.datamodules.TextDataModule",
        "model.net._target_": "synthos.models.ResonanceNN",
        "trainer.max_steps": 400,
    },
}


def test_every_debug_and_experiment_option_is_described():
    shipped = {f"{g}={o}" for g in ("debug", "experiment") for o in group_options(g)}
    assert shipped == set(OPTION_CHANGES)


@pytest.mark.parametrize("option", sorted(OPTION_CHANGES))
def test_debug_and_experiment_options_set_what_they_promise(make_cfg, option):
    base, cfg = make_cfg(), make_cfg(option)
    changed = False
    for key, value in OPTION_CHANGES[option].items():
        assert OmegaConf.select(cfg, key) == value, key
        changed |= OmegaConf.select(base, key) != value
    assert changed, f"{option} changes nothing against the default composition"


def test_cascade_is_not_in_root_defaults():
    defaults = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "train.yaml").defaults)
    groups = [next(iter(d)) if isinstance(d, dict) else d for d in defaults]
    assert "data" in groups and "model" in groups and "cascade" not in groups


@pytest.mark.parametrize(
    "override, needle",
    [
        ("model.net.d_model=abc", "d_model"),
        ("model.net.dmodel=64", "dmodel"),
        ("model.optim.lr=fast", "lr"),
        ("model.net.spectral_gating=maybe", "spectral_gating"),
        ("model.activation_checkpointing=3.5", "activation_checkpointing"),
        ("data.batch_size=many", "batch_size"),
        ("data=series_sample data.horizon=1.5", "horizon"),
        ("trainer.max_epochs=forever", "max_epochs"),
        ("+cascade=quick cascade.level=high", "level"),
    ],
)
def test_bad_overrides_fail_at_composition(make_cfg, override, needle):
    with pytest.raises(
        (ConfigCompositionException, HydraException, OmegaConfBaseException)
    ) as info:
        make_cfg(*override.split())
    message = str(info.value) + str(getattr(info.value, "__cause__", ""))
    assert needle in message


@pytest.mark.parametrize(
    "option, body, needle",
    [
        ("experiment=typo", "data:\n  batchsize: 8", "batchsize"),
        ("experiment=typo", "trainer:\n  max_step: 10", "max_step"),
        ("+cascade=typo", "cascade:\n  budget_fraction: [0.5]", "budget_fraction"),
        (
            "+cascade=typo",
            "cascade:\n  tiers: [{variants: 2, data_fractions: 0.5}]",
            "data_fractions",
        ),
    ],
)
def test_a_misspelled_key_in_a_config_file_fails_at_composition(
    make_cfg, tmp_path, option, body, needle
):
    """A user's own experiment or cascade profile with a typo: the schemas reject the key."""
    group = option.split("=")[0].lstrip("+")
    (tmp_path / group).mkdir()
    head = "defaults:\n  - /cascade/quick\n  - _self_\n" if group == "cascade" else ""
    text = f"# @package _global_\n{head}{body}\n"
    (tmp_path / group / "typo.yaml").write_text(text)
    with pytest.raises(
        (ConfigCompositionException, HydraException, OmegaConfBaseException)
    ) as info:
        make_cfg(f"hydra.searchpath=[file://{tmp_path}]", option)
    assert needle in str(info.value) + str(getattr(info.value, "__cause__", ""))


def test_interpolated_io_follows_the_task(make_cfg):
    cfg = make_cfg("model.task.vocab_size=300")
    assert cfg.model.net.vocab_size == 300
    assert math.isfinite(cfg.model.optim.lr)


@pytest.mark.parametrize("profile, expected", [("quick", [10, 5, 3]), ("smoke", [2, 2, 1])])
@pytest.mark.parametrize("family", ["resonance", "ten"])
def test_cascade_profiles_compose_with_their_jobs_and_models(make_cfg, profile, expected, family):
    cfg = make_cfg(f"+cascade={profile}", f"cascade.family={family}")
    assert cfg.hydra.mode.name == "MULTIRUN"
    jobs = str(cfg.hydra.sweeper.params["cascade.job"]).split(",")
    assert jobs == job_names(expected)
    sizes, splits, vocabularies = [], set(), set()
    for tier in (1, 2, 3):
        job_cfg = configure_job(cfg, CascadeJob(tier, 1 if tier < 3 else 0))
        with torch.device("meta"):
            module = instantiate(job_cfg.model)
        sizes.append(parameter_counts(module.net)["parameters_no_embedding"])
        assert job_cfg.data.train_fraction == cfg.cascade.tiers[tier - 1].data_fraction
        # Every job: its own training seed, the validation's split seed and one vocabulary.
        assert job_cfg.seed != cfg.seed and job_cfg.data.seed == cfg.seed
        splits.add(job_cfg.data.seed)
        vocabularies.add(job_cfg.data.get("vocab_path") or job_cfg.data.get("tokenizer_path"))
        assert job_cfg.model.optim.schedule == "wsd"
    assert sizes == sorted(sizes) and len(set(sizes)) == 3, sizes
    assert len(splits) == 1 and len(vocabularies) == 1
    if profile == "quick":
        assert math.log10(sizes[-1] / sizes[0]) >= 1.5, sizes


def test_full_cascade_has_18_jobs_over_the_gpu_presets(tmp_path, data_dir):
    cfg = compose_train(["+cascade=full"], tmp_path, data_dir)
    assert len(str(cfg.hydra.sweeper.params["cascade.job"]).split(",")) == 18
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.cascade.tiers[2].trainer.strategy == "ddp_spawn"
    names = [configure_job(cfg, CascadeJob(t, 0)).model.net.d_model for t in (1, 2, 3)]
    assert names == [512, 1024, 1536]
