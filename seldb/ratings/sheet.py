"""The blinded rating study: a page raters fill in, a key to unblind it, and the ratings CSV.

The paper's Table 1 rests on people judging AM images without knowing which
unit, layer or class they belong to. `write_rating_sheet` shuffles the units
with a recorded seed and writes one offline HTML page (images inlined,
re-encoded so no file name or PNG text chunk can leak a unit id) whose items
are numbered in page order, plus `key.json` that maps each item back to its
unit. A rater's downloaded answers (sheet, item, rater, judged_object, label)
and the key become the CSV that seldb.ratings imports (unit, rater,
judged_object, label) through `ratings_from_answers` / `write_ratings_csv`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seldb.errors import InputError
from seldb.png import clean_png
from seldb.ratings.page import render_item, render_page

ANSWER_COLUMNS = ("sheet", "item", "rater", "judged_object", "label")
RATINGS_COLUMNS = ("unit", "rater", "judged_object", "label")  # what seldb.ratings.read_ratings reads
KEY_VERSION = 1


@dataclass(frozen=True)
class SheetItem:
    """One unit to rate: its label (kept out of the page) and the PNGs of its panel."""

    unit: str
    images: tuple[str | os.PathLike, ...]


@dataclass(frozen=True)
class RatingSheet:
    html: Path
    key: Path
    sheet_id: str
    seed: int
    n_items: int


def _as_items(images: Sequence[SheetItem | tuple]) -> list[SheetItem]:
    items = []
    for entry in images:
        unit, paths = (entry.unit, entry.images) if isinstance(entry, SheetItem) else entry
        paths = (paths,) if isinstance(paths, (str, os.PathLike)) else tuple(paths)
        if not paths:
            raise InputError(f"unit {unit} has no image for the rating sheet")
        items.append(SheetItem(str(unit), paths))
    units = [i.unit for i in items]
    duplicates = sorted({u for u in units if units.count(u) > 1})
    if duplicates:
        raise InputError(f"unit(s) {', '.join(duplicates)} appear twice on the rating sheet; give each unit once")
    if not items:
        raise InputError("the rating sheet needs at least one unit")
    return items


def write_rating_sheet(
    images: Sequence[SheetItem | tuple],
    out_dir: str | os.PathLike,
    seed: int,
    title: str = "Which objects do you see?",
    thumb: int = 160,
    about: dict | None = None,
) -> RatingSheet:
    """Write out_dir/index.html (blinded, self-contained) and out_dir/key.json; items in a seeded random order.

    `images`: SheetItem(unit, paths) or (unit label, path or paths) pairs. `about` (e.g. the run id)
    goes into the key only.
    """
    items = _as_items(images)
    pngs = {item.unit: [clean_png(p, "the rating sheet") for p in item.images] for item in items}
    order = sorted(items, key=lambda i: i.unit)  # the shuffle must not depend on the caller's order
    random.Random(seed).shuffle(order)
    digest = hashlib.sha256(f"{seed}\n".encode())
    for item in order:
        for data in pngs[item.unit]:
            digest.update(hashlib.sha256(data).digest())
    sheet_id = digest.hexdigest()[:12]
    width = len(str(len(order)))
    ids = [f"{n:0{width}d}" for n in range(1, len(order) + 1)]
    items_html = [
        render_item(item_id, n, len(order), [base64.b64encode(d).decode("ascii") for d in pngs[i.unit]])
        for n, (item_id, i) in enumerate(zip(ids, order), start=1)
    ]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = out / "index.html"
    html.write_text(render_page(title, sheet_id, ids, items_html, thumb), encoding="utf-8")
    key = {
        "version": KEY_VERSION,
        "sheet": sheet_id,
        "seed": seed,
        "about": about or {},
        "items": [
            {
                "item": item_id,
                "unit": i.unit,
                "images": [str(p) for p in i.images],
                "sha256": [hashlib.sha256(d).hexdigest() for d in pngs[i.unit]],
            }
            for item_id, i in zip(ids, order)
        ],
    }
    key_path = out / "key.json"
    key_path.write_text(json.dumps(key, indent=1) + "\n", encoding="utf-8")
    return RatingSheet(html, key_path, sheet_id, seed, len(order))


def read_key(path: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """(sheet id, {item: unit label}) of a key.json, checked."""
    path = Path(path)
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
        sheet, items = key["sheet"], {str(e["item"]): str(e["unit"]) for e in key["items"]}
    except FileNotFoundError:
        raise InputError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a rating-sheet key (key.json from write_rating_sheet): {exc!r}") from None
    if key.get("version") != KEY_VERSION:
        raise InputError(f"{path}: key version {key.get('version')!r}, this seldb reads version {KEY_VERSION}")
    return str(sheet), items


def _answer_rows(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ANSWER_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"{path}: no column {', '.join(missing)} (the page's download has {', '.join(ANSWER_COLUMNS)})"
                )
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise InputError(f"{path} line {reader.line_num}: the row's fields do not match the header")
                yield reader.line_num, row
    except FileNotFoundError:
        raise InputError(f"{path}: no such answers file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None


def key_about(path: str | os.PathLike) -> dict:
    """What the key records about its sheet beyond the items (e.g. {"run_id": 3}); {} when nothing."""
    read_key(path)
    about = json.loads(Path(path).read_text(encoding="utf-8")).get("about")
    return about if isinstance(about, dict) else {}


def unblinded_rows(path: str | os.PathLike, key: str | os.PathLike):
    """(line, {unit, rater, judged_object, label}) for each answered item of one answers CSV."""
    sheet, units = read_key(key)
    path = Path(path)
    for line, row in _answer_rows(path):
        if row["sheet"].strip() != sheet:
            raise InputError(
                f"{path} line {line}: answers for sheet {row['sheet']!r}, but {key} is the key of sheet {sheet!r}"
            )
        item = row["item"].strip()
        if item not in units:
            raise InputError(f"{path} line {line}: item {item!r} is not on sheet {sheet}")
        yield (
            line,
            {
                "unit": units[item],
                "rater": row["rater"].strip(),
                "judged_object": row["judged_object"].strip(),
                "label": row["label"].strip(),
            },
        )


def ratings_from_answers(
    answers: Sequence[str | os.PathLike] | str | os.PathLike, key: str | os.PathLike
) -> list[dict[str, str]]:
    """The raters' answers unblinded: one {unit, rater, judged_object, label} per answered item."""
    paths = [answers] if isinstance(answers, (str, os.PathLike)) else list(answers)
    return [row for path in paths for _, row in unblinded_rows(path, key)]


def write_ratings_csv(
    answers: Sequence[str | os.PathLike] | str | os.PathLike, key: str | os.PathLike, out: str | os.PathLike
) -> Path:
    """The ratings CSV that `seldb import ratings` (seldb.ratings.read_ratings) reads."""
    rows = ratings_from_answers(answers, key)
    if not rows:
        raise InputError(f"no answers in {answers} (did the rater answer any panel?)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RATINGS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return out
