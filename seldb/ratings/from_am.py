"""`seldb am sheet`: the blinded rating page for a run's units, from the AM images stored with the run.

Each unit's panel holds every stored AM image of the unit (all seeds and
options, in a fixed order). The key records the run, so `seldb import
ratings --key` can refuse answers meant for another run, and an existing key
is never overwritten: it is the only way back from a rater's answers to the
units.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from seldb.am.options import MAX_SEED
from seldb.db.database import Database
from seldb.db.read import find_unit, resolve_run
from seldb.errors import InputError, SeldbError
from seldb.ratings.sheet import RatingSheet, SheetItem, read_key, write_rating_sheet


def _unit_images(conn: sa.Connection, run_id: int, layer: str, unit: int) -> list[str]:
    query = (
        "SELECT path FROM seldb.am_images WHERE run_id = :r AND layer = :l AND unit = :u"
        " ORDER BY method, seed, steps, size, pre_relu, lr"
    )
    return list(conn.execute(sa.text(query), {"r": run_id, "l": layer, "u": unit}).scalars())


def write_sheet(
    db: Database, units: Sequence[str], out: str | os.PathLike, run: int | None = None, seed: int | None = None
) -> RatingSheet:
    """out/index.html and out/key.json for the units' stored AM images; seed None draws one (recorded)."""
    if not units:
        raise InputError("name the units to rate: --units fc8.1,fc8.7")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise InputError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    key = Path(out) / "key.json"
    if key.exists():
        sheet = _existing_sheet(key)
        raise SeldbError(f"{key} exists ({sheet}); it is the only way back from answers to units: choose another --out")
    with db.connect() as conn:
        r = resolve_run(conn, run)
        pairs = list(dict.fromkeys(find_unit(conn, r, label) for label in units))
        items = [
            SheetItem(f"{layer}.{unit}", tuple(_unit_images(conn, r.run_id, layer, unit))) for layer, unit in pairs
        ]
    missing = [item.unit for item in items if not item.images]
    if missing:
        raise SeldbError(
            f"no AM image of {', '.join(missing)} in {r.name}: make them first with"
            f" seldb am --run {r.run_id} --units {','.join(missing)}"
        )
    gone = [str(p) for item in items for p in item.images if not Path(p).is_file()]
    if gone:
        raise SeldbError(f"{len(gone)} AM image file(s) are gone (first: {gone[0]}); seldb am --force makes them again")
    seed = secrets.randbelow(2**31) if seed is None else seed
    return write_rating_sheet(items, out, seed, about={"run_id": r.run_id})


def _existing_sheet(key: Path) -> str:
    try:
        return f"the key of sheet {read_key(key)[0]}"
    except InputError:
        return "not a rating-sheet key"
