"""Recording on a Ray cluster: `seldb ingest --engine ray`, Ray Data batch inference.

The local runner (seldb.ingest.runner) decodes in DataLoader workers and runs
the network in this process. Here the same work is a Ray Data pipeline: the
image list is a dataset with one row per batch of the local runner (the same
batch boundaries, so the same forward passes and the same numbers); decoding
and preprocessing run as CPU tasks (`map`), the network in a pool of actors
(`map` with a callable class, `num_gpus` per actor on CUDA), and the rows come
back to this process in image order. This process appends them to the
activation file chunk by chunk with the local runner's own resume record, so
an interrupted run - local or Ray - continues where it stopped, with either
engine.

What moves: each decoding task reads its images by path (the data directory
must be on storage every node sees at the same path), decoded batches go to
the model actors through the object store, and only the activations, labels
and predictions come back here. The network is put into the object store once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import pickle
import socket
from collections.abc import Callable
from pathlib import Path

from seldb.errors import InputError, SeldbError
from seldb.ingest.imagesets import ImageSet
from seldb.ingest.loader import ImageListDataset, collate
from seldb.ingest.runner import (
    TILE_ROWS,
    Chunk,
    RecordConfig,
    Recording,
    add_to_chunk,
    commit_chunk,
    commit_full,
    forward_batch,
    resumable_recording,
)
from seldb.ingest.state import IngestState
from seldb.progress import progress_bar


def _decode(row: dict, root: str, transform: Callable) -> dict:
    """Ray Data task: one batch descriptor -> the batch decoded and preprocessed, as the local runner forms it
    (an unreadable image is skipped with its reason, as there)."""
    paths, labels, start = [str(p) for p in row["paths"]], [int(x) for x in row["labels"]], int(row["start"])
    if not Path(root).is_dir():  # else every image would be skipped as unreadable, and the run recorded so
        raise InputError(
            f"{root}: no such directory on Ray node {socket.gethostname()}: with --engine ray every"
            " node reads the images at the same path (shared storage)"
        )
    dataset = ImageListDataset(Path(root), paths, labels, transform)
    batch = collate([dataset[i] for i in range(len(paths))])
    payload = {
        "positions": [start + p for p in batch.positions],
        "labels": batch.labels,
        "failed": [(start + p, reason) for p, reason in batch.failed],
        "images": None if batch.images is None else batch.images.numpy(),
    }
    return {"start": start, "payload": pickle.dumps(payload, protocol=5)}


DECODE_BYTES_PER_IMAGE = 4 << 20


class _Forward:
    """Ray Data actor: the network with its layer recorder; one decoded batch in, activations out."""

    def __init__(self, net, layers: dict[str, str], reduce: str, device: str):
        import torch

        from seldb.nets.hooks import LayerRecorder

        self.torch, self.device = torch, device
        self.net = net.to(device).eval()
        self.recorder = LayerRecorder(self.net, layers, reduce)

    def __call__(self, row: dict) -> dict:
        payload = pickle.loads(row["payload"])
        images = payload.pop("images")
        payload["acts"], payload["preds"] = {}, None
        if images is not None:
            with self.torch.inference_mode():
                payload["acts"], payload["preds"] = forward_batch(
                    self.net, self.recorder, self.torch.from_numpy(images), self.device
                )
        return {"start": row["start"], "payload": pickle.dumps(payload, protocol=5)}


def _actors(ray, device: str, actors: int | None) -> tuple[int, float]:
    """(model actors, GPUs per actor): one per GPU of the cluster on CUDA, else one per two CPUs."""
    resources = ray.cluster_resources()
    if device.startswith("cuda"):
        gpus = int(resources.get("GPU", 0))
        if gpus < 1:
            raise InputError(
                "--device cuda with --engine ray: the Ray cluster has no GPU (start its nodes with"
                " GPUs, or use --device cpu)"
            )
        return actors or gpus, 1.0
    return actors or max(1, int(resources.get("CPU", 1)) // 2), 0.0


def _pipeline(ray, net, layers, reduce, image_set: ImageSet, transform, cfg: RecordConfig, start: int, actors):
    """The dataset of the batches from image `start` on, decoded and run through the network, in order."""
    import ray.data

    # Ray Data's reports would bury seldb's lines; its errors still reach the driver, as exceptions
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    context = ray.data.DataContext.get_current()
    context.raise_original_map_exception = True  # a task's InputError reaches _rows as itself
    context.execution_options.preserve_order = True  # rows come back in image order
    context.enable_progress_bars = False  # seldb shows its own
    n, size = len(image_set.paths), cfg.batch_size
    items = [
        {"start": s, "paths": list(image_set.paths[s : s + size]), "labels": list(image_set.labels[s : s + size])}
        for s in range(start, n, size)
    ]
    n_actors, gpus = _actors(ray, cfg.device, actors)
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * n_actors)))
    # memory (about a decoded image and its tensor per image) also keeps the decoding tasks apart from
    # the actors: Ray Data fuses operators with equal resource requests, and one process would then
    # decode and run the network in turn
    ds = ds.map(
        _decode,
        fn_kwargs={"root": str(image_set.root), "transform": transform},
        num_cpus=1,
        memory=cfg.batch_size * DECODE_BYTES_PER_IMAGE,
    )
    pool = ray.data.ActorPoolStrategy(size=n_actors)  # the network, put into the object store once
    return ds.map(
        _Forward,
        fn_constructor_args=(net.cpu(), layers, reduce, cfg.device),
        compute=pool,
        num_gpus=gpus,
        num_cpus=0 if gpus else 1,
    )


def record_on_ray(
    ray,
    net,
    layers: dict[str, str],
    reduce: str,
    image_set: ImageSet,
    transform: Callable,
    layer_spec: dict,
    cfg: RecordConfig,
    on_chunk: Callable[[IngestState], None] | None = None,
    actors: int | None = None,
) -> Recording:
    """seldb.ingest.runner.record_activations on a connected Ray cluster: the same file, resumable."""

    def fill(writer, state: IngestState) -> None:
        ds = _pipeline(ray, net, layers, reduce, image_set, transform, cfg, state.next_index, actors)
        _consume(ds, writer, state, image_set, cfg, on_chunk)

    return resumable_recording(cfg, image_set, layer_spec, fill)


def _consume(ds, writer, state: IngestState, image_set: ImageSet, cfg: RecordConfig, on_chunk) -> None:
    """Append the batches in order, a chunk (about one 1,024-row tile) at a time, as the local runner does."""
    per_chunk = max(1, math.ceil((cfg.chunk_images or TILE_ROWS) / cfg.batch_size))
    chunk = Chunk()
    label = cfg.model_name + " on Ray" + (f" (resumed at image {state.next_index})" if state.next_index else "")
    # closing: an interruption (Ctrl-C, on_chunk raising) stops Ray Data's executor here and now, before
    # the session closes; left to the garbage collector, its threads would outlive the connection
    with (
        progress_bar(cfg.progress, len(image_set.paths) - state.next_index, label, unit="images") as bar,
        contextlib.closing(_rows(ds)) as rows,
    ):
        for row in rows:
            done = pickle.loads(row["payload"])
            _add(chunk, done, image_set)
            chunk.batches += 1
            chunk.end = min(int(row["start"]) + cfg.batch_size, len(image_set.paths))
            bar.advance(len(done["positions"]) + len(done["failed"]))
            chunk = commit_full(chunk, per_chunk, writer, state, cfg, image_set, on_chunk)
        if chunk.batches:
            commit_chunk(chunk, writer, state, cfg, image_set)


def _rows(ds):
    """The dataset's rows; a SeldbError raised in a task or actor comes out as itself (one line)."""
    try:
        yield from ds.iter_rows()
    except Exception as exc:
        cause = seldb_cause(exc)
        if cause is None:
            raise
        raise cause from None


def seldb_cause(exc: BaseException) -> SeldbError | None:
    """The SeldbError inside Ray's wrappers (RayTaskError.cause, UserCodeException's __cause__), if any."""
    seen = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen:
        if isinstance(inner, SeldbError):
            return inner
        seen.add(id(inner))
        inner = getattr(inner, "cause", None) or inner.__cause__ or inner.__context__
    return None


def _add(chunk: Chunk, done: dict, image_set: ImageSet) -> None:
    add_to_chunk(chunk, image_set, done["failed"], done["positions"], done["labels"], done["acts"], done["preds"])
