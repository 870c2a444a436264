"""Rating studies: a blinded rating sheet registered so that raters can answer it in the browser.

The paper's Table 1 rests on people judging AM images without knowing the
unit. `seldb am sheet` already makes the blinded sheet: the units in a seeded
random order, numbered items, and a key.json that maps items back to units.
A *study* is that sheet registered in the database (`seldb study add
KEY.json`): `seldb serve` then asks its items one at a time at
/rate/<study>, in the sheet's order and under the sheet's item numbers, so
answers given in the browser and answers downloaded from the sheet's page
mean the same thing. Each answer is one row of seldb_store.am_ratings, the
table `seldb import ratings` fills, keyed by (unit, rater): answering an
item again replaces the rater's earlier answer, and a rater who comes back
with the same name resumes at the first item without an answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.read import find_unit, resolve_run, run_layers
from seldb.errors import InputError, NotFound, SeldbError
from seldb.png import clean_png
from seldb.ratings.import_csv import check_label, check_rater, label_key
from seldb.ratings.sheet import read_key

NAME_RULE = re.compile(s.STUDY_NAME_PATTERN)


@dataclass(frozen=True)
class Study:
    name: str
    run_id: int
    sheet: str
    seed: int | None
    n_items: int
    key_path: str | None


@dataclass(frozen=True)
class StudyItem:
    item: str  # the number raters see
    position: int  # from 1, the sheet's order
    layer: str
    unit: int
    images: tuple[str, ...]
    sha256: tuple[str, ...]

    @property
    def unit_label(self) -> str:
        return f"{self.layer}.{self.unit}"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise InputError(
            f"study name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter"
            " or digit (it becomes the address /rate/<name>)"
        )
    return name


def _read_key(path: Path) -> dict:
    read_key(path)  # checks the version, the sheet id and the items
    key = json.loads(path.read_text(encoding="utf-8"))
    for entry in key["items"]:
        images, digests = entry.get("images"), entry.get("sha256")
        if not isinstance(images, list) or not isinstance(digests, list) or len(images) != len(digests) or not images:
            raise InputError(f"{path}: item {entry.get('item')!r} lists no images with their sha256")
    return key


def _key_run(path: Path, key: dict, run: int | None) -> int:
    about = key.get("about")
    if not isinstance(about, dict):
        about = {}
    recorded = about.get("run_id")
    if recorded is not None and run is not None and int(recorded) != int(run):
        raise InputError(f"{path} is the key of a sheet of run {recorded}, not run {run}")
    if run is not None:
        return int(run)
    if recorded is None:
        raise InputError(f"{path} does not record its run: give it with --run")
    return int(recorded)


def _check_images(path: Path, key: dict) -> None:
    """Every image is still where the key says, with the pixels the sheet showed."""
    for entry in key["items"]:
        for image, digest in zip(entry["images"], entry["sha256"]):
            if not Path(image).is_file():
                raise SeldbError(f"{path}: item {entry['item']}'s AM image {image} is gone; the study needs it")
            if hashlib.sha256(clean_png(image, "the rating sheet")).hexdigest() != digest:
                raise SeldbError(f"{path}: item {entry['item']}'s AM image {image} changed since the sheet was made")


def add_study(db: Database, key: str | os.PathLike, name: str | None = None, run: int | None = None) -> Study:
    """Register the sheet of `key` (seldb am sheet's key.json) as a study; one transaction."""
    path = Path(key).resolve()
    if not path.is_file():
        raise InputError(f"{path}: no such key file (seldb am sheet writes DIR/key.json)")
    sheet_key = _read_key(path)
    name = check_name(name if name is not None else f"sheet-{sheet_key['sheet']}")
    _check_images(path, sheet_key)
    with db.connect() as conn:
        r = resolve_run(conn, _key_run(path, sheet_key, run))
        _refuse_taken(conn, name, str(sheet_key["sheet"]))
        layers = run_layers(conn, r)
        items = []
        for position, entry in enumerate(sheet_key["items"], start=1):
            layer, unit = find_unit(conn, r, str(entry["unit"]))
            items.append(
                {
                    "item": str(entry["item"]),
                    "position": position,
                    "run_id": r.run_id,
                    "layer_id": layers[layer].layer_id,
                    "unit": unit,
                    "images": [str(p) for p in entry["images"]],
                    "sha256": [str(d) for d in entry["sha256"]],
                }
            )
        seed = sheet_key.get("seed")
        study_id = conn.execute(
            sa.insert(s.rating_studies)
            .values(
                name=name,
                run_id=r.run_id,
                sheet=str(sheet_key["sheet"]),
                seed=None if seed is None else int(seed),
                key_path=str(path),
            )
            .returning(s.rating_studies.c.study_id)
        ).scalar_one()
        conn.execute(sa.insert(s.rating_study_items), [{**item, "study_id": study_id} for item in items])
        conn.commit()
    return Study(name, r.run_id, str(sheet_key["sheet"]), None if seed is None else int(seed), len(items), str(path))


def _refuse_taken(conn: sa.Connection, name: str, sheet: str) -> None:
    taken = conn.execute(
        sa.text("SELECT study, sheet FROM seldb.rating_studies WHERE study = :n OR sheet = :s"), {"n": name, "s": sheet}
    ).first()
    if taken is None:
        return
    if taken.sheet == sheet:
        raise SeldbError(f"sheet {sheet} is already the study {taken.study!r}")
    raise SeldbError(f"there is a study named {name!r} already; choose another --name")


def list_studies(db: Database) -> list[dict]:
    """Every study as seldb.rating_studies shows it, oldest first."""
    with db.connect() as conn:
        query = "SELECT * FROM seldb.rating_studies ORDER BY created_at, study"
        return [dict(row._mapping) for row in conn.execute(sa.text(query))]


def find_study(conn: sa.Connection, name: str) -> Study:
    row = conn.execute(
        sa.text("SELECT study, run_id, sheet, seed, n_items, key_path FROM seldb.rating_studies WHERE study = :n"),
        {"n": name},
    ).first()
    if row is None:
        raise NotFound(f"no rating study {name!r} (seldb study list shows them)")
    return Study(row.study, int(row.run_id), row.sheet, row.seed, int(row.n_items), row.key_path)


def study_items(conn: sa.Connection, name: str) -> list[StudyItem]:
    """The study's items in the sheet's order."""
    query = (
        "SELECT item, position, layer, unit, images, sha256 FROM seldb.rating_study_items"
        " WHERE study = :n ORDER BY position"
    )
    return [
        StudyItem(r.item, int(r.position), r.layer, int(r.unit), tuple(r.images), tuple(r.sha256))
        for r in conn.execute(sa.text(query), {"n": name})
    ]


def answers(conn: sa.Connection, name: str, rater: str) -> dict[str, dict]:
    """{item: {judged_object, label}} of the rater's ratings of the study's units."""
    query = (
        "SELECT i.item, a.judged_object, a.label FROM seldb.rating_study_items AS i"
        " JOIN seldb.am_ratings AS a ON a.run_id = i.run_id AND a.layer = i.layer AND a.unit = i.unit"
        " WHERE i.study = :n AND a.rater = :rater"
    )
    rows = conn.execute(sa.text(query), {"n": name, "rater": rater})
    return {r.item: {"judged_object": r.judged_object, "label": r.label} for r in rows}


def record_rating(db: Database, name: str, item: str, rater: str, judged_object: bool, label: str | None) -> None:
    """Store one answer (replacing the rater's earlier answer of the unit); refuses an item outside the study."""
    rater = check_rater(rater)
    label = check_label(label) if judged_object else None
    with db.connect() as conn:
        target = conn.execute(
            sa.text(
                "SELECT i.run_id, i.layer_id, i.unit FROM seldb_store.rating_study_items AS i"
                " JOIN seldb_store.rating_studies AS st ON st.study_id = i.study_id"
                " WHERE st.name = :n AND i.item = :item"
            ),
            {"n": name, "item": item},
        ).first()
        if target is None:
            find_study(conn, name)  # an unknown study says so first
            raise NotFound(f"item {item!r} is not in study {name!r}: nothing was recorded")
        conn.execute(
            sa.text(
                "INSERT INTO seldb_store.am_ratings (run_id, layer_id, unit, rater, judged_object, label, label_key)"
                " VALUES (:run_id, :layer_id, :unit, :rater, :judged, :label, :key)"
                " ON CONFLICT (run_id, layer_id, unit, rater) DO UPDATE SET judged_object = EXCLUDED.judged_object,"
                " label = EXCLUDED.label, label_key = EXCLUDED.label_key"
            ),
            {
                "run_id": target.run_id,
                "layer_id": target.layer_id,
                "unit": target.unit,
                "rater": rater,
                "judged": bool(judged_object),
                "label": label,
                "key": label_key(label),
            },
        )
        conn.commit()
