"""What every Synthos LightningModule shares: the network, the task spec, optimisation,
and a checkpoint that carries everything needed to rebuild the model without Hydra."""

from __future__ import annotations

import importlib
from dataclasses import asdict
from typing import Any

import lightning.pytorch as pl
import torch

from synthos.errors import ErrorCode, ModelError
from synthos.lit_modules.optim import OptimConfig, build_optimizer
from synthos.models.common import SequenceModel
from synthos.task import TaskSpec


def class_path(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def import_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class SequenceLightningModule(pl.LightningModule):
    """Base: subclasses implement `step_loss(batch, stage)`."""

    def __init__(
        self,
        net: SequenceModel,
        task: TaskSpec,
        optim: OptimConfig | None = None,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.task = task
        self.optim = optim or OptimConfig()
        net.activation_checkpointing = activation_checkpointing
        # The rebuild recipe travels in every checkpoint (see `load_module`).
        self.save_hyperparameters(
            {
                "module_class": class_path(self),
                "net_class": class_path(net),
                "net_config": net.config.to_dict(),
                "task": task.to_dict(),
                "optim": asdict(self.optim),
                "activation_checkpointing": activation_checkpointing,
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def step_loss(self, batch: Any, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def batch_tokens(self, batch: Any) -> int:
        """Training tokens in a batch: the positions the loss is taken at (the data budget D
        of a loss law)."""
        raise NotImplementedError

    def evaluation_terms(self, batch: Any) -> dict[str, torch.Tensor]:
        """Per-row sums of the evaluation metrics, without logging: a `(B,)` tensor per term,
        at least `loss_sum` and `loss_count` (the loss is their pooled ratio). Budget
        evaluations pool them over a split and take the rows as the independent units of
        the standard error."""
        raise NotImplementedError

    def require_finite(self, loss: torch.Tensor, stage: str) -> None:
        """Stop the run on a non-finite loss, before anything saves the diverged state.

        Training checks before backward, so no non-finite update reaches the weights.
        Validation checks the weights the last update left (an update can make them
        non-finite while the loss it came from was finite); checkpoints are written after
        validation ends, so a diverged state never becomes `best` or `last`.
        """
        if torch.isfinite(loss):
            return
        raise ModelError(
            f"{stage} loss became {loss.item()} at step {self.global_step}; the run was "
            "stopped and no checkpoint of this state was written (try a lower learning "
            "rate, gradient clipping, or fp32 precision)",
            code=ErrorCode.MODEL_DIVERGED,
            step=int(self.global_step),
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.step_loss(batch, "train")
        self.require_finite(loss, "training")
        aux = self.net.auxiliary_loss()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss + aux

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.require_finite(self.step_loss(batch, "val"), "validation")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.step_loss(batch, "test")

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches) if self.trainer else 0
        optimizer, scheduler = build_optimizer(self.net, self.optim, total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    @property
    def run_config(self) -> dict[str, Any] | None:
        """The full resolved config of the run that trained this module, when there was one."""
        return self.hparams.get("run_config")

    @run_config.setter
    def run_config(self, config: dict[str, Any]) -> None:
        # Part of the hyper-parameters, so loggers record it and checkpoints carry it.
        self.hparams["run_config"] = config


def load_module(checkpoint_path: str, map_location: str | torch.device = "cpu"):
    """Rebuild a trained module from a checkpoint alone: no Hydra, no config files."""
    checkpoint = torch.load(checkpoint_path, map_location=map_location, weights_only=False)
    hp = checkpoint["hyper_parameters"]
    net = import_class(hp["net_class"])(**hp["net_config"])
    module_cls = import_class(hp["module_class"])
    module = module_cls(
        net=net,
        task=TaskSpec(**hp["task"]),
        optim=OptimConfig(**hp["optim"]),
        activation_checkpointing=hp["activation_checkpointing"],
    )
    module.load_state_dict(checkpoint["state_dict"])
    if "run_config" in hp:
        module.run_config = hp["run_config"]
    return module
