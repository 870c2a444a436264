"""`seldb ingest` as one library call: options in, a loaded run out.

This module only sequences the others: resolve the model (registry, weights),
open the image set, decide which classes the activation file uses, record the
activations (resumable), check that something is left to analyse, and hand
the file to the same import path as `seldb import-h5`. Everything that can be
wrong with the input is found before the first image is decoded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seldb.db.database import Database
from seldb.engine import ray_blocks
from seldb.errors import InputError
from seldb.files import file_sha256
from seldb.ingest.classes import ClassList, imagenet_classes, read_class_file
from seldb.ingest.imagesets import ImageSet, open_image_set
from seldb.ingest.options import IngestOptions, IngestResult
from seldb.ingest.runner import RecordConfig, Recording, record_activations, resolve_decode_device
from seldb.ingest.state import IngestState
from seldb.load.import_h5 import run_import
from seldb.load.options import Provenance, check_engine, check_uncertainty
from seldb.nets.device import resolve_device
from seldb.nets.hooks import REDUCTIONS, LayerRecorder, resolve_layers
from seldb.nets.preprocess import KINDS, describe, make_transform
from seldb.nets.registry import ModelSpec, build_network, resolve_spec
from seldb.nets.weights import hub_weights, load_weights

log = logging.getLogger("seldb.ingest")


@dataclass
class Prepared:
    """Everything decided before inference."""

    spec: ModelSpec
    net: torch.nn.Module
    layers: dict[str, str]  # recorded name -> module name
    reduce: str
    image_set: ImageSet
    transform: Callable
    layer_spec: dict[str, tuple[int, str]]
    cfg: RecordConfig
    notes: list[str] = field(default_factory=list)
    preprocess: str = ""  # the preprocessing kind (seldb.nets.preprocess.KINDS)
    input_size: int = 0
    engine: str = "local"  # where the network runs: here, or Ray actors (seldb.ingest.ray_recording)


def default_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def default_out(data: Path, model_name: str) -> Path:
    """Beside the data directory: DATA.MODEL.h5."""
    root = data.resolve()
    return root.parent / f"{root.name}.{re.sub(r'[^A-Za-z0-9._-]+', '_', model_name)}.h5"


def _load_net(spec: ModelSpec, weights: str | Path | None) -> tuple[torch.nn.Module, dict | None, list[str]]:
    net = build_network(spec)
    if weights is None and spec.hub_file:
        weights = hub_weights(spec)
    if weights is None:
        if spec.module_file:  # a custom module may carry its own weights
            return net, None, []
        raise InputError(f"{spec.name} needs its weights: {spec.weights_source}")
    notes = load_weights(net, weights, spec)
    path = Path(weights).resolve()
    return net, {"path": str(path), "sha256": file_sha256(path)}, notes


def _probe(net: torch.nn.Module, layers: dict[str, str], reduce: str, input_size: int) -> tuple[dict, int]:
    """(units, reduction) per layer and the number of outputs, from one forward pass on a blank image."""
    with torch.inference_mode(), LayerRecorder(net, layers, reduce) as recorder:
        try:
            logits = net(torch.zeros(1, 3, input_size, input_size))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"the model cannot run on {input_size}x{input_size} input: {first}") from None
        values = recorder.take()
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise InputError("the model's forward must return a (batch, classes) tensor of scores")
    return {name: (int(v.shape[1]), recorder.reductions[name]) for name, v in values.items()}, int(logits.shape[1])


def _model_classes(spec: ModelSpec, n_outputs: int, class_file: ClassList | None) -> ClassList | None:
    """The classes of the model's outputs, when known (else image sets cannot map onto them)."""
    if spec.class_set == "imagenet" and n_outputs == 1000:
        return imagenet_classes()
    if class_file is not None and len(class_file) == n_outputs:
        return class_file
    if spec.class_set == "places365":  # indices are meaningful even without the category file
        return ClassList(names=tuple(f"class {i}" for i in range(n_outputs)))
    return None


def _images_digest(image_set: ImageSet) -> str:
    digest = hashlib.sha256()
    for path, label in zip(image_set.paths, image_set.labels):
        digest.update(f"{path}\t{label}\n".encode())
    return digest.hexdigest()[:16]


def _check_options(opts: IngestOptions) -> tuple[ModelSpec, ClassList | None, str, str, str | None]:
    """The cheap checks, before any weights are read: spec, class file, preprocessing, devices."""
    if opts.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {opts.batch_size}")
    if opts.reduce not in REDUCTIONS:
        raise InputError(f"--reduce must be one of {', '.join(REDUCTIONS)}, got {opts.reduce!r}")
    check_uncertainty(opts.bootstrap, opts.permutations, opts.seed, opts.level)
    check_engine(opts.engine, opts.address)
    if opts.actors is not None and (opts.engine != "ray" or opts.actors < 1):
        raise InputError(f"--actors is a positive number of model replicas with --engine ray, got {opts.actors}")
    spec = resolve_spec(opts.model, arch=opts.arch, num_classes=opts.num_classes, model_module=opts.model_module)
    preprocess = opts.preprocess or spec.preprocess
    if preprocess not in KINDS:
        raise InputError(f"--preprocess must be one of {', '.join(KINDS)}, got {preprocess!r}")
    if not Path(opts.data).is_dir():
        raise InputError(f"{opts.data}: data directory not found")
    class_file = read_class_file(opts.class_names) if opts.class_names else None
    if opts.engine == "ray" and opts.decode_on not in (None, "", "cpu"):
        raise InputError(
            "--decode-on cuda is an option of the local engine: with --engine ray, CPU tasks decode the images"
        )
    decode_device = resolve_decode_device(opts.decode_on, opts.device)
    return spec, class_file, preprocess, _device(opts), decode_device


def _device(opts: IngestOptions) -> str:
    """The device the network runs on; with --engine ray, the Ray actors' (this machine may have no GPU)."""
    if opts.engine != "ray":
        return resolve_device(opts.device)
    device = opts.device if opts.device not in (None, "", "auto") else "cpu"
    if not device.startswith(("cpu", "cuda")):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    return "cuda" if device.startswith("cuda") else "cpu"  # each actor has its own GPU


def prepare(opts: IngestOptions, notify: Callable[[str], None] | None = None) -> Prepared:
    """Resolve model, weights, layers and image set; fail early on any bad input."""
    notify = notify or log.warning
    spec, class_file, preprocess, device, decode_device = _check_options(opts)
    net, weights, notes = _load_net(spec, opts.weights)
    layers = resolve_layers(net, list(opts.layers or spec.info.default_layers), spec.info.layer_aliases)
    input_size = opts.input_size or spec.input_size
    layer_spec, n_outputs = _probe(net, layers, opts.reduce, input_size)
    image_set = open_image_set(
        opts.data,
        model_classes=_model_classes(spec, n_outputs, class_file),
        class_file=class_file,
        val_ground_truth=opts.val_ground_truth,
        places_list=opts.places_list,
        limit_per_class=opts.limit_per_class,
    )
    if not image_set.mapped:
        note = (
            f"the classes of {image_set.root} do not map onto {spec.name}'s outputs: using the data set's"
            f" {len(image_set.classes)} classes; no prediction is compared and every image is analysed"
            " (--class-names FILE names the model's outputs if they are the same classes)"
        )
        notify(note)
        notes.append(note)
    identity = {
        "model": spec.name,
        "arch": spec.arch,
        "num_outputs": n_outputs,
        "weights": weights,
        "model_module": opts.model_module,
        "layers": ", ".join(layers),
        "reduce": opts.reduce,
        "preprocess": describe(preprocess, input_size),
        "batch_size": opts.batch_size,
        "device": device.split(":")[0],
        "data": str(image_set.root.resolve()),
        "layout": image_set.layout,
        "images": f"{len(image_set)} images, digest {_images_digest(image_set)}",
        "limit_per_class": opts.limit_per_class,
        "classes_mapped": image_set.mapped,
    }
    if decode_device is not None:  # other decoders give slightly other pixels: a resume must not mix them
        identity["decode_on"] = decode_device.split(":")[0]
    cfg = RecordConfig(
        out=Path(opts.out) if opts.out else default_out(Path(opts.data), opts.name or spec.name),
        model_name=opts.name or spec.name,
        identity=identity,
        batch_size=opts.batch_size,
        workers=default_workers() if opts.workers is None else opts.workers,
        device=device,
        chunk_images=opts.chunk_images,
        force=opts.force,
        progress=opts.progress,
        decode_device=decode_device,
    )
    if opts.engine != "ray":  # Ray's actors move their copy of the network
        net.to(device)
    transform = make_transform(preprocess, input_size)
    return Prepared(
        spec,
        net,
        layers,
        opts.reduce,
        image_set,
        transform,
        layer_spec,
        cfg,
        image_set.notes + notes,
        preprocess,
        input_size,
        opts.engine,
    )


def record(
    opts: IngestOptions,
    notify: Callable[[str], None] | None = None,
    on_chunk: Callable[[IngestState], None] | None = None,
) -> tuple[Prepared, Recording]:
    """Write (or finish, or reuse) the activation file; no database involved."""
    prepared = prepare(opts, notify)
    if opts.engine == "ray":
        return prepared, _record_on_ray(opts, prepared, on_chunk)
    with LayerRecorder(prepared.net, prepared.layers, prepared.reduce) as recorder:
        result = record_activations(
            prepared.net,
            recorder,
            prepared.image_set,
            prepared.transform,
            prepared.layer_spec,
            prepared.cfg,
            on_chunk=on_chunk,
        )
    return prepared, result


def _record_on_ray(opts: IngestOptions, prepared: Prepared, on_chunk) -> Recording:
    from seldb.ingest.ray_recording import record_on_ray

    with ray_blocks.connect(opts.address) as ray:
        return record_on_ray(
            ray,
            prepared.net,
            prepared.layers,
            prepared.reduce,
            prepared.image_set,
            prepared.transform,
            prepared.layer_spec,
            prepared.cfg,
            on_chunk,
            opts.actors,
        )


def _check_analysable(prepared: Prepared, result: Recording, all_images: bool) -> None:
    if result.rows == 0:
        first = result.skipped[0] if result.skipped else {"path": "?", "reason": "?"}
        raise InputError(
            f"none of the {len(result.skipped)} images could be read"
            f" (first: {first['path']}: {first['reason']}); nothing to analyse"
        )
    if prepared.image_set.mapped and not all_images and result.n_correct == 0:
        raise InputError(
            f"{prepared.spec.name} classified none of the {result.rows} images correctly, so none is analysed;"
            f" rerun with --all-images to analyse every image ({result.out} is kept: no inference reruns)"
        )


def _provenance(prepared: Prepared, result: Recording) -> Provenance:
    device = prepared.cfg.device
    details = {
        "ingest": {
            **prepared.cfg.identity,
            "layer_modules": prepared.layers,  # what each recorded name is, e.g. conv5 = features.11
            "reductions": {name: reduction for name, (_, reduction) in prepared.layer_spec.items()},
            "workers": prepared.cfg.workers,
            "device_name": _device_name(device, prepared.engine),
            "engine": prepared.engine,
            "torch": torch.__version__,
            "resumed_at_rows": result.resumed_at,
            "activation_file": str(result.out.resolve()),
            # explicit, so that the network can be rebuilt (seldb am) without parsing "preprocess"
            "preprocess_kind": prepared.preprocess,
            "input_size": prepared.input_size,
        },
        "notes": prepared.notes,
    }
    return Provenance("seldb ingest", details, list(result.skipped))


def _device_name(device: str, engine: str) -> str:
    if not device.startswith("cuda"):
        return "cpu"
    return torch.cuda.get_device_name(device) if engine != "ray" else "cuda (a GPU per Ray actor)"


def load_recorded(
    db: Database,
    opts: IngestOptions,
    prepared: Prepared,
    result: Recording,
    notify: Callable[[str], None] | None = None,
) -> IngestResult:
    """Compute every measure from a recorded activation file and load the run (one transaction)."""
    notify = notify or log.warning
    _check_analysable(prepared, result, opts.all_images)
    if result.skipped:
        first = result.skipped[0]
        notify(
            f"{len(result.skipped)} unreadable image(s) skipped and listed in the run's record"
            f" (first: {first['path']}: {first['reason']})"
        )
    options = opts.import_options(prepared.cfg.model_name, prepared.image_set.name)
    imported = run_import(db, result.out, options, _provenance(prepared, result), progress=opts.progress)
    return IngestResult(
        out=result.out,
        n_images=result.rows,
        n_correct=result.n_correct if prepared.image_set.mapped else None,
        skipped=result.skipped,
        layers={name: units for name, (units, _) in prepared.layer_spec.items()},
        resumed_at=result.resumed_at,
        recording_reused=result.reused,
        imported=imported,
    )


def ingest(
    db: Database,
    opts: IngestOptions,
    notify: Callable[[str], None] | None = None,
    on_chunk: Callable[[IngestState], None] | None = None,
) -> IngestResult:
    """`seldb ingest`: record the activations (resumable), then measure and load the run."""
    check_engine(opts.engine, opts.address)
    with ray_blocks.session(opts.engine, opts.address):
        prepared, result = record(opts, notify, on_chunk)
        return load_recorded(db, opts, prepared, result, notify)
