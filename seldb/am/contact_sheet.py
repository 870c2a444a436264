"""Captioned image grids: the "natural AM" contact sheet and the AM overview figure.

Beside a synthesised AM image, the paper's question "is this unit an object
detector?" is best answered by the dataset images that drive the unit most,
with their classes and activations: if the top images are all one class the
AM image has something to agree with. The activation file keeps only image
paths, and the images may live on a disk that is not mounted where the report
runs; a tile then says so, and when no image is reachable no sheet is written
and the result carries a note saying why. `top_images_sheet` is that sheet
for `seldb report unit --top-images N`, from seldb.unit_top_images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from seldb.am.dataset_images import locate, run_record
from seldb.errors import InputError

BACKGROUND, INK, PLACEHOLDER = (255, 255, 255), (20, 20, 20), (200, 200, 200)
GAP = 6


@dataclass
class ContactSheet:
    path: Path | None  # None when no image was reachable (nothing written)
    n_images: int
    missing: list[str] = field(default_factory=list)  # paths that could not be read
    note: str | None = None  # one line for the report when images are missing


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _fit(draw, text: str, font, width: int) -> str:
    """The caption cut with an ellipsis to the tile's width."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _tile(image: np.ndarray | None, size: int):
    """An RGB tile of size x size: the image fitted without distortion, or a grey 'not reachable' box."""
    from PIL import Image, ImageDraw

    tile = Image.new("RGB", (size, size), PLACEHOLDER if image is None else BACKGROUND)
    if image is None:
        draw = ImageDraw.Draw(tile)
        draw.text(
            (size // 2, size // 2),
            "image not\nreachable",
            fill=INK,
            font=_font(max(9, size // 10)),
            anchor="mm",
            align="center",
        )
        return tile
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    factor = size / max(picture.size)
    # small images (28-pixel digits) are enlarged with visible pixels, large ones smoothly reduced
    resample = Image.Resampling.NEAREST if factor > 1 else Image.Resampling.BILINEAR
    picture = picture.resize((max(1, round(picture.width * factor)), max(1, round(picture.height * factor))), resample)
    tile.paste(picture, ((size - picture.width) // 2, (size - picture.height) // 2))
    return tile


def captioned_grid(
    images: Sequence[np.ndarray | None],
    captions: Sequence[Sequence[str]],
    tile: int = 128,
    columns: int = 4,
    title: str | None = None,
):
    """A PIL image: the tiles in rows of `columns`, each with its caption lines under it."""
    from PIL import Image, ImageDraw

    if len(images) != len(captions) or not images:
        raise InputError(
            f"a grid needs one caption per image and at least one image ({len(images)} images,"
            f" {len(captions)} captions)"
        )
    font = _font(max(9, tile // 11))
    line = int(font.size * 1.25)
    n_lines = max(len(c) for c in captions)
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    top = line + GAP if title else 0
    cell_w, cell_h = tile + GAP, tile + n_lines * line + GAP
    sheet = Image.new("RGB", (columns * cell_w + GAP, top + rows * cell_h + GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((GAP, GAP // 2), _fit(draw, title, font, sheet.width - 2 * GAP), fill=INK, font=font)
    for i, (image, caption) in enumerate(zip(images, captions)):
        x, y = GAP + (i % columns) * cell_w, top + GAP + (i // columns) * cell_h
        sheet.paste(_tile(image, tile), (x, y))
        for j, text in enumerate(caption):
            draw.text((x, y + tile + j * line), _fit(draw, text, font, tile), fill=INK, font=font)
    return sheet


def _read(path: str | os.PathLike) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError):
        return None


def write_contact_sheet(
    paths: Sequence[str | os.PathLike | None],
    class_names: Sequence[str | None],
    activations: Sequence[float],
    out: str | os.PathLike,
    columns: int = 4,
    tile: int = 128,
    title: str | None = None,
) -> ContactSheet:
    """One PNG of the images in the given order (rank 1 first), class and activation under each."""
    if not (len(paths) == len(class_names) == len(activations)):
        raise InputError(
            f"the contact sheet needs as many classes and activations as images ({len(paths)} images,"
            f" {len(class_names)} classes, {len(activations)} activations)"
        )
    if not paths:
        raise InputError("the contact sheet needs at least one image")
    images = [_read(p) if p else None for p in paths]
    missing = [str(p) for p, im in zip(paths, images) if im is None]
    note = None
    if missing:
        note = (
            f"{len(missing)} of {len(paths)} top images are not reachable from here"
            f" (first: {missing[0]}); mount the run's image directory to see them"
        )
    if note is not None and len(missing) == len(paths):
        return ContactSheet(None, len(paths), missing, note.replace("top images are", "top images are all"))
    captions = [
        [f"#{rank} {name or '?'}", f"activation {value:.4g}"]
        for rank, (name, value) in enumerate(zip(class_names, activations), start=1)
    ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(images, captions, tile, columns, title).save(out, format="PNG")
    return ContactSheet(out, len(paths), missing, note)


MAX_TOP_IMAGES = 100  # what seldb.unit_top_images holds per unit


def top_images_sheet(conn: sa.Connection, run_id: int, layer: str, unit: int, n: int, out: str | Path) -> ContactSheet:
    """Write the unit's n most active images (n <= 100) to `out` (a .png path), captioned."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TOP_IMAGES:
        raise InputError(f"--top-images must be a whole number from 1 to {MAX_TOP_IMAGES}, got {n!r}")
    rows = conn.execute(
        sa.text(
            "SELECT rank, image_path, class, activation FROM seldb.unit_top_images"
            " WHERE run_id = :r AND layer = :l AND unit = :u AND rank <= :n ORDER BY rank"
        ),
        {"r": run_id, "l": layer, "u": unit, "n": n},
    ).all()
    if not rows:
        return ContactSheet(None, 0, [], f"{layer}.{unit} has no top images stored; no contact sheet")
    roots = run_record(conn, run_id).roots
    paths = [None if r.image_path is None else str(locate(r.image_path, roots) or r.image_path) for r in rows]
    columns = min(8, max(4, round(len(rows) ** 0.5)))
    title = f"{layer}.{unit}: its {len(rows)} most active images (run {run_id})"
    values = [float("nan") if r.activation is None else r.activation for r in rows]
    classes = [r._mapping["class"] for r in rows]
    return write_contact_sheet(paths, classes, values, out, columns=columns, title=title)
