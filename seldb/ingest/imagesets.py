"""Image sets: which image files to run, with which true class.

Three published layouts are understood: a class-per-folder tree (ImageFolder;
folder names may be WordNet ids), ImageNet's flat validation folder with a
ground-truth file, and a list file of `path class_index` lines (Places365).
The result is a plain list of (relative path, label) plus the class list the
labels index into and whether those are the model's own outputs (then
predictions can be compared with labels). No torch here: decoding the images
is the loader's job.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seldb.errors import InputError
from seldb.ingest.classes import ClassList, map_keys, names_for

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class ImageSet:
    """The images of one run, in the order they are written to the activation file."""

    root: Path
    name: str
    paths: list[str]  # relative to root, "/" separated
    labels: list[int]
    classes: ClassList  # what the labels index into
    mapped: bool  # labels are the model's output indices: predictions decide correctness
    layout: str
    notes: list[str] = field(default_factory=list)  # warnings worth keeping in the run record

    def __len__(self) -> int:
        return len(self.paths)


def open_image_set(
    data_dir: str | Path,
    *,
    model_classes: ClassList | None = None,
    class_file: ClassList | None = None,
    val_ground_truth: str | Path | None = None,
    places_list: str | Path | None = None,
    limit_per_class: int | None = None,
) -> ImageSet:
    """Find the images under data_dir and their labels, in a fixed order."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"{root}: data directory not found")
    label_file = places_list or val_ground_truth
    if places_list and val_ground_truth:
        raise InputError("give either --places-list or --val-ground-truth, not both")
    if label_file:
        layout = "places-list" if places_list else "imagenet-val"
        image_set = _from_label_file(root, Path(label_file), layout, model_classes, class_file)
    else:
        image_set = _from_folders(root, model_classes, class_file)
    if limit_per_class is not None:
        _limit(image_set, limit_per_class)
    if not image_set.paths:
        raise InputError(f"{root}: no image to run (looked for {', '.join(IMAGE_SUFFIXES)})")
    return image_set


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and _is_image(p))


def _from_folders(root: Path, model_classes: ClassList | None, class_file: ClassList | None) -> ImageSet:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = [(f.name, _images_under(f)) for f in folders]
    per_class = [(key, files) for key, files in per_class if files]
    if not per_class:
        loose = [p for p in root.iterdir() if p.is_file() and _is_image(p)]
        hint = " (a flat folder of images needs --val-ground-truth or --places-list)" if loose else ""
        raise InputError(f"{root}: no class folder holding images{hint}")
    keys = [key for key, _ in per_class]
    model_index = map_keys(keys, model_classes)
    if model_index is not None and model_classes is not None:
        classes, label_of = model_classes, dict(zip(keys, model_index))
    else:
        classes = ClassList(names=tuple(names_for(keys, class_file)), keys=tuple(keys))
        label_of = {key: i for i, key in enumerate(keys)}
    paths, labels = [], []
    for key, files in per_class:
        paths += [f.relative_to(root).as_posix() for f in files]
        labels += [label_of[key]] * len(files)
    return ImageSet(root, root.name, paths, labels, classes, model_index is not None, "folders")


def _limit(image_set: ImageSet, n: int) -> None:
    """Keep the first n images of every class, in the set's order (the paper's Appendix D)."""
    if n < 1:
        raise InputError(f"--limit-per-class must be at least 1, got {n}")
    seen: dict[int, int] = defaultdict(int)
    keep = []
    for i, label in enumerate(image_set.labels):
        if seen[label] < n:
            seen[label] += 1
            keep.append(i)
    image_set.paths = [image_set.paths[i] for i in keep]
    image_set.labels = [image_set.labels[i] for i in keep]


# -- label files ------------------------------------------------------------


def read_label_file(path: Path) -> list[tuple[str, str]]:
    """(image path or id, label token) pairs from a ground-truth or list file.

    Understood: `path label` lines (Places365 lists, Caffe's ImageNet val.txt;
    the label an index or a WordNet id) and Kaggle's LOC_val_solution.csv
    (`ImageId,PredictionString`, first word the WordNet id).
    """
    if not path.is_file():
        raise InputError(f"{path}: label file not found")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if lines and lines[0].lower().startswith("imageid,"):
        return [(ln.split(",", 1)[0], ln.split(",", 1)[1].split()[0]) for ln in lines[1:]]
    pairs = []
    for lineno, line in enumerate(lines, 1):
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise InputError(
                f"{path}:{lineno}: expected `image_path label`, got {line!r}"
                + (
                    " (the ILSVRC devkit's one-number-per-line file uses its own class order;"
                    " use Caffe's val.txt or LOC_val_solution.csv)"
                    if line.isdigit()
                    else ""
                )
            )
        pairs.append((parts[0], parts[1]))
    return pairs


def _resolve(root: Path, name: str, by_stem: dict[str, str] | None) -> str | None:
    rel = name.lstrip("/")
    if (root / rel).is_file():
        return rel
    if by_stem is not None:  # LOC_val_solution.csv names images without their extension
        return by_stem.get(Path(rel).name)
    return None


def _from_label_file(
    root: Path, path: Path, layout: str, model_classes: ClassList | None, class_file: ClassList | None
) -> ImageSet:
    pairs = read_label_file(path)
    if not pairs:
        raise InputError(f"{path}: label file lists no image")
    by_stem = None
    if not any((root / p.lstrip("/")).is_file() for p, _ in pairs[:50]):
        by_stem = {f.stem: f.relative_to(root).as_posix() for f in _images_under(root)}
    rows, missing = [], []
    for name, token in pairs:
        rel = _resolve(root, name, by_stem)
        if rel:
            rows.append((rel, token))
        else:
            missing.append(name)
    if not rows:
        raise InputError(f"{root}: none of the {len(pairs)} images listed in {path} is there")
    classes, mapped, labels = _label_classes(path, [t for _, t in rows], model_classes, class_file)
    image_set = ImageSet(root, root.name, [r for r, _ in rows], labels, classes, mapped, layout)
    if missing:
        note = f"{len(missing)} images listed in {path.name} are not under {root} (first: {missing[0]}); left out"
        log.warning(note)
        image_set.notes.append(note)
    return image_set


def _label_classes(
    path: Path, tokens: Sequence[str], model_classes: ClassList | None, class_file: ClassList | None
) -> tuple[ClassList, bool, list[int]]:
    """Turn label tokens into indices; say whether they are the model's outputs."""
    if all(t.lstrip("-").isdigit() for t in tokens):
        labels = [int(t) for t in tokens]
        if min(labels) < 0:
            raise InputError(f"{path}: negative class index {min(labels)}")
        if model_classes is not None and max(labels) < len(model_classes):
            return model_classes, True, labels
        n = max(max(labels) + 1, len(class_file) if class_file else 0)
        names = class_file.names if class_file and len(class_file) >= n else ()
        names = tuple(names[:n]) or tuple(f"class {i}" for i in range(n))
        keys = class_file.keys[:n] if class_file and class_file.keys and len(class_file) >= n else None
        return ClassList(names=names, keys=keys), False, labels
    token_keys = sorted(set(tokens))
    model_index = map_keys(token_keys, model_classes)
    if model_index is not None and model_classes is not None:
        lookup = dict(zip(token_keys, model_index))
        return model_classes, True, [lookup[t] for t in tokens]
    lookup = {k: i for i, k in enumerate(token_keys)}
    return (
        ClassList(names=tuple(names_for(token_keys, class_file)), keys=tuple(token_keys)),
        False,
        [lookup[t] for t in tokens],
    )
