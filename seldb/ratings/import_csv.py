"""Import human ratings of activation-maximisation (AM) images into a run (the paper's Table 1).

The paper asked people whether each unit's AM image showed an object, and
which; agreement among raters and with the unit's most-active and CCMAS
classes is one more, independent, estimate of selectivity. The ratings are
stored per (unit, rater) in seldb_store.am_ratings; seldb.am_ratings and
seldb.am_ratings_summary compare them in SQL.

Ratings CSV: columns `unit` (a unit label, e.g. fc8.12; or a unit number
with a `layer` column), `rater`, `judged_object` (yes/no) and `label` (what
the rater saw; may be empty). Labels are compared case-insensitively with
spaces collapsed; a synonym file (one group of equivalent labels per line,
comma-separated) maps each group to one key: the run's class name when the
group holds one, else the group's first label. The file is checked whole
before anything is written.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.read import Layer, Run, resolve_run, run_layers, unit_problem
from seldb.errors import InputError, SeldbError
from seldb.ratings.sheet import key_about, unblinded_rows

YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
COLUMNS = "unit, rater, judged_object (yes/no), label"
# A rater and a label are held to the same rules wherever they come from (a CSV, the browser study)
MAX_RATER = 80
MAX_LABEL = 200


@dataclass(frozen=True)
class Rating:
    line: int
    layer: str
    unit: int
    rater: str
    judged_object: bool
    label: str | None


@dataclass(frozen=True)
class RatingsImport:
    run_id: int
    n_ratings: int
    n_units: int
    n_raters: int


def check_rater(rater: str) -> str:
    """A rater's name as stored: trimmed, 1-80 printable characters."""
    text = unicodedata.normalize("NFC", (rater or "").strip())
    if not text:
        raise InputError("give your name or rater code")
    if len(text) > MAX_RATER:
        raise InputError(f"a rater's name has at most {MAX_RATER} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InputError("a rater's name cannot hold control characters")
    return text


def check_label(label: str | None) -> str | None:
    text = " ".join((label or "").split())
    if len(text) > MAX_LABEL:
        raise InputError(f"the label has at most {MAX_LABEL} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InputError("the label cannot hold control characters")
    return text or None


def label_key(label: str | None) -> str | None:
    """A label as compared: lower case, runs of spaces as one; None when empty."""
    key = " ".join((label or "").lower().split())
    return key or None


def _judgement(path: Path, line: int, text: str | None) -> bool:
    value = (text or "").strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise InputError(f"{path} line {line}: judged_object {text!r} is not yes or no")


def _where(path: Path, line: int, row: dict) -> tuple[str, int]:
    """(layer, unit) of a row: `unit` as a label (fc8.12), or a number with a `layer` column."""
    unit = (row.get("unit") or "").strip()
    layer = (row.get("layer") or "").strip()
    if layer and unit.isdigit():
        return layer, int(unit)
    name, dot, number = unit.rpartition(".")
    if not dot or not name or not number.isdigit():
        raise InputError(f"{path} line {line}: unit {unit!r} is not a unit label like fc8.12")
    return name, int(number)


def _rows(path: Path):
    """(line number, row dict) of a CSV with a header, failing on a malformed file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            if {"sheet", "item"} <= set(header) and "unit" not in header:
                raise InputError(
                    f"{path} is a rating page's download (items, not units): give the sheet's key"
                    " with --key DIR/key.json"
                )
            missing = [c for c in ("unit", "rater", "judged_object", "label") if c not in header]
            if missing:
                raise InputError(f"{path}: no column {', '.join(missing)} (a ratings CSV has {COLUMNS})")
            reader.fieldnames = header
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise InputError(f"{path} line {reader.line_num}: the row's fields do not match the header")
                if any(v.strip() for v in row.values()):
                    yield reader.line_num, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None


def read_ratings(path: str | os.PathLike) -> list[Rating]:
    """Every rating of the file, checked; raises InputError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return ratings_from_rows(path, _rows(path))


def ratings_from_rows(source: str | os.PathLike, rows: Iterable[tuple[int, dict]]) -> list[Rating]:
    """Ratings from (line, {unit[, layer], rater, judged_object, label}) rows, checked; errors name
    `source` and the line. A rating sheet's answers, unblinded, come in this way too."""
    path = Path(source)
    ratings: list[Rating] = []
    seen: dict[tuple, int] = {}
    for line, row in rows:
        layer, unit = _where(path, line, row)
        if not (row["rater"] or "").strip():
            raise InputError(f"{path} line {line}: rater is empty")
        try:  # the browser study's rules: a CSV may not store what the rating page refuses
            rater, label = check_rater(row["rater"]), check_label(row["label"])
        except InputError as exc:
            raise InputError(f"{path} line {line}: {exc}") from None
        key = (layer, unit, rater)
        if key in seen:
            raise InputError(f"{path} line {line}: {rater!r} rated {layer}.{unit} already on line {seen[key]}")
        seen[key] = line
        ratings.append(Rating(line, layer, unit, rater, _judgement(path, line, row["judged_object"]), label))
    if not ratings:
        raise InputError(f"{path}: no ratings under the header")
    return ratings


def read_synonyms(path: str | os.PathLike, class_names: list[str]) -> dict[str, str]:
    """{label key: the key it is compared as}, from a file of comma-separated synonym groups."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    classes = {label_key(name) for name in class_names}
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file: {exc}") from None
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        group = [k for k in (label_key(part) for part in text.split(",")) if k]
        target = next((k for k in group if k in classes), group[0])
        for key in group:
            if key in first_line and first_line[key] != number:
                raise InputError(f"{path} line {number}: {key!r} is already in the group on line {first_line[key]}")
            first_line[key] = number
            mapping[key] = target
    return mapping


def _check_units(path: Path, run: Run, ratings: list[Rating], layers: dict[str, Layer]) -> None:
    for r in ratings:
        problem = unit_problem(run, layers, r.layer, r.unit)
        if problem:
            raise InputError(f"{path} line {r.line}: {problem}")


def import_ratings(
    db: Database,
    path: str | os.PathLike,
    run: int,
    synonyms: str | os.PathLike | None = None,
    replace: bool = False,
    key: str | os.PathLike | None = None,
) -> RatingsImport:
    """Store a ratings CSV in run `run`; replace=True first drops the run's earlier ratings by the file's raters.
    With `key` (a rating sheet's key.json, seldb.ratings.sheet) `path` is a rater's answers CSV."""
    run_id = int(run)
    path = Path(path)
    ratings = read_ratings(path) if key is None else _unblinded(path, key, run_id)
    return store_ratings(db, path, ratings, run_id, synonyms, replace)


def _unblinded(path: Path, key: str | os.PathLike, run_id: int) -> list[Rating]:
    sheet_run = key_about(key).get("run_id")
    if sheet_run is not None and int(sheet_run) != int(run_id):
        raise InputError(f"{key} is the key of a sheet of run {sheet_run}, not run {run_id}")
    return ratings_from_rows(path, unblinded_rows(path, key))


def store_ratings(
    db: Database,
    path: str | os.PathLike,
    ratings: list[Rating],
    run_id: int,
    synonyms: str | os.PathLike | None = None,
    replace: bool = False,
) -> RatingsImport:
    """Store checked ratings (read from `path`, named in errors) in run `run_id`, in one transaction."""
    path = Path(path)
    with db.connect() as conn:
        run = resolve_run(conn, run_id)
        layers = run_layers(conn, run)
        _check_units(path, run, ratings, layers)
        names = list(conn.execute(sa.select(s.run_classes.c.name).where(s.run_classes.c.run_id == run_id)).scalars())
        mapping = read_synonyms(synonyms, names) if synonyms else {}
        if replace:  # the file's raters only: other raters and browser-study answers stay
            conn.execute(
                sa.text("DELETE FROM seldb_store.am_ratings WHERE run_id = :r AND rater = ANY(:raters)"),
                {"r": run_id, "raters": sorted({r.rater for r in ratings})},
            )
        else:
            _refuse_duplicates(conn, run_id, ratings, layers)
        records = [_record(run_id, layers, r, mapping) for r in ratings]
        conn.execute(
            sa.text(
                "INSERT INTO seldb_store.am_ratings (run_id, layer_id, unit, rater, judged_object, label, label_key)"
                " VALUES (:run_id, :layer_id, :unit, :rater, :judged_object, :label, :label_key)"
            ),
            records,
        )
        conn.commit()
    units, raters = {(r.layer, r.unit) for r in ratings}, {r.rater for r in ratings}
    return RatingsImport(run_id, len(ratings), len(units), len(raters))


def _record(run_id: int, layers: dict[str, Layer], r: Rating, mapping: dict[str, str]) -> dict:
    key = label_key(r.label)
    return {
        "run_id": run_id,
        "layer_id": layers[r.layer].layer_id,
        "unit": r.unit,
        "rater": r.rater,
        "judged_object": r.judged_object,
        "label": r.label,
        "label_key": mapping.get(key, key) if key else None,
    }


def _refuse_duplicates(conn: sa.Connection, run_id: int, ratings: list[Rating], layers) -> None:
    names = {layer.layer_id: name for name, layer in layers.items()}
    stored = conn.execute(
        sa.text("SELECT layer_id, unit, rater FROM seldb_store.am_ratings WHERE run_id = :r"), {"r": run_id}
    ).all()
    existing = {(names[layer_id], unit, rater) for layer_id, unit, rater in stored}
    for r in ratings:
        if (r.layer, r.unit, r.rater) in existing:
            raise SeldbError(
                f"run {run_id} already has a rating of {r.layer}.{r.unit} by rater {r.rater!r}"
                " (--replace replaces the ratings of the file's raters)"
            )
