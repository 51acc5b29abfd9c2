"""Next-token language modelling: cross-entropy, accuracy and perplexity."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import Perplexity

from synthos.lit_modules.base import SequenceLightningModule


class LanguageModelModule(SequenceLightningModule):
    """Batches are LongTensor (B, L + 1); the module shifts them into inputs and targets.

    A batch may also be a dict with "tokens" and, for tabular rows, "target_mask" (B, L):
    then `{stage}/target_acc` is the accuracy at the masked positions (the target values).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        vocab = self.task.vocab_size
        for stage in ("val", "test"):
            setattr(self, f"{stage}_loss", MeanMetric())
            setattr(self, f"{stage}_acc", MulticlassAccuracy(vocab, average="micro"))
            setattr(self, f"{stage}_ppl", Perplexity())
            # Tabular rows: accuracy at the positions a batch's `target_mask` marks.
            setattr(self, f"{stage}_target_acc", MulticlassAccuracy(vocab, average="micro"))

    def step_loss(self, batch: torch.Tensor, stage: str) -> torch.Tensor:
        tokens = batch["tokens"] if isinstance(batch, dict) else batch
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        logits = self.net(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        if stage != "train":
            getattr(self, f"{stage}_loss").update(loss, weight=targets.numel())
            getattr(self, f"{stage}_acc").update(logits.flatten(0, 1), targets.flatten())
            getattr(self, f"{stage}_ppl").update(logits.float(), targets)
            for name in ("loss", "acc", "ppl"):
                metric = getattr(self, f"{stage}_{name}")
                self.log(f"{stage}/{name}", metric, prog_bar=name == "loss", on_epoch=True)
            mask = batch.get("target_mask") if isinstance(batch, dict) else None
            if mask is not None:
                metric = getattr(self, f"{stage}_target_acc")
                metric.update(logits[mask], targets[mask])
                self.log(f"{stage}/target_acc", metric, on_epoch=True)
        return loss

    def batch_tokens(self, batch: Any) -> int:
        tokens = batch["tokens"] if isinstance(batch, dict) else batch
        return tokens.shape[0] * (tokens.shape[1] - 1)

    def evaluation_terms(self, batch: Any) -> dict[str, torch.Tensor]:
        """Token cross-entropy per row and, for tabular rows, correct target tokens."""
        tokens = batch["tokens"] if isinstance(batch, dict) else batch
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        logits = self.net(inputs).float()
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        terms = {
            "loss_sum": nll.sum(dim=1),
            "loss_count": torch.full_like(nll[:, 0], targets.shape[1]),
        }
        mask = batch.get("target_mask") if isinstance(batch, dict) else None
        if mask is not None:
            correct = (logits.argmax(dim=-1) == targets) & mask
            terms["target_acc_sum"] = correct.sum(dim=1).float()
            terms["target_acc_count"] = mask.sum(dim=1).float()
        return terms
