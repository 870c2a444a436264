"""NetDissect's tally.csv: read by `seldb import netdissect`, written by `seldb dissect --tally-csv`.

Reading checks the whole file (header, every number, units 1-based and each
once) and turns each row into the unit's labels by one rule, `unit_labels`,
which `seldb dissect` stores its own labels through too. Writing: other tools
(NetDissect-Lite's report, seldb's own `import netdissect`) read tally.csv,
so it is written exactly as NetDissect-Lite writes it: columns unit
(1-based), category, label, score, then per category in category.csv order
<cat>-label, <cat>-truth, <cat>-activation, <cat>-intersect, <cat>-iou (that
category's best label and its counts); rows ordered by score, best first;
numbers as Python prints float64 (counts as 12769.0); how they were made
(rules, quantile, dataset, network) goes beside it in FILE.provenance.json. A category in which no
label has IoU above 0 names label 0 as its best label, whose name is ''
unless label.csv lists a number 0 - which NetDissect-Lite writes too.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from seldb.dissect.result import DissectResult
from seldb.errors import InputError

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


def _iou(path: Path, line: int, column: str, text: str | None, required: bool) -> float | None:
    """An IoU (or the score, the top label's IoU): a number in [0, 1]; NaN, infinities and the rest are refused
    (a NaN would compare greater than every number in PostgreSQL and make the unit a detector)."""
    value = _number(path, line, column, text, required)
    if value is not None and not 0.0 <= value <= 1.0:  # False for NaN too
        raise InputError(f"{path} line {line}: {column} {(text or '').strip()!r} is not an IoU (a number from 0 to 1)")
    return value


def _unit(path: Path, line: int, text: str | None, first: int = 1) -> int:
    """The 0-based unit of a row whose units are numbered from `first` (1: NetDissect's tally.csv)."""
    based = f"{first}-based"
    try:
        unit = int((text or "").strip())
    except ValueError:
        raise InputError(f"{path} line {line}: unit {text!r} is not an integer (tally units are {based})") from None
    if unit < first:
        hint = "; --zero-based if this file numbers units from 0" if first == 1 and unit == 0 else ""
        raise InputError(f"{path} line {line}: unit {unit} is below {first} (tally units are {based}{hint})")
    return unit - first


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


def _row_labels(path: Path, line: int, row: dict, categories: list[str], first: int = 1) -> list[TallyLabel]:
    """The unit's top label first, then each other category's best label (one per distinct label)."""
    unit = _unit(path, line, row["unit"], first)
    category, label = (row["category"] or "").strip(), (row["label"] or "").strip()
    if categories and category not in categories:
        known = ", ".join(categories)
        raise InputError(f"{path} line {line}: category {category!r} has no columns (categories: {known})")
    score = _iou(path, line, "score", row["score"], required=True)
    if not label and score != 0:
        # NetDissect-Lite names no label (label 0, '') only where every IoU is 0: a unit that never fired on a label
        raise InputError(f"{path} line {line}: label is empty but score is {score} (an empty label has score 0)")
    top_iou = _iou(path, line, f"{category}-iou", row.get(f"{category}-iou"), required=False)
    top = TallyLabel(unit, category, label, score, score if top_iou is None else top_iou)
    best = []
    for cat in categories:
        other = (row.get(f"{cat}-label") or "").strip()
        best.append((cat, other, _iou(path, line, f"{cat}-iou", row.get(f"{cat}-iou"), False) if other else None))
    return unit_labels(top, best)


def read_tally(path: str | os.PathLike, one_based: bool = True) -> list[TallyLabel]:
    """Every label of a tally.csv, checked; raises InputError naming the file and line.

    Units are numbered from 1 in every tally.csv NetDissect and NetDissect-Lite write (and on the
    NetDissect website); one_based=False reads a file numbered from 0. Units come back 0-based."""
    first = 1 if one_based else 0
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
            names = [h.strip() for h in header or []]
            for line, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue  # blank line
                if len(values) != len(names):
                    raise InputError(f"{path} line {line}: {len(values)} fields, the header has {len(names)}")
                row_labels = _row_labels(path, line, dict(zip(names, values)), categories, first)
                unit = row_labels[0].unit
                if unit in seen:
                    again = unit + first
                    raise InputError(f"{path} line {line}: unit {again} appears again (first on line {seen[unit]})")
                seen[unit] = line
                labels += row_labels
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None
    if not labels:
        raise InputError(f"{path}: no unit rows under the header")
    return labels


def tally_header(categories) -> list[str]:
    return ["unit", "category", "label", "score"] + [f"{cat}-{part}" for cat in categories for part in PER_CATEGORY]


def tally_rows(result: DissectResult, layer: str) -> list[list]:
    d = result.layers[layer]
    best, s, names = d.best, d.scores, result.label_names
    rows = []
    for unit in best.order.tolist():
        top = int(best.top_category[unit])
        row = [unit + 1, result.categories[top], names[best.label[top, unit]], float(best.iou[top, unit])]
        for ci in range(len(result.categories)):
            label = int(best.label[ci, unit])
            row += [
                names[label],
                float(s.truth[label]),
                float(s.activation[unit, label]),
                float(s.intersection[unit, label]),
                float(best.iou[ci, unit]),
            ]
        rows.append(row)
    return rows


def write_tally_csv(result: DissectResult, layer: str, path: str | os.PathLike) -> Path:
    """Write `layer`'s tally.csv to path (replacing it)."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)  # "\r\n" line ends, as csv.DictWriter gave NetDissect-Lite
        writer.writerow(tally_header(result.categories))
        writer.writerows(tally_rows(result, layer))
    return path


def provenance_path(path: str | os.PathLike) -> Path:
    """Where a tally.csv's provenance goes: FILE.provenance.json beside it."""
    path = Path(path)
    return path.with_name(f"{path.name}.provenance.json")


def write_provenance(result: DissectResult, layer: str, path: str | os.PathLike, extra: dict) -> Path:
    """FILE.provenance.json beside `layer`'s tally.csv: how its numbers were made (tally.csv itself stays in
    NetDissect-Lite's exact layout, which has no room for it)."""
    from seldb import __version__

    d = result.layers[layer]
    record = {
        "tally_csv": Path(path).name,
        "layer": layer,
        "module": d.module,
        "rules": {**result.rules.as_dict(), "preset": result.rules.name()},
        "quantile": result.quantile,
        "categories": list(result.categories),
        "dataset": result.dataset,
        "dataset_fingerprint": result.fingerprint,
        "n_images": result.n_images,
        "units": d.n_units,
        "seldb_version": __version__,
        **extra,
    }
    target = provenance_path(path)
    target.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return target
