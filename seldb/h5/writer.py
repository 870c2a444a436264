"""Writing an activation file, and the format's identity (name, version, tile shape).

seldb.h5.reader reads and validates (and re-exports the writers).

`seldb ingest` appends rows batch by batch as the network runs
(`ActivationWriter`); tests and small tools write a whole file from arrays
(`write_activation_file`). Layers are written in tiles of TILE (images x
units), cheap to append by rows and to read by units.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

FORMAT = "seldb-activations"
VERSION = 1
TILE = (1024, 128)  # images x units: cheap to write by rows, cheap to read by units
_str = h5py.string_dtype("utf-8")


class ActivationWriter:
    """Writes an activation file by rows of images, as a network produces them.

    Datasets are resizable and tiled, so a run can stop and resume: `n_written`
    tells how many rows are on disk and `truncate` drops a partial tail.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        model: str,
        dataset: str,
        class_names: Sequence[str],
        layers: dict[str, tuple[int, str]],
        class_keys: Sequence[str] | None = None,
        with_pred: bool = False,
        with_path: bool = False,
        dtype=np.float32,
        mode: str = "w",
    ):
        self.path = Path(path)
        self._h5 = h5py.File(self.path, mode)
        h5 = self._h5
        if mode == "w" or "classes" not in h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["version"] = VERSION
            h5.attrs["model"] = model
            h5.attrs["dataset"] = dataset
            h5.create_dataset("/classes/name", data=np.array(list(class_names), dtype=object), dtype=_str)
            if class_keys is not None:
                h5.create_dataset("/classes/key", data=np.array(list(class_keys), dtype=object), dtype=_str)
            h5.create_dataset("/images/label", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(65536,))
            if with_pred:
                h5.create_dataset("/images/pred", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(65536,))
            if with_path:
                h5.create_dataset("/images/path", shape=(0,), maxshape=(None,), dtype=_str, chunks=(4096,))
            for name, (n_units, reduction) in layers.items():
                tile = (TILE[0], min(TILE[1], n_units))
                ds = h5.create_dataset(
                    f"/layers/{name}", shape=(0, n_units), maxshape=(None, n_units), dtype=dtype, chunks=tile
                )
                ds.attrs["reduction"] = reduction

    @property
    def n_written(self) -> int:
        return int(self._h5["/images/label"].shape[0])

    def _grow(self, name: str, values) -> None:
        ds = self._h5[name]
        n = ds.shape[0]
        ds.resize(n + len(values), axis=0)
        ds[n:] = values

    def append(self, labels, activations: dict[str, np.ndarray], preds=None, paths=None) -> None:
        """Append a batch of images; layers first, labels last, so rows count only when complete."""
        n = len(labels)
        for name, values in activations.items():
            if values.shape[0] != n:
                raise ValueError(f"layer {name}: {values.shape[0]} rows for {n} labels")
            self._grow(f"/layers/{name}", values)
        if preds is not None:
            self._grow("/images/pred", np.asarray(preds))
        if paths is not None:
            self._grow("/images/path", np.array(list(paths), dtype=object))
        self._grow("/images/label", np.asarray(labels))

    def truncate(self, n_rows: int) -> None:
        """Cut every row-indexed dataset to n_rows (drops a half-written batch)."""
        for group in ("images", "layers"):
            for ds in self._h5[group].values():
                if ds.shape[0] > n_rows:
                    ds.resize(n_rows, axis=0)

    def flush(self) -> None:
        self._h5.flush()

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> ActivationWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_activation_file(
    path: str | os.PathLike,
    *,
    class_names: Sequence[str],
    labels: np.ndarray,
    layers: dict[str, np.ndarray],
    reductions: dict[str, str] | None = None,
    class_keys: Sequence[str] | None = None,
    preds: np.ndarray | None = None,
    paths: Sequence[str] | None = None,
    model: str = "model",
    dataset: str = "dataset",
) -> Path:
    """Write a whole activation file from in-memory arrays (tests, small tools)."""
    reductions = reductions or {}
    spec = {name: (values.shape[1], reductions.get(name, "none")) for name, values in layers.items()}
    dtype = next(iter(layers.values())).dtype if layers else np.float32
    with ActivationWriter(
        path,
        model=model,
        dataset=dataset,
        class_names=class_names,
        class_keys=class_keys,
        layers=spec,
        with_pred=preds is not None,
        with_path=paths is not None,
        dtype=dtype,
    ) as writer:
        writer.append(labels, layers, preds=preds, paths=paths)
    return Path(path)
