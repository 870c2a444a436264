""" "Natural AM" for `seldb report unit --top-images N`: a unit's most active dataset images on one sheet.

The images come from seldb.unit_top_images in rank order, found on this
machine through the run's recorded image directory (seldb.am.dataset_images); the
class and activation go under each. Unreachable images are grey tiles and a
note; when none is reachable nothing is written and the note says why.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from seldb.am.contact_sheet import ContactSheet, write_contact_sheet
from seldb.am.dataset_images import locate, run_record
from seldb.errors import InputError

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
