"""A run's dataset images on this machine: where its image paths point, and its cached mean image.

An activation file keeps each image's path as the producer gave it: relative
to the image directory for `seldb ingest` (recorded in the run's provenance),
anything for an imported file. Both the "natural AM" contact sheet and the
reference activation of the mean image need the files themselves, which may
be on a disk that is not mounted here; `locate` says None for those rather
than failing. The mean image (the reference input an AM image's activation
is read against: the unit's activation for the average image of the run's
dataset, taken over the images as the ingest feeds them) costs one pass over
the images, so it is kept (per run, preprocessing and size) beside the AM
images made with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from seldb.errors import InputError

MAX_MEAN_IMAGES = 5000  # more images hardly move the mean; an evenly spaced subset keeps the pass bounded


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    options: dict  # seldb_store.runs.options: the import options and the provenance
    source_file: str | None

    @property
    def roots(self) -> list[Path]:
        """Directories a relative image path may be relative to, most likely first."""
        ingest = self.options.get("ingest")
        if not isinstance(ingest, dict):
            ingest = {}
        roots = [Path(ingest["data"])] if ingest.get("data") else []
        return roots + ([Path(self.source_file).parent] if self.source_file else [])


@dataclass(frozen=True)
class MeanImage:
    image: np.ndarray | None  # (size, size, 3) float64 in [0, 1]; None when no image was reachable
    n_images: int
    note: str | None = None


def run_record(conn: sa.Connection, run_id: int) -> RunRecord:
    row = conn.execute(
        sa.text("SELECT options, source_file FROM seldb_store.runs WHERE run_id = :r"), {"r": run_id}
    ).one()
    return RunRecord(run_id, dict(row.options or {}), row.source_file)


def locate(path: str | None, roots: list[Path]) -> Path | None:
    """The file an image path names, here: absolute as is, relative under the first root that has it."""
    if not path:
        return None
    given = Path(path)
    candidates = [given] if given.is_absolute() else [root / given for root in roots] + [given]
    return next((c for c in candidates if c.is_file()), None)


def analysed_paths(conn: sa.Connection, run_id: int) -> list[str | None]:
    query = "SELECT path FROM seldb_store.run_images WHERE run_id = :r AND analysed ORDER BY image_index"
    return list(conn.execute(sa.text(query), {"r": run_id}).scalars())


def evenly_spaced(items: list, n: int) -> list:
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def mean_of_run(record: RunRecord, paths: list[str | None], kind: str, size: int, cache_dir: Path) -> MeanImage:
    """The mean of the run's analysed images as the ingest feeds them (cached in cache_dir)."""
    cache = cache_dir / f"run{record.run_id}-mean-image-{kind}-{size}px.npz"
    unreadable = None
    if cache.is_file():
        cached = _cached_mean(cache, size)
        if cached is not None:
            return cached
        unreadable = f"{cache} was unreadable or not a mean image; computed it again"
    subset = evenly_spaced(paths, MAX_MEAN_IMAGES)
    found = [p for p in (locate(path, record.roots) for path in subset) if p is not None]
    if not found:
        first = next((p for p in subset if p), None)
        return MeanImage(
            None,
            0,
            f"no reference activation: none of the run's images is reachable from here"
            f" (first: {first}); mount its image directory to get one",
        )
    try:
        image, n = mean_image(found, size, kind)
    except InputError as exc:
        return MeanImage(None, 0, f"no reference activation: {exc}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, image=image, n_images=n)
    os.replace(tmp, cache)
    note = None if len(found) == len(subset) else f"the mean image averages the {n} of {len(subset)} images reachable"
    return MeanImage(image, n, "; ".join(filter(None, [unreadable, note])) or None)


def _cached_mean(cache: Path, size: int) -> MeanImage | None:
    """The cached mean image, or None when the file is damaged or not one (it is then made again)."""
    import zipfile

    try:
        with np.load(cache, allow_pickle=False) as stored:
            image, n = np.asarray(stored["image"], dtype=np.float64), int(stored["n_images"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError):
        return None
    if image.shape != (size, size, 3) or n < 1 or not np.isfinite(image).all():
        return None
    return MeanImage(image, n)


GREY_PROBE = 16  # images looked at to decide whether a run's data are grey


def grey_images(record: RunRecord, paths: list[str | None]) -> bool | None:
    """True when the run's images (an evenly spaced few) are all grey (one channel, or R = G = B), False
    when one has colour, None when none is reachable from here."""
    from PIL import Image, UnidentifiedImageError

    seen = 0
    for path in evenly_spaced(paths, GREY_PROBE):
        found = locate(path, record.roots)
        if found is None:
            continue
        try:
            with Image.open(found) as im:
                if im.mode not in ("1", "L", "LA", "I", "I;16", "F"):
                    rgb = np.asarray(im.convert("RGB"))
                    if not ((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()):
                        return False
        except (OSError, UnidentifiedImageError):
            continue
        seen += 1
    return True if seen else None


def geometry(kind: str, size: int):
    """The ingest's transform for `kind` without its final normalisation: PIL image -> [0, 1] tensor."""
    from torchvision import transforms as T

    from seldb.nets.preprocess import make_transform

    steps = make_transform(kind, size).transforms
    if not isinstance(steps[-1], T.Normalize) and type(steps[-1]).__name__ != "CaffeNormalize":
        raise AssertionError(f"the ingest transform for {kind!r} no longer ends with its normalisation")
    return T.Compose(steps[:-1])


def mean_image(paths: Iterable[str | os.PathLike], size: int, kind: str = "torchvision") -> tuple[np.ndarray, int]:
    """((size, size, 3) float64 mean in [0, 1], images used); unreadable files are an InputError."""
    from PIL import Image, UnidentifiedImageError

    transform = geometry(kind, size)
    total, n = np.zeros((3, size, size), dtype=np.float64), 0
    for path in paths:
        try:
            with Image.open(Path(path)) as im:
                total += transform(im.convert("RGB")).double().numpy()
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"{path}: cannot read the image for the mean image: {exc}") from None
        n += 1
    if n == 0:
        raise InputError("no images for the mean image")
    return (total / n).transpose(1, 2, 0), n
