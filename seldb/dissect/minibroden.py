"""A tiny Broden-format dataset made by code, for tests and the demo.

Broden itself is 63,305 images and may not be downloaded at run time, so the
tests and the demo need a dataset that exercises every path of the loader
and the tally: pixel categories (color: every pixel; object: one PNG plane
per shape, planes may overlap; part: shape borders), whole-image categories
(scene, texture) that only some images carry, images that no chosen category
labels, and segmentations at the image's size or at a lower one (Broden's are
half size). Images are lossless PNGs with pure palette colours, so a network
can find a colour's pixels exactly (seldb.dissect.planted_net relies on it).
Everything follows from the seed.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PALETTE = {  # Broden's colour names carry "-c"
    "red-c": (230, 25, 25),
    "green-c": (30, 170, 40),
    "blue-c": (35, 60, 215),
    "yellow-c": (240, 215, 35),
    "white-c": (245, 245, 245),
    "grey-c": (128, 128, 128),
    "black-c": (15, 15, 15),
}
BACKGROUNDS = ("white-c", "grey-c", "blue-c", "green-c", "yellow-c")
SHAPE_COLOURS = ("red-c", "green-c", "blue-c", "yellow-c", "white-c")
SHAPES = ("circle", "square", "triangle")
PARTS = ("border",)
SCENES = ("indoor", "outdoor")
TEXTURES = ("striped", "dotted", "plain")
CATEGORIES = {"color": tuple(PALETTE), "object": SHAPES, "part": PARTS, "scene": SCENES, "texture": TEXTURES}


@dataclass(frozen=True)
class MiniBroden:
    directory: Path
    labels: dict[str, int]  # label name -> number
    n_images: int
    image_size: int
    seg_size: int


def make_mini_broden(
    directory,
    n_images: int = 24,
    image_size: int = 32,
    seg_size: int | None = None,
    seed: int = 0,
    red_share: float = 0.3,
) -> MiniBroden:
    """Write a Broden-format dataset into `directory` (created); the same arguments give the same files.

    `red_share` is the chance that a shape is red, which keeps red-c a rare concept (planted unit tests).
    """
    seg_size = seg_size or image_size
    directory = Path(directory)
    (directory / "images" / "mini").mkdir(parents=True, exist_ok=True)
    numbers = _label_numbers()
    rng = np.random.default_rng(seed)
    rows, stats = [], _Stats()
    for i in range(n_images):
        scene = _draw_image(rng, image_size, red_share)
        rows.append(_write_image(directory, i, scene, image_size, seg_size, numbers, stats))
    _write_index(directory, rows)
    _write_labels(directory, numbers, stats)
    return MiniBroden(directory, numbers, n_images, image_size, seg_size)


def _label_numbers() -> dict[str, int]:
    names = [name for labels in CATEGORIES.values() for name in labels]
    return {name: number for number, name in enumerate(names, start=1)}


@dataclass
class _Scene:
    pixels: np.ndarray  # (S, S) colour names as indices into PALETTE order
    shapes: list[tuple[str, np.ndarray, np.ndarray]]  # (shape, mask, border mask) at full size
    scene: str | None
    texture: str | None


def _draw_image(rng: np.random.Generator, size: int, red_share: float) -> _Scene:
    colours = list(PALETTE)
    background = str(rng.choice(BACKGROUNDS))
    pixels = np.full((size, size), colours.index(background))
    pattern = str(rng.choice(TEXTURES))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    if pattern == "striped":
        pixels[(np.floor(yy) % 6) < 2] = colours.index("black-c")
    elif pattern == "dotted":
        pixels[((np.floor(yy) % 6) < 2) & ((np.floor(xx) % 6) < 2)] = colours.index("black-c")
    shapes = []
    for _ in range(int(rng.integers(0, 3))):  # 0, 1 or 2 shapes, the later on top
        kind = str(rng.choice(SHAPES))
        others = [c for c in SHAPE_COLOURS if c not in (background, "red-c")]
        colour = "red-c" if rng.random() < red_share else str(rng.choice(others))
        mask = _shape_mask(rng, kind, yy, xx, size)
        pixels[mask] = colours.index(colour)
        shapes.append((kind, mask, mask & ~_eroded(mask)))
    scene = ("indoor" if background in ("white-c", "grey-c", "yellow-c") else "outdoor") if rng.random() < 0.7 else None
    texture = pattern if rng.random() < 0.5 else None  # only some images are texture-annotated, as DTD's
    return _Scene(pixels, shapes, scene, texture)


def _shape_mask(rng: np.random.Generator, kind: str, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    half = rng.uniform(0.15, 0.3) * size
    cy, cx = rng.uniform(half, size - half, 2)
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= half**2
    if kind == "square":
        return (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)
    # an upward triangle: below the two slanted edges and above the base
    inside = (yy <= cy + half) & (np.abs(xx - cx) <= (yy - (cy - half)) / 2)
    return inside


def _eroded(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


class _Stats:
    """Per label: images it appears in and its pixel coverage in whole images (label.csv's columns)."""

    def __init__(self):
        self.frequency: dict[str, int] = defaultdict(int)
        self.coverage: dict[str, float] = defaultdict(float)
        self.touched: dict[str, int] = defaultdict(int)  # per category: images with any of its labels

    def add(self, name: str, share: float) -> None:
        self.frequency[name] += 1
        self.coverage[name] += share

    def touch(self, row: dict[str, object]) -> None:
        for cat in CATEGORIES:
            self.touched[cat] += bool(row[cat])


def _nearest(image: np.ndarray, seg_size: int) -> np.ndarray:
    """Sample at the segmentation's pixel centres (nearest neighbour), as Broden's half-size PNGs are."""
    size = image.shape[0]
    rows = np.floor((np.arange(seg_size) + 0.5) * size / seg_size).astype(int)
    return image[np.ix_(rows, rows)]


def _save_labels(path: Path, labels: np.ndarray) -> None:
    rgb = np.zeros(labels.shape + (3,), np.uint8)
    rgb[..., 0], rgb[..., 1] = labels % 256, labels // 256
    Image.fromarray(rgb, "RGB").save(path)


def _write_image(
    directory: Path, i: int, scene: _Scene, size: int, seg_size: int, numbers: dict[str, int], stats: _Stats
) -> dict[str, object]:
    stem = f"mini/{i:04d}"
    colours = list(PALETTE)
    rgb = np.array([PALETTE[c] for c in colours], np.uint8)[scene.pixels]
    Image.fromarray(rgb, "RGB").save(directory / "images" / f"{stem}.png")
    seg_colours = _nearest(scene.pixels, seg_size)
    _save_labels(directory / "images" / f"{stem}_color.png", np.array([numbers[c] for c in colours])[seg_colours])
    for index in np.unique(seg_colours):
        stats.add(colours[index], float(np.mean(seg_colours == index)))
    objects, border = [], np.zeros((seg_size, seg_size), int)
    for j, (kind, mask, edge) in enumerate(scene.shapes):
        plane = np.where(_nearest(mask, seg_size), numbers[kind], 0)
        _save_labels(directory / "images" / f"{stem}_object_{j}.png", plane)
        objects.append(f"{stem}_object_{j}.png")
        stats.add(kind, float(np.mean(plane > 0)))
        border[_nearest(edge, seg_size)] = numbers["border"]
    parts = ""
    if border.any():
        _save_labels(directory / "images" / f"{stem}_part.png", border)
        parts = f"{stem}_part.png"
        stats.add("border", float(np.mean(border > 0)))
    for name in (scene.scene, scene.texture):
        if name:
            stats.add(name, 1.0)
    row = {
        "image": f"{stem}.png",
        "split": "train",
        "ih": size,
        "iw": size,
        "sh": seg_size,
        "sw": seg_size,
        "color": f"{stem}_color.png",
        "object": ";".join(objects),
        "part": parts,
        "scene": str(numbers[scene.scene]) if scene.scene else "",
        "texture": str(numbers[scene.texture]) if scene.texture else "",
    }
    stats.touch(row)
    return row


def _write_csv(path: Path, header: list[str], rows: list) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _write_index(directory: Path, rows: list[dict[str, object]]) -> None:
    header = ["image", "split", "ih", "iw", "sh", "sw", *CATEGORIES]
    _write_csv(directory / "index.csv", header, [[row[h] for h in header] for row in rows])


def _write_labels(directory: Path, numbers: dict[str, int], stats: _Stats) -> None:
    label_rows, category_rows = [], []
    for cat, names in CATEGORIES.items():
        label_rows += [
            [numbers[n], n, f"{cat}({stats.frequency[n]})", stats.frequency[n], f"{stats.coverage[n]:.6f}", ""]
            for n in names
        ]
        coded = [
            [code, numbers[n], n, stats.frequency[n], f"{stats.coverage[n]:.6f}"]
            for code, n in enumerate(names, start=1)
        ]
        _write_csv(directory / f"c_{cat}.csv", ["code", "number", "name", "frequency", "coverage"], coded)
        category_rows.append([cat, numbers[names[0]], numbers[names[-1]], len(names), stats.touched[cat]])
    _write_csv(directory / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"], label_rows)
    _write_csv(directory / "category.csv", ["name", "first", "last", "count", "frequency"], category_rows)
