"""A small demo-like run for the web app's tests: images on disk, AM images, a rating study.

Like `seldb demo`'s run, but made in a second without torch: ten digit
classes of 24 images each, drawn as PNG files (so top images have
thumbnails), two layers (conv1 recorded by its spatial max, fc1 a fully
connected layer) with planted selective units, a dead unit, NaN-free
ReLU-like activations with exact zeros, AM images stored for four fc1 units
as `seldb am` stores them, and a blinded rating sheet of those four units
registered as the study "pilot". Every random number is seeded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seldb.h5.reader import write_activation_file

CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PER_CLASS = 24
LAYERS = {"conv1": 8, "fc1": 16}
AM_UNITS = ("fc1.0", "fc1.1", "fc1.2", "fc1.3")
STUDY = "pilot"


@dataclass
class DemoLike:
    run_id: int
    root: Path
    h5: Path
    labels: np.ndarray
    layers: dict[str, np.ndarray]
    am_pngs: dict[str, Path]
    sheet_dir: Path


def _image(label: int, index: int, rng: np.random.Generator) -> np.ndarray:
    """A 32x32 RGB picture: a class colour band and noise, different for every image."""
    image = rng.integers(0, 60, size=(32, 32, 3), dtype=np.uint8)
    colour = np.array([(label * 53) % 256, (label * 97 + 40) % 256, (label * 29 + 90) % 256], dtype=np.uint8)
    image[4 + label * 2 : 10 + label * 2, :, :] = colour
    image[:, index % 32, :] = 255
    return image


def activations(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ReLU-like activations; fc1.u for u < 10 prefers class u (fc1.0 perfectly), conv1.7 is dead."""
    n = labels.size
    layers = {}
    for name, units in LAYERS.items():
        values = np.maximum(rng.normal(0.2, 1.0, size=(n, units)), 0.0)
        for u in range(min(units, len(CLASSES))):
            values[:, u] += (labels == u) * (1.0 + 0.4 * u) * rng.random(n)
        layers[name] = values.astype(np.float32)
    layers["fc1"][:, 0] = np.where(labels == 0, 5 + rng.random(n), rng.random(n)).astype(np.float32)
    layers["conv1"][:, 7] = 0.0
    return layers


def _am_png(path: Path, seed: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)).save(path)
    return path


def _store_am_images(db, run_id: int, am_dir: Path, am_seed: int) -> dict[str, Path]:
    """One AM image row per unit of AM_UNITS, as `seldb am` writes them (seldb.am.am_images.save)."""
    import sqlalchemy as sa

    from seldb.am import am_images as store

    pngs = {}
    with db.connect() as conn:
        layer_ids = dict(
            conn.execute(
                sa.text("SELECT name, layer_id FROM seldb_store.run_layers WHERE run_id = :r"), {"r": run_id}
            ).all()
        )
        for i, label in enumerate(AM_UNITS):
            layer, unit = label.split(".")
            png = _am_png(am_dir / f"{label}.png", am_seed + i)
            pngs[label] = png
            record = {
                **store.key(run_id, layer_ids[layer], int(unit), "fft-gray", 0, 64, 48, False, 0.05),
                "activation_mean": 3.0 + i,
                "activation_max": 3.0 + i,
                "objective": 3.0 + i,
                "reference_mean": 0.5,
                "reference_max": 0.5,
                "reference_n_images": 240,
                "path": str(png),
                "sha256": hashlib.sha256(png.read_bytes()).hexdigest(),
                "device": "cpu",
                "seconds": 0.1,
                "settings": {"test": True},
            }
            store.save(conn, record)
        conn.commit()
    return pngs


def make_demo_like(db, root: Path, seed: int = 7, study: str = STUDY, am_seed: int = 100) -> DemoLike:
    """Write the files, import the run, store its AM images, write the rating sheet and register the study
    (tests sharing a database give each its own study name and am_seed: a sheet is one study)."""
    from PIL import Image

    from seldb.load.options import ImportOptions

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), PER_CLASS))
    images = root / "images"
    paths = []
    for i, label in enumerate(labels):
        folder = images / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(int(label), i, rng)).save(folder / f"{i:04d}.png")
        paths.append(f"images/{CLASSES[label]}/{i:04d}.png")  # relative: found beside the activation file
    layers = activations(labels, rng)
    h5 = write_activation_file(
        root / "demo-like.h5",
        class_names=list(CLASSES),
        labels=labels,
        layers=layers,
        reductions={"conv1": "max"},
        paths=paths,
        model="demo-like-cnn",
        dataset="digits-240",
    )
    run_id = db.import_h5(h5, ImportOptions(on_duplicate="new"), progress=False).run_id
    am_dir = root / "am"
    am_dir.mkdir()
    pngs = _store_am_images(db, run_id, am_dir, am_seed)
    sheet = db.am_sheet(list(AM_UNITS), root / "sheet", run=run_id, seed=3)
    db.add_study(sheet.key, study)
    return DemoLike(run_id, root, h5, labels, layers, pngs, root / "sheet")
