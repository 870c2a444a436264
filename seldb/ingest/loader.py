"""Decoding images in DataLoader workers, skipping the ones that cannot be read.

A corrupt JPEG among 700,000 must cost one row, not the run: decoding errors
are caught per image, travel through the batch as a reason, and the runner
records them. Batches are formed over positions of the image list, so the
same command always forms the same batches (which keeps a resumed run
bit-identical to an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset


@dataclass
class Batch:
    positions: list[int]  # positions in the image list of the decoded images
    images: torch.Tensor | None  # (n, 3, H, W), None when every image of the batch failed
    labels: list[int]
    failed: list[tuple[int, str]]  # (position, reason)

    def pin_memory(self) -> Batch:
        """Called by the DataLoader's pinning thread (pin_memory=True): page-locked images copy to GPU async."""
        if self.images is not None:
            self.images = self.images.pin_memory()
        return self


class ImageListDataset(Dataset):
    def __init__(self, root: Path, paths: Sequence[str], labels: Sequence[int], transform: Callable, start: int = 0):
        self.root, self.paths, self.labels = root, paths, labels
        self.transform, self.start = transform, start

    def __len__(self) -> int:
        return len(self.paths) - self.start

    def __getitem__(self, i: int):
        position = self.start + i
        try:
            with Image.open(self.root / self.paths[position]) as image:
                tensor = self.transform(image.convert("RGB"))  # convert() forces the full decode
            return position, tensor, self.labels[position], None
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            # PIL reports truncated/corrupt files as OSError, odd headers as SyntaxError/ValueError
            reason = f"{type(exc).__name__}: {exc}".replace(str(self.root / self.paths[position]), self.paths[position])
            return position, None, self.labels[position], reason.splitlines()[0]


def collate(items) -> Batch:
    good = [item for item in items if item[1] is not None]
    return Batch(
        positions=[item[0] for item in good],
        images=torch.stack([item[1] for item in good]) if good else None,
        labels=[item[2] for item in good],
        failed=[(item[0], item[3]) for item in items if item[1] is None],
    )


def make_loader(
    dataset: Dataset, batch_size: int, workers: int, pin_memory: bool, collate_fn: Callable = collate
) -> DataLoader:
    """Batches in image order, decoded ahead in `workers` processes."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=collate_fn,
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=False,
    )
