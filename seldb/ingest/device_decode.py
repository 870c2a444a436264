"""Decoding JPEGs in batches on the GPU (`seldb ingest --decode-on cuda`).

With a fast GPU, the CPU's JPEG decoding, not the network, can bound an
ingest: AlexNet runs thousands of images a second on a modern GPU while a
DataLoader worker decodes a few hundred. Here the workers only read the
file bytes; the main process decodes a whole batch at once with
`torchvision.io.decode_jpeg(..., device=...)` (nvJPEG on CUDA) and applies
the same preprocessing as tensors (seldb.nets.preprocess.TensorPreprocess).

Files that are not JPEGs are decoded and preprocessed in the workers by the
usual PIL path; a JPEG the batch decoder rejects is retried alone and then,
failing that, read by the PIL path in the main process, so an unreadable
file is skipped with the same reason as without this option. The batch that
leaves here is the loader's usual `Batch`, in the same image order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from seldb.ingest.loader import Batch, ImageListDataset, make_loader
from seldb.nets.preprocess import TensorPreprocess

JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class RawBatch:
    """What the workers send: JPEG bytes, or an image they preprocessed themselves, per position."""

    positions: list[int]
    jpeg_blob: torch.Tensor  # the batch's JPEG files end to end (one shared-memory block, not one per file)
    jpeg_spans: dict[int, tuple[int, int]]  # index in positions -> (start, end) in jpeg_blob
    preprocessed: dict[int, torch.Tensor]  # index in positions -> (3, S, S) tensor from the PIL path
    labels: list[int]
    failed: list[tuple[int, str]]


class RawImageDataset(ImageListDataset):
    """The image list, as file bytes where the file is a JPEG (decoded later), else as the PIL path gives it."""

    def __getitem__(self, i: int):
        position = self.start + i
        try:
            data = (self.root / self.paths[position]).read_bytes()
        except OSError:
            return super().__getitem__(i)  # the PIL path words the reason as the CPU path does
        if not data.startswith(JPEG_MAGIC):
            return super().__getitem__(i)
        return position, data, self.labels[position], None


def raw_collate(items) -> RawBatch:
    good = [item for item in items if item[1] is not None]
    spans, preprocessed, offset = {}, {}, 0
    for k, (_, payload, _, _) in enumerate(good):
        if isinstance(payload, bytes):
            spans[k] = (offset, offset + len(payload))
            offset += len(payload)
        else:
            preprocessed[k] = payload
    blob = bytearray(b"".join(item[1] for k, item in enumerate(good) if k in spans))
    return RawBatch(
        positions=[item[0] for item in good],
        jpeg_blob=torch.frombuffer(blob, dtype=torch.uint8) if blob else torch.empty(0, dtype=torch.uint8),
        jpeg_spans=spans,
        preprocessed=preprocessed,
        labels=[item[2] for item in good],
        failed=[(item[0], item[3]) for item in items if item[1] is None],
    )


class BatchDecoder:
    """RawBatch -> Batch: decode the JPEGs on `device` in one call, preprocess them there, keep the order."""

    def __init__(self, dataset: RawImageDataset, kind: str, input_size: int, device: str):
        self.dataset, self.device = dataset, torch.device(device)
        self.preprocess = TensorPreprocess(kind, input_size)

    def __call__(self, raw: RawBatch) -> Batch:
        files = {k: raw.jpeg_blob[start:end] for k, (start, end) in raw.jpeg_spans.items()}
        decoded: dict[int, torch.Tensor | str] = {}
        if files:
            if self.device.type == "cuda":
                # nvJPEG works on a stream of its own that does not wait for ours: let ours finish first, or
                # it may decode into memory queued kernels still read (pytorch/vision PR 9606)
                torch.cuda.current_stream(self.device).synchronize()
            try:
                decoded = dict(zip(files, self.preprocess(self._decode(list(files.values())))))
            except (RuntimeError, ValueError):  # one bad file fails the whole call: decode one by one
                decoded = {k: self._one(raw.positions[k], data) for k, data in files.items()}
        for k, tensor in raw.preprocessed.items():
            decoded[k] = tensor.to(self.device, non_blocking=True)
        images = {k: v for k, v in decoded.items() if isinstance(v, torch.Tensor)}
        keep = [k for k in range(len(raw.positions)) if k in images]
        failed = raw.failed + [(raw.positions[k], v) for k, v in decoded.items() if isinstance(v, str)]
        return Batch(
            positions=[raw.positions[k] for k in keep],
            images=torch.stack([images[k] for k in keep]) if keep else None,
            labels=[raw.labels[k] for k in keep],
            failed=sorted(failed),
        )

    def _decode(self, files: list[torch.Tensor]) -> list[torch.Tensor]:
        from torchvision.io import ImageReadMode, decode_jpeg

        return decode_jpeg(files, mode=ImageReadMode.RGB, device=self.device)

    def _one(self, position: int, data: torch.Tensor) -> torch.Tensor | str:
        """One image: the device decoder, else the PIL path (which also words the reason for a bad file)."""
        try:
            return self.preprocess(self._decode([data]))[0]
        except (RuntimeError, ValueError):
            _, tensor, _, reason = ImageListDataset.__getitem__(self.dataset, position - self.dataset.start)
            return reason if tensor is None else tensor.to(self.device)


def device_loader(dataset: RawImageDataset, batch_size: int, workers: int) -> DataLoader:
    """The DataLoader of raw batches: the ingest's, without pinning (bytes stay small)."""
    return make_loader(dataset, batch_size, workers, pin_memory=False, collate_fn=raw_collate)


def make_device_source(
    root, paths, labels, transform, start: int, batch_size: int, workers: int, device: str
) -> tuple[DataLoader, Callable[[RawBatch], Batch]]:
    """(loader, decode) for the runner: `decode(raw)` turns each loader item into a `Batch` on `device`.

    `transform` is seldb.nets.preprocess.make_transform's (it names the recipe the tensor path follows,
    and decodes the files that are not JPEGs).
    """
    kind, size = getattr(transform, "kind", None), getattr(transform, "input_size", None)
    if kind is None or size is None:
        raise ValueError("decoding on a device needs a transform made by seldb.nets.preprocess.make_transform")
    dataset = RawImageDataset(root, paths, labels, transform, start=start)
    return device_loader(dataset, batch_size, workers), BatchDecoder(dataset, kind, size, device)
