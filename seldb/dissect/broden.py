"""Reading a Broden-format dataset the way NetDissect-Lite's loader reads it.

Network Dissection's numbers depend on details of the loader: which images
take part (those with any label in the chosen categories), how a PNG encodes
a label (R + 256 * G, 0 = unlabelled), that scene and texture cells hold
whole-image label numbers, and which category a label counts under when it is
listed in several (its *primary* category: the one where its c_<category>.csv
coverage is largest, the later category on a tie). This module reads
index.csv, category.csv, label.csv and the c_<category>.csv files, checks
them before any network runs (missing files, label numbers absent from
label.csv), and decodes one image's pixels and labels at a time.

Label numbers index dense arrays of size max(number) + 1, as in
NetDissect-Lite; a number label.csv lacks has name '' and is refused when an
image uses it.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image

from seldb.errors import InputError

META_COLUMNS = ("image", "split", "ih", "iw", "sh", "sw")
LAYOUT = "index.csv, category.csv, label.csv and c_<category>.csv beside an images/ folder"
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class BrodenImage:
    """One index.csv row: the image and, per category, PNG paths (str) or whole-image labels (int)."""

    line: int  # line in index.csv, for messages
    image: str  # relative to images/
    ih: int
    iw: int
    sh: int
    sw: int
    cells: dict[str, tuple[str | int, ...]]


@dataclass(frozen=True)
class ImageLabels:
    """One image's labels in the chosen categories: pixel channels and whole-image labels."""

    channels: np.ndarray  # (C, sh * sw) int32 label numbers, 0 = unlabelled; C may be 0
    scalars: tuple[int, ...]  # scene/texture labels covering the whole image (repeats kept)
    sh: int
    sw: int


@dataclass
class Broden:
    """A checked Broden directory restricted to some categories (category.csv order)."""

    directory: Path
    categories: tuple[str, ...]
    images: list[BrodenImage]
    label_names: list[str]  # by label number; '' where label.csv has no such number
    label_known: np.ndarray  # (L,) bool: the number is in label.csv
    primary: np.ndarray  # (L,) int: index into `categories` of each label's primary category
    in_categories: np.ndarray  # (L,) bool: the label belongs to one of `categories`
    fingerprint: str = ""  # sha256 of index.csv + label.csv + category.csv

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def image_path(self, img: BrodenImage) -> Path:
        return self.directory / "images" / img.image

    def load_image(self, img: BrodenImage) -> np.ndarray:
        """(ih, iw, 3) uint8 RGB, as index.csv says it is sized."""
        path = self.image_path(img)
        try:
            with Image.open(path) as handle:
                rgb = np.asarray(handle.convert("RGB"))
        except OSError as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None
        if rgb.shape[:2] != (img.ih, img.iw):
            raise InputError(
                f"{path} is {rgb.shape[0]}x{rgb.shape[1]} but index.csv line {img.line} says ih={img.ih}, iw={img.iw}"
            )
        return rgb

    def load_labels(self, img: BrodenImage) -> ImageLabels:
        """The image's label channels (PNG: R + 256 * G) and whole-image labels, every number checked."""
        planes: list = []
        scalars: list = []
        for cat in self.categories:
            cell = img.cells[cat]
            if all(isinstance(item, int) for item in cell):
                scalars += cell  # a category of whole-image labels (scene, texture)
                continue
            for item in cell:  # a pixel category; a number among PNGs fills a whole plane
                planes.append(
                    np.full(img.sh * img.sw, item, np.int32) if isinstance(item, int) else self._decode_png(img, item)
                )
        channels = np.stack(planes) if planes else np.zeros((0, img.sh * img.sw), np.int32)
        return ImageLabels(channels, tuple(scalars), img.sh, img.sw)

    def _decode_png(self, img: BrodenImage, name: str) -> np.ndarray:
        path = self.directory / "images" / name
        try:
            with Image.open(path) as handle:
                rgb = np.asarray(handle.convert("RGB"), dtype=np.int32)
        except OSError as exc:
            raise InputError(f"{path}: not a readable segmentation PNG ({exc})") from None
        if rgb.shape[:2] != (img.sh, img.sw):
            raise InputError(
                f"{path} is {rgb.shape[0]}x{rgb.shape[1]} but index.csv line {img.line} says sh={img.sh}, sw={img.sw}"
            )
        labels = (rgb[:, :, 0] + 256 * rgb[:, :, 1]).ravel()
        top = int(labels.max())
        if top >= self.n_labels or not self.label_known[labels[labels > 0]].all():
            bad = next(int(v) for v in np.unique(labels) if v > 0 and (v >= self.n_labels or not self.label_known[v]))
            raise InputError(f"{path}: pixel label {bad} (R + 256 * G) is not in label.csv")
        return labels


def open_broden(directory, categories: list[str] | None = None, check_files: bool = True) -> Broden:
    """Read and check a Broden-format directory; raises InputError (one line) naming the file and line."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory (a Broden dataset is {LAYOUT})")
    all_categories = _read_categories(directory)
    chosen = _choose_categories(directory, all_categories, categories)
    names, known = _read_labels(directory, all_categories)
    primary, member = _primary_categories(directory, chosen, len(names))
    images = _read_index(directory, chosen)
    broden = Broden(directory, chosen, images, names, known, primary, member, _fingerprint(directory))
    _check_images(broden, check_files)
    return broden


def _read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV with a header; a missing file or column is one InputError line."""
    if not path.is_file():
        raise InputError(f"{path.parent}: no {path.name}: not a Broden-format dataset ({LAYOUT})")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(f"{path}: no column {', '.join(missing)} (header: {', '.join(header)})")
            return [
                (line, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None})
                for line, row in enumerate(reader, start=2)
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None


def _integer(path: Path, line: int, column: str, text: str) -> int:
    if not _DIGITS.match(text):
        raise InputError(f"{path} line {line}: {column} {text!r} is not a non-negative integer")
    return int(text)


def _read_categories(directory: Path) -> list[str]:
    rows = _read_csv(directory / "category.csv", ("name",))
    names = [row["name"] for _, row in rows if row["name"]]
    if not names:
        raise InputError(f"{directory / 'category.csv'}: no categories listed")
    return names


def _choose_categories(directory: Path, available: list[str], wanted: list[str] | None) -> tuple[str, ...]:
    if wanted is None:
        return tuple(available)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise InputError(
            f"{directory}: no category {', '.join(unknown)} in category.csv (it lists {', '.join(available)})"
        )
    if not wanted:
        raise InputError(f"{directory}: no category chosen (category.csv lists {', '.join(available)})")
    return tuple(c for c in available if c in wanted)  # category.csv order, as NetDissect-Lite keeps it


def _read_labels(directory: Path, categories: list[str]) -> tuple[list[str], np.ndarray]:
    path = directory / "label.csv"
    numbers: dict[int, str] = {}
    for line, row in _read_csv(path, ("number", "name")):
        number = _integer(path, line, "number", row["number"])
        if number in numbers:
            raise InputError(f"{path} line {line}: label number {number} appears twice")
        # its categories, 'color(12);object(3)' as NetDissect writes them, must be category.csv's
        for entry in filter(None, (row.get("category") or "").split(";")):
            name = entry.split("(", 1)[0].strip()
            if name not in categories:
                raise InputError(
                    f"{path} line {line}: category {name!r} is not in category.csv (it lists {', '.join(categories)})"
                )
        numbers[number] = row["name"]
    if not numbers:
        raise InputError(f"{path}: no labels listed")
    size = max(numbers) + 1
    names = [numbers.get(i, "") for i in range(size)]
    known = np.zeros(size, bool)
    known[list(numbers)] = True
    return names, known


def _primary_categories(directory: Path, categories: tuple[str, ...], n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Each label's category of largest coverage among `categories` (later one on ties), as NetDissect-Lite.

    A label in none of them gets the last category with coverage 0, as there; `member` marks the others.
    """
    coverage = np.zeros((len(categories), n_labels))
    member = np.zeros((len(categories), n_labels), bool)
    for ci, cat in enumerate(categories):
        path = directory / f"c_{cat}.csv"
        for line, row in _read_csv(path, ("code", "number", "coverage")):
            code = _integer(path, line, "code", row["code"])
            number = _integer(path, line, "number", row["number"])
            if number >= n_labels:
                raise InputError(f"{path} line {line}: label number {number} is not in label.csv")
            if code == 0:  # code 0 stands for "not in this category" in NetDissect-Lite's maps
                continue
            try:
                coverage[ci, number] = float(row["coverage"])
            except ValueError:
                raise InputError(f"{path} line {line}: coverage {row['coverage']!r} is not a number") from None
            member[ci, number] = True
    # argmax over (coverage, category index) tuples: reversing the category axis makes argmax's
    # first-maximum rule pick the later category on ties
    reversed_best = np.argmax(np.where(member, coverage, 0.0)[::-1], axis=0)
    return len(categories) - 1 - reversed_best, np.asarray(member.any(axis=0))


def _read_index(directory: Path, categories: tuple[str, ...]) -> list[BrodenImage]:
    path = directory / "index.csv"
    rows = _read_csv(path, META_COLUMNS + categories)
    images = []
    for line, row in rows:
        cells = {cat: _cell(row[cat]) for cat in categories}
        if not any(cells.values()):
            continue  # no label in the chosen categories: NetDissect-Lite leaves the image out
        sizes = {c: _integer(path, line, c, row[c]) for c in ("ih", "iw", "sh", "sw")}
        if not row["image"]:
            raise InputError(f"{path} line {line}: image is empty")
        for column, name in [("image", row["image"])] + [
            (c, i) for c in categories for i in cells[c] if isinstance(i, str)
        ]:
            _inside_images(path, line, column, name)
        images.append(BrodenImage(line, row["image"], cells=cells, **sizes))
    if not images:
        raise InputError(f"{path}: no image has a label in the categories {', '.join(categories)}")
    return images


def _inside_images(path: Path, line: int, column: str, name: str) -> None:
    """A file an index.csv names is read from the images/ folder: never an absolute path, nor one that climbs out."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or ".." in parts or "\0" in name:
        raise InputError(f"{path} line {line}: {column} {name!r} is not a path inside the dataset's images/ folder")


def _cell(text: str) -> tuple[str | int, ...]:
    return tuple(int(item) if _DIGITS.match(item) else item for item in text.split(";") if item)


def _check_images(broden: Broden, check_files: bool) -> None:
    """Whole-image labels against label.csv, one image size, and (optionally) every file's existence."""
    index = broden.directory / "index.csv"
    first = broden.images[0]
    for img in broden.images:
        if (img.ih, img.iw) != (first.ih, first.iw):
            raise InputError(
                f"{index} line {img.line}: image {img.image} is {img.ih}x{img.iw}, line {first.line}'s"
                f" is {first.ih}x{first.iw}: dissection needs one input size"
            )
        for cat, cell in img.cells.items():
            for item in cell:
                if isinstance(item, int):
                    if item >= broden.n_labels or not broden.label_known[item]:
                        raise InputError(f"{index} line {img.line}: {cat} label {item} is not in label.csv")
                elif check_files and not (broden.directory / "images" / item).is_file():
                    raise InputError(f"{index} line {img.line}: {cat} segmentation images/{item} does not exist")
        if check_files and not broden.image_path(img).is_file():
            raise InputError(f"{index} line {img.line}: image images/{img.image} does not exist")


def _fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in ("index.csv", "label.csv", "category.csv"):
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()
