"""The cascade's trained models as the localizer uses them: checkpoints, their tokenization,
and which candidate rows each one trained on.

A sweep directory holds one job per model (`t<tier>v<variant>/checkpoints/last.ckpt`, with
`metrics.json` saying whether it completed). A checkpoint carries the network's class and
config (`synthos.lit_modules.load_module` rebuilds it without Hydra), the DataModule's
hyper-parameters and its state: the tabular vocabulary, or the path of the text tokenizer.
Rebuilding the DataModule from those hyper-parameters and reading its training split gives
the rows a model trained on (its variant's sub-sample included), so a row's loss can be
taken under the models that never saw it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthos.errors import DataError, ErrorCode

JOB_DIR = re.compile(r"^t(\d+)v(\d+)$")
CHECKPOINT = Path("checkpoints") / "last.ckpt"


@dataclass
class CascadeModel:
    """One finished job of the sweep."""

    job: str
    tier: int
    checkpoint: Path

    def load(self) -> dict[str, Any]:
        import torch

        return torch.load(self.checkpoint, map_location="cpu", weights_only=False)


def find_models(sweep_dir: str | os.PathLike) -> list[CascadeModel]:
    """Completed jobs with a last checkpoint, smallest tier first."""
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise DataError(
            "cascade sweep directory not found",
            code=ErrorCode.DATA_NOT_FOUND,
            path=str(sweep),
            expected="a sweep directory written by `python train.py +cascade=...`",
        )
    models = []
    for child in sorted(sweep.iterdir()):
        match = JOB_DIR.match(child.name)
        if not match or not (child / CHECKPOINT).is_file():
            continue
        try:
            status = json.loads((child / "metrics.json").read_text()).get("status")
        except (OSError, json.JSONDecodeError):
            status = None
        if status == "completed":
            models.append(CascadeModel(child.name, int(match.group(1)), child / CHECKPOINT))
    return sorted(models, key=lambda m: (m.tier, m.job))


def datamodule_kind(checkpoint: dict[str, Any]) -> str:
    """ "tabular", "text" or "time_series", from the DataModule the checkpoint names."""
    target = str(
        ((checkpoint["hyper_parameters"].get("run_config") or {}).get("data") or {}).get(
            "_target_", ""
        )
    )
    for name, kind in (("Tabular", "tabular"), ("Text", "text"), ("Series", "time_series")):
        if name in target:
            return kind
    return "unknown"


def _datamodule(checkpoint: dict[str, Any]):
    from synthos.lit_modules.base import import_class

    target = checkpoint["hyper_parameters"]["run_config"]["data"]["_target_"]
    return import_class(target)(**checkpoint["datamodule_hyper_parameters"])


def same_file(a: Any, b: Any) -> bool:
    """Whether two dataset arguments name the same local file."""
    if not isinstance(a, (str, os.PathLike)) or not isinstance(b, (str, os.PathLike)):
        return False
    return os.path.realpath(os.fspath(a)) == os.path.realpath(os.fspath(b))


def training_rows(checkpoint: dict[str, Any], candidate: Any) -> np.ndarray | None:
    """Candidate rows (file positions) the checkpoint's model trained on; None when the
    cascade trained on another file (then no candidate row was seen) or it cannot tell."""
    hparams = checkpoint.get("datamodule_hyper_parameters") or {}
    if not same_file(hparams.get("path"), candidate):
        return None
    kind = datamodule_kind(checkpoint)
    datamodule = _datamodule(checkpoint)
    if kind == "tabular":
        datamodule.split_table("train")
        return np.sort(np.asarray(datamodule.split_rows["train"], dtype=np.int64))
    if kind == "text":
        from synthos.datamodules.subsample import quantile_buckets, stratified_subsample

        docs = datamodule.split_documents("train")
        rows = np.asarray(datamodule.split_rows["train"], dtype=np.int64)
        if datamodule.train_fraction < 1:
            strata = quantile_buckets(np.array([len(d) for d in docs]))
            rows = rows[
                stratified_subsample(strata, datamodule.train_fraction, datamodule.subsample_seed)
            ]
        return np.sort(rows)
    return None


def tabular_vocab(checkpoint: dict[str, Any]):
    from synthos.datamodules.tabular import TabularVocab

    state = checkpoint.get("TabularDataModule") or {}
    if not state.get("vocab"):
        raise DataError(
            "the checkpoint carries no tabular vocabulary",
            code=ErrorCode.DATA_FORMAT,
            expected="a checkpoint of a tabular cascade job",
        )
    return TabularVocab.from_dict(state["vocab"])


def text_tokenizer(checkpoint: dict[str, Any]):
    """The cascade's BPE tokenizer, its EOS id and the models' sequence length."""
    from synthos.datamodules import tokenizer as bpe

    hparams = checkpoint["datamodule_hyper_parameters"]
    path = hparams.get("tokenizer_path")
    if not path or not Path(path).is_file():
        raise DataError(
            "the cascade's tokenizer is missing",
            code=ErrorCode.DATA_NOT_FOUND,
            path=str(path),
            expected="the tokenizer.json the cascade's text jobs shared",
        )
    tok = bpe.load_tokenizer(path)
    return tok, bpe.eos_id(tok), int(hparams["seq_len"])
