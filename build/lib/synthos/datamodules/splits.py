"""What every Synthos DataModule shares: train/val/test datasets served by DataLoaders."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader


class SplitDataModule(pl.LightningDataModule):
    """Subclasses fill `self.datasets` ({"train", "val", "test"}) in `setup()` and set
    `batch_size`, `num_workers` and `seed`; training batches are shuffled reproducibly.
    Batches are pinned when the trainer runs on CUDA, so their copies to the GPU are
    asynchronous and do not stall the next step."""

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return self._loader("train", shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def _loader(self, split: str, shuffle: bool = False, generator=None) -> DataLoader:
        self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self._trains_on_cuda(),
        )

    def _trains_on_cuda(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return trainer is not None and trainer.strategy.root_device.type == "cuda"
