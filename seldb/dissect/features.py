"""Running a torch network over Broden's images and catching chosen layers' spatial maps.

Dissection compares a unit's map with the segmentation of the same image, so
the images go in whole (no resize, no crop; Broden's are already the input
size, 227 or 224) and the layer must keep a spatial map: a layer whose output
is (N, C) (a Linear layer such as fc6) cannot be dissected and is refused on
the first batch with one line. The hook copies its output at once because
torchvision's ReLUs are in place (seldb.nets.hooks says more).

Preprocessing: "netdissect" is NetDissect-Lite's own (RGB minus its Broden
mean, divided by 255 x 0.224); "torchvision", "caffe" and "plain" are the
normalisations of seldb's model registry without their resize and crop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from seldb.dissect.broden import Broden
from seldb.errors import InputError
from seldb.nets.hooks import LayerRecorder, copy_maps, resolve_layers
from seldb.nets.preprocess import CAFFE_MEAN_BGR, TORCHVISION_MEAN, TORCHVISION_STD

NETDISSECT_MEAN_RGB = (124.6901, 118.6897, 109.5388)  # NetDissect-Lite's bgr_mean, reordered
NETDISSECT_SCALE = 255.0 * 0.224


def _normalise(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32."""

    def netdissect(rgb):
        return (rgb - np.asarray(NETDISSECT_MEAN_RGB, np.float32)) / np.float32(NETDISSECT_SCALE)

    def torchvision(rgb):
        mean, std = np.asarray(TORCHVISION_MEAN, np.float32), np.asarray(TORCHVISION_STD, np.float32)
        return (rgb / np.float32(255) - mean) / std

    def caffe(rgb):
        return rgb[..., ::-1] - np.asarray(CAFFE_MEAN_BGR, np.float32)

    def plain(rgb):
        return rgb / np.float32(127.5) - np.float32(1)

    kinds = {"netdissect": netdissect, "torchvision": torchvision, "caffe": caffe, "plain": plain}
    if kind not in kinds:
        raise InputError(f"preprocess must be one of {', '.join(kinds)}, got {kind!r}")
    chosen = kinds[kind]
    return lambda rgb: np.ascontiguousarray(chosen(rgb.astype(np.float32)).transpose(0, 3, 1, 2), np.float32)


PREPROCESS_KINDS = ("netdissect", "torchvision", "caffe", "plain")


def resolve(net: torch.nn.Module, layers: list[str], aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Layer name (an alias such as conv5, or a module path) -> module path; unknown names are one error line."""
    return resolve_layers(net, list(layers), aliases or {})


def image_batches(broden: Broden, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first image index, (batch, H, W, 3) uint8 RGB); the next batch decodes while the caller works."""
    starts = range(0, len(broden.images), batch_size)

    def load(start: int) -> np.ndarray:
        return np.stack([broden.load_image(img) for img in broden.images[start : start + batch_size]])

    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(load, starts[0]) if starts else None
        for i, start in enumerate(starts):
            assert pending is not None  # submitted for every start
            rgb = pending.result()
            pending = reader.submit(load, starts[i + 1]) if i + 1 < len(starts) else None
            yield start, rgb


def iter_maps(
    net: torch.nn.Module,
    layers: dict[str, str],
    broden: Broden,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    preprocess: str = "netdissect",
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(first image index, {layer: (batch, units, h, w) float32}) for consecutive batches of broden.images."""
    normalise = _normalise(preprocess)
    with _recording(net, layers, device) as (recorder, device):
        for start, rgb in image_batches(broden, batch_size):
            net(torch.from_numpy(normalise(rgb)).to(device))
            yield start, recorder.take()


def map_shapes(
    net: torch.nn.Module,
    layers: dict[str, str],
    broden: Broden,
    device: str | torch.device = "cpu",
    preprocess: str = "netdissect",
) -> dict[str, tuple[int, int, int]]:
    """Each layer's (units, h, w) from one forward pass on the first image: a layer with no spatial map
    is refused here, before the whole pass, and a run to join can be checked unit for unit."""
    normalise = _normalise(preprocess)
    with _recording(net, layers, device) as (recorder, device):
        net(torch.from_numpy(normalise(broden.load_image(broden.images[0])[None])).to(device))
        shapes = {name: maps.shape for name, maps in recorder.take().items()}
        return {name: (int(shape[1]), int(shape[2]), int(shape[3])) for name, shape in shapes.items()}


def first_input(broden: Broden, preprocess: str, device: str | torch.device = "cpu") -> torch.Tensor:
    """The first image as the network's (1, 3, H, W) input."""
    rgb = broden.load_image(broden.images[0])[None]
    return torch.from_numpy(_normalise(preprocess)(rgb)).to(torch.device(device))


@contextlib.contextmanager
def _recording(net: torch.nn.Module, layers: dict[str, str], device: str | torch.device):
    """The network in eval mode on `device`, without gradients, with hooks that exist only here."""
    device = torch.device(device)
    net.eval().to(device)
    recorder = LayerRecorder(net, layers, copy_maps)
    try:
        with torch.no_grad():
            yield recorder, device
    finally:
        recorder.close()


def forward_only(
    net: torch.nn.Module,
    broden: Broden,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    preprocess: str = "netdissect",
) -> int:
    """The bare forward pass over the same images, decoded the same way (the benchmark's baseline)."""
    normalise = _normalise(preprocess)
    device = torch.device(device)
    net.eval().to(device)
    with torch.no_grad():
        for _, rgb in image_batches(broden, batch_size):
            net(torch.from_numpy(normalise(rgb)).to(device))
    return len(broden.images)
