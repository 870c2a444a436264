"""Import Network Dissection results (tally.csv) into a run, beside seldb's own measures.

Network Dissection (Bau et al. 2017; Zhou et al. 2018) labels a unit with
the concept whose segmentation its activation map overlaps best (IoU). The
paper compares those labels with precision, CCMAS and informedness; importing
the tally puts them in seldb.netdissect and gives seldb.concept_measures its
`iou` column, so the comparison is one query.

tally.csv (NetDissect and NetDissect-Lite alike): `unit` (1-based), `category`,
`label`, `score` (the top label's IoU), then for every category `<cat>-label`,
`<cat>-truth`, `<cat>-activation`, `<cat>-intersect`, `<cat>-iou` (that
category's best label). seldb stores per unit the top label with its score,
and each other category's best label with its IoU (score NULL), units
0-based. A unit whose IoU is 0 with every label has an empty top label with
score 0 (what NetDissect-Lite writes); it is kept. The whole file is checked
before anything is written; re-importing a layer replaces its rows, also
rows that `seldb dissect` computed (seldb.dissect.saving writes those through
the same `unit_labels` rule; the dissection's per-label IoUs stay).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.errors import InputError, NotFound

REQUIRED = ("unit", "category", "label", "score")
PER_CATEGORY = ("label", "truth", "activation", "intersect", "iou")
LAYOUT = "unit, category, label, score, then <cat>-label, <cat>-truth, <cat>-activation, <cat>-intersect, <cat>-iou"


@dataclass(frozen=True)
class TallyLabel:
    unit: int  # 0-based
    category: str
    label: str
    score: float | None  # set on the unit's top label only
    iou: float | None


@dataclass(frozen=True)
class TallyImport:
    run_id: int
    layer: str
    n_units: int
    n_labels: int


def _header(path: Path, header: list[str] | None) -> list[str]:
    """The categories named by the header; a missing column is one InputError line."""
    if not header:
        raise InputError(f"{path}: empty file, expected a NetDissect tally.csv ({LAYOUT})")
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"{path}: not a NetDissect tally.csv: no column {', '.join(missing)} (expected {LAYOUT})")
    categories = list(dict.fromkeys(h[: -len("-iou")] for h in header if h.endswith("-iou")))
    for cat in categories:
        absent = [f"{cat}-{p}" for p in PER_CATEGORY if f"{cat}-{p}" not in header]
        if absent:
            raise InputError(f"{path}: category {cat!r} lacks column {', '.join(absent)} (expected {LAYOUT})")
    return categories


def _number(path: Path, line: int, column: str, text: str | None, required: bool) -> float | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise InputError(f"{path} line {line}: {column} is empty")
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{path} line {line}: {column} {text!r} is not a number") from None


def _unit(path: Path, line: int, text: str | None) -> int:
    try:
        unit = int((text or "").strip())
    except ValueError:
        raise InputError(f"{path} line {line}: unit {text!r} is not an integer (tally units are 1-based)") from None
    if unit < 1:
        raise InputError(f"{path} line {line}: unit {unit} is below 1 (tally units are 1-based)")
    return unit - 1


def unit_labels(top: TallyLabel, best: list[tuple[str, str, float | None]]) -> list[TallyLabel]:
    """The unit's top label, then each category's best (category, label, iou) that names another label.

    One row per (unit, label), labels compared as seldb.concept_measures matches them (any case): the
    label's first row (the top label, then the categories in order) is kept; empty labels are skipped.
    Imported tallies and `seldb dissect` both store a unit's labels through this rule.
    """
    labels = [top]
    for category, label, iou in best:
        if label and all(label.lower() != known.label.lower() for known in labels):
            labels.append(TallyLabel(top.unit, category, label, None, iou))
    return labels


def _row_labels(path: Path, line: int, row: dict, categories: list[str]) -> list[TallyLabel]:
    """The unit's top label first, then each other category's best label (one per distinct label)."""
    unit = _unit(path, line, row["unit"])
    category, label = (row["category"] or "").strip(), (row["label"] or "").strip()
    if categories and category not in categories:
        known = ", ".join(categories)
        raise InputError(f"{path} line {line}: category {category!r} has no columns (categories: {known})")
    score = _number(path, line, "score", row["score"], required=True)
    if not label and score != 0:
        # NetDissect-Lite names no label (label 0, '') only where every IoU is 0: a unit that never fired on a label
        raise InputError(f"{path} line {line}: label is empty but score is {score} (an empty label has score 0)")
    top_iou = _number(path, line, f"{category}-iou", row.get(f"{category}-iou"), required=False)
    top = TallyLabel(unit, category, label, score, score if top_iou is None else top_iou)
    best = []
    for cat in categories:
        other = (row.get(f"{cat}-label") or "").strip()
        best.append((cat, other, _number(path, line, f"{cat}-iou", row.get(f"{cat}-iou"), False) if other else None))
    return unit_labels(top, best)


def read_tally(path: str | os.PathLike) -> list[TallyLabel]:
    """Every label of a tally.csv, checked; raises InputError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    labels: list[TallyLabel] = []
    seen: dict[int, int] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            categories = _header(path, header)
            names = [h.strip() for h in header]
            for line, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue  # blank line
                if len(values) != len(names):
                    raise InputError(f"{path} line {line}: {len(values)} fields, the header has {len(names)}")
                row_labels = _row_labels(path, line, dict(zip(names, values)), categories)
                unit = row_labels[0].unit
                if unit in seen:
                    raise InputError(f"{path} line {line}: unit {unit + 1} appears again (first on line {seen[unit]})")
                seen[unit] = line
                labels += row_labels
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None
    if not labels:
        raise InputError(f"{path}: no unit rows under the header")
    return labels


def run_layers(conn: sa.Connection, run_id: int) -> dict[str, tuple[int, int]]:
    """{layer name: (layer_id, n_units)} of a run, in network order; else one error line."""
    if conn.execute(sa.select(s.runs.c.run_id).where(s.runs.c.run_id == run_id)).first() is None:
        raise NotFound(f"no run {run_id} (seldb runs lists them)")
    rows = conn.execute(
        sa.select(s.run_layers.c.name, s.run_layers.c.layer_id, s.run_layers.c.n_units)
        .where(s.run_layers.c.run_id == run_id)
        .order_by(s.run_layers.c.layer_id)
    ).all()
    return {name: (layer_id, n_units) for name, layer_id, n_units in rows}


def import_tally(db: Database, path: str | os.PathLike, run_id: int, layer: str) -> TallyImport:
    """Store a tally.csv as layer `layer` of run `run_id` (replacing that layer's earlier tally)."""
    labels = read_tally(path)
    with db.connect() as conn:
        layers = run_layers(conn, run_id)
        if layer not in layers:
            raise NotFound(f"no layer {layer!r} in run {run_id}; its layers: {', '.join(layers)}")
        layer_id, n_units = layers[layer]
        beyond = max(label.unit for label in labels)
        if beyond >= n_units:
            raise InputError(f"{path}: unit {beyond + 1} (1-based) is beyond layer {layer}'s {n_units} units")
        table = s.netdissect
        conn.execute(sa.delete(table).where((table.c.run_id == run_id) & (table.c.layer_id == layer_id)))
        conn.execute(sa.insert(table), [tally_record(run_id, layer_id, label) for label in labels])
        conn.commit()
    return TallyImport(run_id, layer, len({label.unit for label in labels}), len(labels))


def tally_record(run_id: int, layer_id: int, label: TallyLabel, dissection_id: int | None = None) -> dict:
    """One seldb_store.netdissect row: imported, or computed by the dissection `dissection_id`."""
    # NaN is stored as is (the view shows it as NULL): a NULL score would mean "not the top label"
    return {
        "run_id": run_id,
        "layer_id": layer_id,
        "unit": label.unit,
        "category": label.category,
        "label": label.label,
        "score": label.score,
        "iou": label.iou,
        "source": "imported" if dissection_id is None else "computed",
        "dissection_id": dissection_id,
    }
