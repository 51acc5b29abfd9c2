"""Model evidence on a micro cascade: real checkpoints trained on CPU, Captum's TracInCP
self-influence checked against the per-example head gradient computed by hand, and the
cascade's aggregation writing row scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from synthos.analysis.localize import LocalizeConfig, cascade_models, localize
from synthos.analysis.localize.model_evidence import read_rows, table_encoder
from synthos.lit_modules import load_module
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def micro_cascade(tmp_path_factory):
    """The smoke cascade (2 + 2 + 1 jobs of a few steps) on the bundled table pair."""
    root = tmp_path_factory.mktemp("cascade")
    command = [
        sys.executable,
        "train.py",
        "+cascade=smoke",
        "trainer=cpu",
        "logger=csv",
        "data=tabular_pair",
        f"paths.log_dir={root}",
        f"paths.data_dir={root / 'data'}",
        "cascade.validation_id=micro",
    ]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = root / "cascade" / "micro"
    plan = json.loads((sweep / "cascade_plan.json").read_text())
    return sweep, plan["dataset"]["path"], plan["reference_path"]


def test_aggregation_writes_row_scores_with_model_evidence(micro_cascade):
    sweep, candidate, _ = micro_cascade
    report = json.loads((sweep / "report.json").read_text())
    used = {e["name"] for e in report["localization"]["evidence_used"]}
    assert {"model_loss", "model_target_loss", "tracin_self_influence"} <= used
    scores = pq.read_table(sweep / "row_scores.parquet")
    assert scores.num_rows == pq.read_metadata(candidate).num_rows


def test_tracin_self_influence_is_the_head_gradient_norm(micro_cascade):
    sweep, candidate, reference = micro_cascade
    config = LocalizeConfig(model_rows=40)
    result = localize(candidate, reference, sweep, config=config)
    influence = result.column("tracin_self_influence")
    sampled = np.flatnonzero(np.isfinite(influence))
    assert sampled.size == 40
    assert np.all(influence[sampled] > 0)
    assert np.isfinite(result.column("model_loss")[sampled]).all()
    summary = next(e for e in result.evidence if e["name"] == "model_loss")
    assert summary["models"] == 2 and summary["rows_scored"] == 40

    models = [m for m in cascade_models.find_models(sweep) if m.tier == 1]
    first = models[0].load()
    rows = sampled[:5]
    encoded = table_encoder(first)(
        read_rows(candidate, cascade_models.tabular_vocab(first).names, rows, config)
    )
    expected = np.zeros(len(rows))
    for model in models:
        net = load_module(str(model.checkpoint)).net.eval()
        captured = {}
        hook = net.io.head.register_forward_hook(lambda m, i, o, into=captured: into.update(h=i[0]))
        with torch.no_grad():
            logits = net(torch.as_tensor(encoded.inputs))[:, -1].float()
        hook.remove()
        hidden = captured["h"][:, -1]
        targets = torch.as_tensor(encoded.targets[:, -1])
        # d loss / d logits = softmax - one-hot; the head's per-example weight gradient is
        # its outer product with the head's input, whose squared norm factorises.
        grad = F.softmax(logits, dim=-1) - F.one_hot(targets, logits.shape[-1]).float()
        lr = float(load_module(str(model.checkpoint)).optim.lr)
        expected += lr * (grad.pow(2).sum(-1) * hidden.pow(2).sum(-1)).numpy()
    assert np.allclose(influence[rows], expected, rtol=1e-3)


def test_training_rows_follow_each_variant(micro_cascade):
    sweep, candidate, _ = micro_cascade
    models = cascade_models.find_models(sweep)
    trained = [cascade_models.training_rows(m.load(), candidate) for m in models if m.tier == 1]
    n = pq.read_metadata(candidate).num_rows
    assert all(t is not None and 0 < len(t) < n for t in trained)
    assert not np.array_equal(trained[0], trained[1])  # variants draw their own sub-samples
    assert cascade_models.training_rows(models[0].load(), "/elsewhere.parquet") is None


def test_validate_carries_the_prediction_of_a_cascade_on_the_same_data(micro_cascade, tmp_path):
    """`synthos validate --cascade` shows the cascade's prediction when the cascade was
    trained on this candidate, and says why not for other data."""
    from synthos.validate import ValidateOptions, validate

    sweep, candidate, reference = micro_cascade
    options = ValidateOptions(localize=LocalizeConfig(model_rows=16), recommend=None)
    same = validate(candidate, reference, sweep, run_dir=tmp_path / "run", options=options)
    trained = json.loads((sweep / "report.json").read_text())
    assert trained["prediction"] is not None
    assert same.report["prediction"] == trained["prediction"]
    assert same.report["prediction_unavailable"] == trained["prediction_unavailable"]
    other = validate(reference, reference, sweep, run_dir=tmp_path / "run", options=options)
    assert other.report["prediction"] is None
    assert "trained on other data" in other.report["prediction_unavailable"]
