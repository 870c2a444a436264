"""Decoding JPEGs in batches on the GPU (`seldb ingest --decode-on cuda`).

With a fast GPU, the CPU's JPEG decoding, not the network, can bound an
ingest: AlexNet runs thousands of images a second on a modern GPU while a
DataLoader worker decodes a few hundred. Here the workers only read the
file bytes; the main process decodes a whole batch at once with
`torchvision.io.decode_jpeg(..., device=...)` (nvJPEG on CUDA) and applies
the same preprocessing as tensors (seldb.ingest.preprocess.TensorPreprocess).

Files that are not JPEGs are decoded and preprocessed in the workers by the
usual PIL path; a JPEG the batch decoder rejects is retried alone and then,
failing that, read by the PIL path in the main process, so an unreadable
file is skipped with the same reason as without this option. The batch that
leaves here is the loader's usual `Batch`, in the same image order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.data import DataLoader

from seldb.ingest.loader import Batch, ImageListDataset
from seldb.ingest.preprocess import TensorPreprocess

JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class RawBatch:
    """What the workers send: JPEG bytes, or an image they preprocessed themselves, per position."""

    positions: list[int]
    payloads: list[torch.Tensor]  # 1-D uint8 file bytes (is_jpeg) or a preprocessed (3, S, S) tensor
    is_jpeg: list[bool]
    labels: list[int]
    failed: list[tuple[int, str]]


class RawImageDataset(ImageListDataset):
    """The image list, as JPEG bytes where the file is a JPEG (decoded later), else as the PIL path gives it."""

    def __getitem__(self, i: int):
        position = self.start + i
        try:
            data = (self.root / self.paths[position]).read_bytes()
        except OSError:
            return (*super().__getitem__(i), False)  # the PIL path words the reason as the CPU path does
        if not data.startswith(JPEG_MAGIC):
            return (*super().__getitem__(i), False)
        return position, torch.frombuffer(bytearray(data), dtype=torch.uint8), self.labels[position], None, True


def raw_collate(items) -> RawBatch:
    good = [item for item in items if item[1] is not None]
    return RawBatch(
        positions=[item[0] for item in good], payloads=[item[1] for item in good],
        is_jpeg=[item[4] for item in good], labels=[item[2] for item in good],
        failed=[(item[0], item[3]) for item in items if item[1] is None],
    )  # fmt: skip


class BatchDecoder:
    """RawBatch -> Batch: decode the JPEGs on `device` in one call, preprocess them there, keep the order."""

    def __init__(self, dataset: RawImageDataset, kind: str, input_size: int, device: str):
        self.dataset, self.device = dataset, torch.device(device)
        self.preprocess = TensorPreprocess(kind, input_size)

    def __call__(self, raw: RawBatch) -> Batch:
        from torchvision.io import ImageReadMode, decode_jpeg

        jpegs = [k for k, is_jpeg in enumerate(raw.is_jpeg) if is_jpeg]
        decoded: dict[int, torch.Tensor] = {}
        if jpegs:
            try:
                images = decode_jpeg([raw.payloads[k] for k in jpegs], mode=ImageReadMode.RGB, device=self.device)
                decoded = dict(zip(jpegs, self.preprocess(images)))
            except RuntimeError:  # one bad file fails the whole call: decode one by one
                decoded = self._one_by_one(raw, jpegs, decode_jpeg, ImageReadMode.RGB)
        keep, images, failed = [], [], list(raw.failed)
        for k, position in enumerate(raw.positions):
            image = decoded.get(k) if raw.is_jpeg[k] else raw.payloads[k].to(self.device, non_blocking=True)
            if isinstance(image, str):
                failed.append((position, image))
            else:
                keep.append(k)
                images.append(image)
        return Batch(
            positions=[raw.positions[k] for k in keep], images=torch.stack(images) if images else None,
            labels=[raw.labels[k] for k in keep], failed=sorted(failed),
        )  # fmt: skip

    def _one_by_one(self, raw: RawBatch, jpegs: list[int], decode_jpeg, mode) -> dict:
        """Per image: the device decoder, else the PIL path (which also words the reason for a bad file)."""
        out: dict[int, torch.Tensor | str] = {}
        for k in jpegs:
            try:
                out[k] = self.preprocess([decode_jpeg(raw.payloads[k], mode=mode, device=self.device)])[0]
            except RuntimeError:
                _, tensor, _, reason = ImageListDataset.__getitem__(self.dataset, raw.positions[k] - self.dataset.start)
                out[k] = reason if tensor is None else tensor.to(self.device)
        return out


def device_loader(dataset: RawImageDataset, batch_size: int, workers: int) -> DataLoader:
    """The DataLoader of raw batches: like seldb.ingest.loader.make_loader, without pinning (bytes stay small)."""
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=raw_collate,
        prefetch_factor=4 if workers > 0 else None, persistent_workers=False,
    )  # fmt: skip


def make_device_source(root, paths, labels, transform, start: int, batch_size: int, workers: int,
                       device: str) -> tuple[DataLoader, Callable[[RawBatch], Batch]]:  # fmt: skip
    """(loader, decode) for the runner: `decode(raw)` turns each loader item into a `Batch` on `device`.

    `transform` is seldb.ingest.preprocess.make_transform's (it names the recipe the tensor path follows,
    and decodes the files that are not JPEGs).
    """
    kind, size = getattr(transform, "kind", None), getattr(transform, "input_size", None)
    if kind is None or size is None:
        raise ValueError("decoding on a device needs a transform made by seldb.ingest.preprocess.make_transform")
    dataset = RawImageDataset(root, paths, labels, transform, start=start)
    return device_loader(dataset, batch_size, workers), BatchDecoder(dataset, kind, size, device)
