"""Recording: batched inference that writes the activation file chunk by chunk.

Images flow DataLoader -> network (hooks reduce each recorded layer) -> a
chunk buffer -> ActivationWriter. A chunk is a whole number of batches
(about 1,024 images, one tile of the file); after each chunk the file is
flushed and the resume record saved, in that order. Running the same command
again after a kill truncates the file to the recorded rows and restarts at
the recorded position with the same batch boundaries, so on CPU the result is
bit-identical to an uninterrupted run. With `decode_device` set, the workers
only read the files and the main process decodes the JPEGs on that device
(seldb.ingest.device_decode); the rest is the same.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seldb.errors import InputError
from seldb.h5.reader import ActivationWriter
from seldb.ingest.imagesets import ImageSet
from seldb.ingest.loader import Batch, ImageListDataset, make_loader
from seldb.ingest.state import IngestState, remove_state
from seldb.nets.hooks import LayerRecorder
from seldb.progress import progress_bar

log = logging.getLogger(__name__)
TILE_ROWS = 1024


@dataclass
class RecordConfig:
    out: Path
    model_name: str
    identity: dict  # the options a resume must agree with (seldb.ingest.state)
    batch_size: int = 64
    workers: int = 0
    device: str = "cpu"
    chunk_images: int | None = None  # default: the batches filling about one 1,024-row tile
    # None: workers decode with PIL; a device ("cuda", "cpu"): workers read bytes, the main process
    # decodes JPEGs there in batches (seldb.ingest.device_decode)
    decode_device: str | None = None
    force: bool = False
    progress: bool = True


@dataclass
class Recording:
    out: Path
    rows: int
    n_correct: int
    skipped: list[dict]
    resumed_at: int  # rows already on disk when this call started (0: fresh)
    reused: bool = False  # the file was already complete: no inference ran


@dataclass
class Chunk:
    labels: list = field(default_factory=list)
    preds: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    acts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    batches: int = 0
    end: int = 0  # position after the chunk's last image


def resolve_decode_device(decode_on: str | None, device: str | None) -> str | None:
    """None for decoding with PIL in the workers (--decode-on cpu), else the CUDA device JPEGs are decoded on."""
    if decode_on in (None, "", "cpu"):
        return None
    if not decode_on.startswith("cuda"):
        raise InputError(f"--decode-on must be cpu, cuda or cuda:N, got {decode_on!r}")
    if not torch.cuda.is_available():
        raise InputError(
            f"--decode-on {decode_on}: CUDA is not available here (torch {torch.__version__});"
            " use --decode-on cpu (the default)"
        )
    if decode_on == "cuda" and device and device.startswith("cuda:"):
        return device  # the network's GPU: the decoded batch need not move again
    return decode_on


def record_activations(
    net: torch.nn.Module,
    recorder: LayerRecorder,
    image_set: ImageSet,
    transform: Callable,
    layer_spec: dict[str, tuple[int, str]],
    cfg: RecordConfig,
    on_chunk: Callable[[IngestState], None] | None = None,
) -> Recording:
    """Run the network over the image set into cfg.out, resuming a killed run of the same options."""
    return resumable_recording(
        cfg,
        image_set,
        layer_spec,
        lambda writer, state: _run_chunks(net, recorder, image_set, transform, cfg, writer, state, on_chunk),
    )


def resumable_recording(
    cfg: RecordConfig, image_set: ImageSet, layer_spec, fill: Callable[[ActivationWriter, IngestState], None]
) -> Recording:
    """The frame of every recording (local or on Ray): open cfg.out where a killed run of the same options
    stopped (or find it complete), let `fill` append the rest, mark it complete, close it."""
    writer, state = open_output(cfg, image_set, layer_spec)
    resumed_at = state.rows
    if writer is None:
        return Recording(cfg.out, state.rows, state.n_correct, state.skipped, resumed_at, reused=True)
    try:
        fill(writer, state)
        state.complete = True
        state.save(cfg.out)
    finally:
        writer.close()
    return Recording(cfg.out, state.rows, state.n_correct, state.skipped, resumed_at)


def _writer(cfg: RecordConfig, image_set: ImageSet, layer_spec, mode: str) -> ActivationWriter:
    return ActivationWriter(
        cfg.out,
        model=cfg.model_name,
        dataset=image_set.name,
        class_names=image_set.classes.names,
        class_keys=image_set.classes.keys,
        layers=layer_spec,
        with_pred=image_set.mapped,
        with_path=True,
        mode=mode,
    )


def open_output(cfg: RecordConfig, image_set: ImageSet, layer_spec) -> tuple[ActivationWriter | None, IngestState]:
    """A writer positioned where the run continues, or None when the file is already complete."""
    out = cfg.out
    if cfg.force:
        out.unlink(missing_ok=True)
        remove_state(out)
    state = IngestState.load(out)
    if state is None and out.exists():
        raise InputError(f"{out} exists and is not a partial ingest: choose another --out, or --force to overwrite")
    if state is not None:
        differences = state.differences(cfg.identity)
        if differences and state.complete:
            raise InputError(
                f"{out} was written with other options ({'; '.join(differences)}):"
                " choose another --out, or --force to overwrite it"
            )
        if differences:
            raise InputError(
                f"{out} was started with other options ({'; '.join(differences)}):"
                " rerun with the same options to resume, or --force to start over"
            )
        if state.complete and out.exists():
            return None, state
        if not state.complete and out.exists():
            try:
                writer = _writer(cfg, image_set, layer_spec, "a")
                writer.truncate(state.rows)  # drop a chunk half-written when the run was killed
                return writer, state
            except (OSError, KeyError) as exc:
                log.warning("%s is damaged (%s); starting over", out, exc)
                out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = IngestState(identity=cfg.identity)
    state.save(out)  # before the file: a kill in between leaves a record, never an orphan file
    return _writer(cfg, image_set, layer_spec, "w"), state


def _run_chunks(net, recorder, image_set, transform, cfg, writer, state, on_chunk) -> None:
    per_chunk = max(1, math.ceil((cfg.chunk_images or TILE_ROWS) / cfg.batch_size))
    loader, to_batch = _source(image_set, transform, cfg, state.next_index)
    chunk = Chunk()
    label = cfg.model_name + (f" (resumed at image {state.next_index})" if state.next_index else "")
    with progress_bar(cfg.progress, len(loader.dataset), label, unit="images") as bar:
        with torch.inference_mode():
            for item in loader:
                batch = to_batch(item)
                _forward_into(chunk, net, recorder, batch, image_set, cfg.device)
                chunk.batches += 1
                chunk.end = max(batch.positions + [p for p, _ in batch.failed]) + 1
                bar.advance(len(batch.positions) + len(batch.failed))
                chunk = commit_full(chunk, per_chunk, writer, state, cfg, image_set, on_chunk)
            if chunk.batches:
                commit_chunk(chunk, writer, state, cfg, image_set)


def commit_full(chunk: Chunk, per_chunk: int, writer, state, cfg, image_set, on_chunk) -> Chunk:
    """Commit the chunk once it holds per_chunk batches; returns the chunk to fill next."""
    if chunk.batches < per_chunk:
        return chunk
    commit_chunk(chunk, writer, state, cfg, image_set)
    if on_chunk:
        on_chunk(state)
    return Chunk()


def _source(image_set: ImageSet, transform, cfg: RecordConfig, start: int):
    """(loader, item -> Batch): PIL decoding in the workers, or JPEG decoding on cfg.decode_device."""
    s = image_set
    if cfg.decode_device is not None:
        from seldb.ingest.device_decode import make_device_source

        return make_device_source(
            s.root, s.paths, s.labels, transform, start, cfg.batch_size, cfg.workers, cfg.decode_device
        )
    dataset = ImageListDataset(s.root, s.paths, s.labels, transform, start=start)
    return make_loader(dataset, cfg.batch_size, cfg.workers, pin_memory=cfg.device.startswith("cuda")), _same


def _same(batch: Batch) -> Batch:
    return batch


def _forward_into(chunk: Chunk, net, recorder, batch: Batch, image_set: ImageSet, device: str) -> None:
    acts, preds = forward_batch(net, recorder, batch.images, device) if batch.images is not None else ({}, None)
    add_to_chunk(chunk, image_set, batch.failed, batch.positions, batch.labels, acts, preds)


def forward_batch(net, recorder: LayerRecorder, images: torch.Tensor, device: str) -> tuple[dict, np.ndarray]:
    """The recorded layers' activations (float32) and the predicted classes of one batch of images."""
    logits = net(images.to(device, non_blocking=True))
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise InputError("the model's forward must return a (batch, classes) tensor of scores")
    acts = {name: values.float().cpu().numpy() for name, values in recorder.take().items()}
    return acts, logits.argmax(dim=1).cpu().numpy()


def add_to_chunk(chunk: Chunk, image_set: ImageSet, failed, positions, labels, acts: dict, preds) -> None:
    """One batch's results (and its unreadable images) added to the chunk being filled."""
    chunk.skipped += [{"path": image_set.paths[p], "reason": reason} for p, reason in failed]
    if not positions:
        return
    for name, values in acts.items():
        chunk.acts.setdefault(name, []).append(values)
    chunk.preds.append(np.asarray(preds))
    chunk.labels += labels
    chunk.paths += [image_set.paths[p] for p in positions]


def commit_chunk(chunk: Chunk, writer: ActivationWriter, state: IngestState, cfg, image_set) -> None:
    """Append the chunk, flush, then record it: the record never runs ahead of the file."""
    if chunk.labels:
        labels = np.asarray(chunk.labels, dtype=np.int32)
        preds = np.concatenate(chunk.preds).astype(np.int32)
        acts = {name: np.concatenate(parts) for name, parts in chunk.acts.items()}
        writer.append(labels, acts, preds=preds if image_set.mapped else None, paths=chunk.paths)
        if image_set.mapped:
            state.n_correct += int((preds == labels).sum())
    writer.flush()
    state.rows = writer.n_written
    state.next_index = chunk.end
    state.skipped += chunk.skipped
    state.save(cfg.out)
