"""`dissect(net, layers, broden_dir, ...)`: the whole Network Dissection sequence, memory bounded.

1. Read and check the Broden directory (before the network runs).
2. One forward pass: each batch's maps go to a temporary on-disk store and
   into the first pass of the exact percentile (seldb.dissect.thresholds);
   with `--upsample receptive-field`, one image first gives each layer's
   receptive-field map (seldb.dissect.fieldmap).
3. Second percentile pass over the store -> every unit's threshold.
4. Tally pass over the store, image by image, with each image's labels
   decoded once for all layers -> counts, IoU, best labels.

Resident memory is the batch in flight, one chunk of maps read back, two
65,536-bin histograms per unit and the (units x labels) counts - never the
maps of the whole dataset, which only the temporary directory holds (deleted
on return, error or not). Nothing else is written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from seldb.dissect.broden import Broden, open_broden
from seldb.dissect.features import first_input, iter_maps, resolve
from seldb.dissect.fieldmap import FieldMap, layer_fieldmaps
from seldb.dissect.mapstore import MapStore
from seldb.dissect.result import DissectResult, LayerDissection
from seldb.dissect.rules import DissectRules
from seldb.dissect.tally import ImageIndex, LayerTally, add_truth, best_labels, index_image, scores
from seldb.dissect.thresholds import ExactPercentile
from seldb.dissect.upsample import receptive_field_maps, reduction, resize_maps
from seldb.errors import InputError
from seldb.progress import progress_bar

DEFAULT_QUANTILE = 0.005  # NetDissect's: a unit's top 0.5% of activations


def dissect(
    net: torch.nn.Module,
    layers: list[str],
    broden_dir,
    *,
    quantile: float = DEFAULT_QUANTILE,
    categories: list[str] | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    preprocess: str = "netdissect",
    layer_aliases: dict[str, str] | None = None,
    workdir=None,
    chunk_images: int = 256,
    progress: bool = False,
    rules: DissectRules | None = None,
) -> DissectResult:
    """IoU of every unit of `layers` with every label of a Broden-format dataset (NetDissect-Lite's definitions).

    layers: names as in `layer_aliases` (e.g. seldb's "conv5") or module paths; quantile: a unit's threshold is
    its (1 - quantile) percentile over every position of every image; workdir: where the temporary map store
    goes (needs images x units x h x w x 4 bytes per layer). broden_dir may be a Broden already opened
    (its categories are then the ones it was opened with). rules: union, upsampling and threshold rules
    (seldb.dissect.rules; default NetDissect-Lite's).
    """
    rules = rules or DissectRules()
    if isinstance(layers, str):
        layers = [layers]
    if not 0 <= quantile < 1:
        raise InputError(f"quantile must be in [0, 1), got {quantile}")
    if batch_size < 1 or chunk_images < 1:
        raise InputError("batch_size and chunk_images must be at least 1")
    broden = broden_dir if isinstance(broden_dir, Broden) else open_broden(broden_dir, categories)
    modules = resolve(net, layers, layer_aliases)
    percentile = rules.percentile(quantile)  # exact: NetDissect-Lite's argument to np.percentile
    resizers = _resizers(net, modules, broden, device, preprocess, rules)
    with tempfile.TemporaryDirectory(prefix="seldb-dissect-", dir=workdir) as tmp:
        stores, passes = _forward(net, modules, broden, Path(tmp), percentile, batch_size, device, preprocess, progress)
        thresholds = {layer: _thresholds(stores[layer], passes[layer], chunk_images) for layer in modules}
        tallies, truth = _tally(broden, stores, thresholds, chunk_images, progress, rules.union, resizers)
    return _result(broden, quantile, modules, stores, thresholds, tallies, truth, rules)


def _resizers(net, modules: dict[str, str], broden: Broden, device, preprocess: str, rules: DissectRules) -> dict:
    """Per layer, how its maps reach the segmentation's size: PIL bilinear, or 2017's receptive-field centres."""
    if rules.upsample == "bilinear":
        return dict.fromkeys(modules, resize_maps)
    net.eval().to(torch.device(device))
    fieldmaps = layer_fieldmaps(net, modules, first_input(broden, preprocess, device))
    image_width = broden.images[0].iw  # one input size (checked when the dataset was opened)

    def resizer(fieldmap: FieldMap):
        first, step = (fieldmap.centre(0), fieldmap.centre(1)), fieldmap.step
        return lambda maps, sh, sw: receptive_field_maps(maps, sh, sw, first, step, reduction(image_width, sw))

    return {layer: resizer(fieldmaps[layer]) for layer in modules}


def _forward(
    net,
    modules: dict[str, str],
    broden: Broden,
    tmp: Path,
    percentile: float,
    batch_size: int,
    device: str,
    preprocess: str,
    progress: bool,
) -> tuple[dict[str, MapStore], dict[str, ExactPercentile]]:
    stores: dict[str, MapStore] = {}
    passes: dict[str, ExactPercentile] = {}
    with progress_bar(progress, len(broden.images), "dissect: forward pass", "images") as bar:
        for start, batch in iter_maps(net, modules, broden, batch_size, device, preprocess):
            for layer, maps in batch.items():
                if not np.isfinite(maps).all():
                    raise InputError(
                        f"layer {layer} has a non-finite activation in the batch of images"
                        f" {start + 1}-{start + len(maps)} (first: {broden.images[start].image})"
                    )
                if layer not in stores:
                    stores[layer] = MapStore(tmp / f"{len(stores)}.f32", len(broden.images), maps.shape[1:], layer)
                    passes[layer] = ExactPercentile(maps.shape[1], percentile)
                stores[layer].append(maps)
                passes[layer].first(maps)
            bar.advance(len(next(iter(batch.values()))))
    for store in stores.values():
        store.close_writing()
    return stores, passes


def _thresholds(store: MapStore, exact: ExactPercentile, chunk_images: int) -> np.ndarray:
    for _, maps in store.chunks(chunk_images):
        exact.second(maps)
    return exact.values()


def _indexes(broden: Broden, start: int, stop: int) -> list[ImageIndex]:
    n_categories = len(broden.categories)
    return [index_image(broden.load_labels(img), broden.primary, n_categories) for img in broden.images[start:stop]]


def _label_chunks(broden: Broden, chunk_images: int) -> Iterator[list[ImageIndex]]:
    """Each chunk's decoded labels; the next chunk decodes while the caller tallies this one."""
    starts = range(0, len(broden.images), chunk_images)
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(_indexes, broden, 0, chunk_images)
        for i, _start in enumerate(starts):
            indexes = pending.result()
            if i + 1 < len(starts):
                pending = reader.submit(_indexes, broden, starts[i + 1], starts[i + 1] + chunk_images)
            yield indexes


def _tally(
    broden: Broden,
    stores: dict[str, MapStore],
    thresholds: dict[str, np.ndarray],
    chunk_images: int,
    progress: bool,
    union: str,
    resizers: dict,
) -> tuple[dict[str, LayerTally], np.ndarray]:
    n_categories = len(broden.categories)
    tallies = {
        layer: LayerTally(thresholds[layer], broden.n_labels, n_categories, union, resizers[layer]) for layer in stores
    }
    truth = np.zeros(broden.n_labels, np.int64)
    readers = {layer: store.chunks(chunk_images) for layer, store in stores.items()}
    try:
        with progress_bar(progress, len(broden.images), "dissect: tally", "images") as bar:
            for indexes in _label_chunks(broden, chunk_images):
                chunk = {layer: next(reader)[1] for layer, reader in readers.items()}  # buffers reused per chunk
                for j, index in enumerate(indexes):
                    add_truth(truth, index)
                    for layer, tally in tallies.items():
                        tally.add(chunk[layer][j], index)
                bar.advance(len(indexes))
    finally:
        for reader in readers.values():
            reader.close()
    return tallies, truth


def _result(
    broden: Broden,
    quantile: float,
    modules: dict[str, str],
    stores: dict[str, MapStore],
    thresholds: dict[str, np.ndarray],
    tallies: dict[str, LayerTally],
    truth: np.ndarray,
    rules: DissectRules,
) -> DissectResult:
    n_categories = len(broden.categories)
    layers = {}
    for layer, module in modules.items():
        layer_scores = scores(tallies[layer], truth, broden.primary)
        layers[layer] = LayerDissection(
            layer,
            module,
            stores[layer].map_shape,
            thresholds[layer],
            layer_scores,
            best_labels(layer_scores.iou, broden.primary, n_categories),
            tallies[layer].active_pairs,
        )
    return DissectResult(
        dataset=str(broden.directory.resolve()),
        fingerprint=broden.fingerprint,
        categories=broden.categories,
        n_images=len(broden.images),
        quantile=quantile,
        label_names=broden.label_names,
        primary=broden.primary,
        in_categories=broden.in_categories & broden.label_known,
        layers=layers,
        rules=rules,
    )
