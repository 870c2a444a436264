"""Class lists: which output of a model is which class, and what it is called.

Deciding whether an image was classified correctly needs the model's outputs
and the image set's labels to speak the same language. Here live the class
lists a model can carry (ImageNet-1k's 1,000 WordNet ids, shipped as package
data; any list the user gives with --class-names) and the one function that
says whether an image set's class keys map onto a model's outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from seldb.errors import InputError

WNID = re.compile(r"^n\d{8}$")


@dataclass(frozen=True)
class ClassList:
    """Classes in output order: display names and optional stable keys (e.g. WordNet ids)."""

    names: tuple[str, ...]
    keys: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def index_of_keys(self) -> dict[str, int]:
        """Lookup from every spelling of a key (see `key_forms`) to the class index."""
        lookup: dict[str, int] = {}
        for i, key in enumerate(self.keys or ()):
            for form in key_forms(key):
                lookup.setdefault(form, i)
        return lookup


def key_forms(key: str) -> tuple[str, ...]:
    """Spellings under which a class key may appear as a folder name.

    Places365's category file says `/a/airfield` or `/a/apartment_building/outdoor`
    while image folders are usually `airfield` or `apartment_building_outdoor`.
    """
    parts = _category_parts(key)
    return tuple(dict.fromkeys((key, key.strip("/"), "/".join(parts), "_".join(parts))))


def _category_parts(key: str) -> list[str]:
    parts = key.strip("/").split("/")
    if len(parts) > 1 and len(parts[0]) == 1:  # Places365's first-letter directory
        parts = parts[1:]
    return parts


def _package_lines(name: str) -> list[str]:
    text = resources.files("seldb.ingest").joinpath("data", name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def imagenet_classes() -> ClassList:
    """ImageNet-1k in torchvision's output order, keyed by WordNet id, named by first lemma."""
    wnids = _package_lines("imagenet_synsets.txt")
    lemmas = dict(line.split("\t", 1) for line in _package_lines("imagenet_synset_to_lemma.txt"))
    names = tuple(lemmas.get(w, w).split(",")[0].strip() for w in wnids)
    return ClassList(names=names, keys=tuple(wnids))


def read_class_file(path: str | Path) -> ClassList:
    """Read a class file: one class per line, `key [name...]`.

    Accepts the published layouts: ImageNet's LOC_synset_mapping.txt
    (`n01440764 tench, Tinca tinca`), Places365's categories_places365.txt
    (`/a/airfield 0`, the trailing number being the output index) and a plain
    list of names. The names keep only the first comma-separated term.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: class-names file not found")
    keys: list[str] = []
    names: list[str] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if rest.isdigit() and int(rest) != len(keys):
            raise InputError(f"{path}:{lineno}: index {rest} out of order (expected {len(keys)})")
        if not rest or rest.isdigit():
            rest = _name_from_key(key)
        keys.append(key)
        names.append(rest.split(",")[0].strip() or key)
    if not keys:
        raise InputError(f"{path}: class-names file holds no class")
    return ClassList(names=tuple(names), keys=tuple(keys))


def _name_from_key(key: str) -> str:
    return "/".join(_category_parts(key)) or key  # "/a/airfield" -> "airfield"


def names_for(keys: Sequence[str], mapping: ClassList | None) -> list[str]:
    """Display names for data-set class keys, taken from a class file when it knows them."""
    if mapping is None:
        return list(keys)
    lookup = mapping.index_of_keys()
    return [mapping.names[lookup[k]] if k in lookup else k for k in keys]


def map_keys(keys: Sequence[str], model_classes: ClassList | None) -> list[int] | None:
    """Model output index of every data-set class key, or None when they do not all map."""
    if model_classes is None or model_classes.keys is None or not keys:
        return None
    lookup = model_classes.index_of_keys()
    indices = [lookup[k] for k in keys if k in lookup]
    return indices if len(indices) == len(keys) else None
