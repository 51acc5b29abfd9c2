"""Model evidence from the cascade's checkpoints, on a seeded sample of rows.

Rows are tokenized exactly as the cascade's DataModule did (the tabular vocabulary in the
checkpoint, or the sweep's BPE tokenizer with the models' sequence length), then:

* per-row held-out loss: the row's mean next-token loss under every finished model of the
  smallest tier (its variants differ in seed and data sub-sample) that did not train on it
  (its variant's sub-sample left it out, or the cascade trained on other data); a row every
  model trained on is scored under all of them and counted as such.
  Tables also get the loss of the target token alone (a wrong label is a surprising target).
* self-influence (Captum `TracInCP`, Pruthi et al. 2020): the sum over the smallest tier's
  checkpoints of the learning rate times the squared norm of the row's loss gradient on the
  output head (`net.io.head`, per-example gradients from Captum's batched sample-wise
  trick). Rows a model cannot fit keep large gradients; mislabelled rows are the classic
  case. On tables the loss is the target token's, on text the whole document's.

Each statistic becomes a p-value against the same statistic of reference rows, which the
cascade never trains on (they are its validation and test rows), through the upper-tail
model of `pvalues`; without a reference, against the sampled candidate rows that no model
trained on, else the sample itself. Rows outside the sample get no model evidence (NaN).
The p-values are the TracIn and loss p-values of the run's own tokenization: the smallest
tier's models are used throughout (a forward pass of the larger ones costs far more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from synthos.analysis.engine import open_source, quote_ident

from . import cascade_models
from .config import LocalizeConfig
from .evidence import Evidence, Skipped
from .pvalues import upper_tail_pvalues
from .rows import RowView

IGNORE = -100
HEAD = "net.io.head"
#: Reference rows scored for the null (a sample when more).
NULL_ROWS = 1000


@dataclass
class EncodedRows:
    """Model inputs (rows, L) and next-token targets (rows, L; IGNORE where padded)."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


def model_evidence(
    view: RowView, candidate: Any, reference: Any, sweep_dir: Any, config: LocalizeConfig
) -> tuple[list[Evidence], list[Skipped]]:
    models = cascade_models.find_models(sweep_dir)
    if not models:
        return [], [Skipped("cascade_models", f"no finished job with a checkpoint in {sweep_dir}")]
    first = models[0].load()
    kind = cascade_models.datamodule_kind(first)
    if kind not in ("tabular", "text") or kind != view.modality:
        reason = f"the cascade's models are {kind}; the candidate is {view.modality}"
        if kind == view.modality:
            reason = f"model evidence is computed for tables and text, not {kind}"
        return [], [Skipped("cascade_models", reason)]
    rng = np.random.default_rng(config.seed)
    rows = np.sort(rng.choice(view.rows, size=min(view.rows, config.model_rows), replace=False))
    encode = table_encoder(first) if kind == "tabular" else text_encoder(first, view)
    sample = encode(read_rows(candidate, _columns(first, view), rows, config))
    null_rows = null = None
    if view.cmp.has_reference:
        n_ref = int(view.cmp.counts.get("reference_rows") or 0)
        null_rows = np.sort(rng.choice(n_ref, size=min(n_ref, NULL_ROWS), replace=False))
        null = encode(read_rows(reference, _columns(first, view), null_rows, config))
    smallest = [m for m in models if m.tier == models[0].tier]
    losses = _losses(smallest, sample, null, config)
    seen = _seen(smallest, candidate, rows)
    tracin = _self_influence(smallest, sample, null, kind, config)
    return _evidence(view, rows, kind, losses, seen, tracin, len(smallest)), []


def _columns(checkpoint: dict[str, Any], view: RowView) -> list[str]:
    if cascade_models.datamodule_kind(checkpoint) == "tabular":
        return cascade_models.tabular_vocab(checkpoint).names
    return [view.cmp.text_column]


def read_rows(data: Any, columns: list[str], rows: np.ndarray, config: LocalizeConfig) -> pa.Table:
    """The raw values of `columns` at file positions `rows` (in that order)."""
    source = open_source(data, threads=config.threads, load_options=dict(config.load_options or {}))
    try:
        source.register("__synthos_rows", pa.table({"__pick": pa.array(rows, pa.int64())}))
        select = ", ".join(quote_ident(c) for c in columns)
        return source.arrow(
            f"SELECT {select} FROM {{src}} JOIN __synthos_rows ON __row = __pick ORDER BY __row"
        )
    finally:
        source.close()


def table_encoder(checkpoint: dict[str, Any]):
    vocab = cascade_models.tabular_vocab(checkpoint)

    def encode(table: pa.Table) -> EncodedRows:
        tokens = vocab.encode(table).astype(np.int64)
        return EncodedRows(tokens[:, :-1], tokens[:, 1:])

    return encode


def text_encoder(checkpoint: dict[str, Any], view: RowView):
    tok, eos, seq_len = cascade_models.text_tokenizer(checkpoint)
    column = view.cmp.text_column

    def encode(table: pa.Table) -> EncodedRows:
        docs = [d or "" for d in table.column(column).to_pylist()]
        inputs = np.full((len(docs), seq_len), eos, dtype=np.int64)
        targets = np.full((len(docs), seq_len), IGNORE, dtype=np.int64)
        for i, enc in enumerate(tok.encode_batch(docs)):
            ids = [*enc.ids[:seq_len], eos]
            inputs[i, : len(ids) - 1] = ids[:-1]
            targets[i, : len(ids) - 1] = ids[1:]
        return EncodedRows(inputs, targets)

    return encode


def _row_losses(net, rows: EncodedRows, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: mean token loss, and the loss of its last valid target (the table's
    target token)."""
    means, lasts = [], []
    with torch.no_grad():
        for start in range(0, len(rows), batch):
            x = torch.as_tensor(rows.inputs[start : start + batch])
            y = torch.as_tensor(rows.targets[start : start + batch])
            nll = F.cross_entropy(
                net(x).float().transpose(1, 2), y, ignore_index=IGNORE, reduction="none"
            )
            valid = (y != IGNORE).float()
            means.append((nll.sum(1) / valid.sum(1).clamp_min(1)).numpy())
            lasts.append(nll[:, -1].numpy())
    return np.concatenate(means), np.concatenate(lasts)


def _losses(models, sample, null, config) -> dict[str, np.ndarray]:
    from synthos.lit_modules import load_module

    out: dict[str, list[np.ndarray]] = {"row": [], "target": [], "null_row": [], "null_target": []}
    for model in models:
        net = load_module(str(model.checkpoint)).net.eval()
        row, target = _row_losses(net, sample, config.model_batch)
        out["row"].append(row)
        out["target"].append(target)
        if null is not None:
            row, target = _row_losses(net, null, config.model_batch)
            out["null_row"].append(row)
            out["null_target"].append(target)
    return {k: np.vstack(v) if v else np.zeros((0, 0)) for k, v in out.items()}


def _seen(models, candidate, rows: np.ndarray) -> np.ndarray:
    """(models, sampled rows): whether each model trained on each row."""
    seen = np.zeros((len(models), len(rows)), dtype=bool)
    for i, model in enumerate(models):
        trained = cascade_models.training_rows(model.load(), candidate)
        if trained is not None:
            seen[i] = np.isin(rows, trained)
    return seen


class RowLoss(torch.nn.Module):
    """What Captum differentiates: the network's logits arranged for a summed cross-entropy
    (the target token's for tables, every token's for text)."""

    def __init__(self, net: torch.nn.Module, target_only: bool) -> None:
        super().__init__()
        self.net = net
        self.target_only = target_only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x).float()
        return logits[:, -1] if self.target_only else logits.transpose(1, 2)


def _load_checkpoint(model, path: str) -> float:
    """Captum's checkpoint loader: the network's weights, and the run's peak learning rate
    (TracIn's weight of the checkpoint; the rate at the end of a cooldown schedule is 0)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = {
        k[len("net.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")
    }
    model.net.load_state_dict(state)
    return float((checkpoint["hyper_parameters"].get("optim") or {}).get("lr", 1.0))


def _self_influence(models, sample, null, kind, config) -> dict[str, np.ndarray]:
    from captum.influence import TracInCP
    from torch.utils.data import DataLoader, TensorDataset

    from synthos.lit_modules import load_module

    target_only = kind == "tabular"
    net = load_module(str(models[0].checkpoint)).net.eval()
    wrapper = RowLoss(net, target_only)

    def loader(rows: EncodedRows) -> DataLoader:
        targets = rows.targets[:, -1] if target_only else rows.targets
        data = TensorDataset(torch.as_tensor(rows.inputs), torch.as_tensor(targets))
        return DataLoader(data, batch_size=config.model_batch if target_only else 16)

    tracin = TracInCP(
        wrapper,
        loader(sample),
        [str(m.checkpoint) for m in models],
        checkpoints_load_func=_load_checkpoint,
        layers=[HEAD],
        loss_fn=torch.nn.CrossEntropyLoss(reduction="sum", ignore_index=IGNORE),
        batch_size=config.model_batch,
        sample_wise_grads_per_batch=True,
    )
    out = {"row": tracin.self_influence(loader(sample)).detach().numpy()}
    if null is not None:
        out["null"] = tracin.self_influence(loader(null)).detach().numpy()
    out["checkpoints"] = np.asarray(len(models))
    return out


def _evidence(view, rows, kind, losses, seen, tracin, n_models) -> list[Evidence]:
    unseen = ~seen
    weights = np.where(unseen.any(axis=0), unseen, True).astype(float)
    heldout = unseen.any(axis=0)
    issue_row = "out_of_distribution" if kind == "tabular" else "low_quality"
    issue_influence = "label_noise" if kind == "tabular" else "low_quality"
    found = []
    specs = [("model_loss", "row", issue_row)]
    if kind == "tabular":
        specs.append(("model_target_loss", "target", "label_noise"))
    for name, key, issue in specs:
        value = (losses[key] * weights).sum(0) / weights.sum(0)
        null_key = f"null_{key}"
        null = (
            losses[null_key].mean(0)
            if losses[null_key].size
            else value[heldout]
            if heldout.any()
            else value
        )
        found.append(
            _sampled(view, rows, name, issue, value, null, {"heldout_models": unseen.sum(0)})
        )
        found[-1].summary.update(
            models=n_models,
            rows_held_out_of_every_model=int((~seen.any(axis=0)).sum()),
            rows_trained_on_by_every_model=int((~heldout).sum()),
        )
    null = tracin.get("null", tracin["row"])
    found.append(
        _sampled(view, rows, "tracin_self_influence", issue_influence, tracin["row"], null, {})
    )
    found[-1].summary.update(
        method="captum.influence.TracInCP self_influence",
        layer=HEAD,
        checkpoints=int(tracin["checkpoints"]),
        loss="target token" if kind == "tabular" else "every token",
    )
    return found


def _sampled(view, rows, name, issue, value, null, extra) -> Evidence:
    p = np.full(view.rows, np.nan)
    p[rows] = upper_tail_pvalues(value, null)
    columns = {name: _spread(view.rows, rows, value)}
    for key, v in extra.items():
        columns[f"{name}_{key}"] = _spread(view.rows, rows, v.astype(float))
    baseline = (
        "reference rows (never trained on)" if view.cmp.has_reference else "held-out sample rows"
    )
    affected = (
        [view.cmp.target_column]
        if issue == "label_noise"
        else list(view.cmp.candidate.column_names)
    )
    return Evidence(
        name,
        issue,
        p,
        columns=columns,
        affected_columns=affected,
        summary={"rows_sampled": len(rows), "null_rows": len(null), "baseline": baseline},
    )


def _spread(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    out[rows] = values
    return out
