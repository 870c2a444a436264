"""`seldb am sheet`: the blinded rating page for a run's units, from the AM images stored with the run.

Each unit's panel is one set of samples, as the paper's study showed raters
a panel of samples per unit: the unit's newest set of AM images made with
the same options (seldb am --samples N makes one), by seed; `samples=N`
takes its first N and refuses a unit that has fewer. The key records the run, so `seldb import
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

SET_OPTIONS = ("method", "steps", "size", "pre_relu", "lr", "objective_kind", "samples", "diversity", "generator")


def _unit_images(conn: sa.Connection, run_id: int, layer: str, unit: int) -> list[str]:
    """The PNGs of the unit's newest sample set (the images made with one set of options), by seed."""
    options = ", ".join(SET_OPTIONS)
    query = (
        f"WITH newest AS (SELECT {options} FROM seldb.am_images WHERE run_id = :r AND layer = :l AND unit = :u"
        " ORDER BY created_at DESC, seed LIMIT 1)"
        f" SELECT a.path FROM seldb.am_images a JOIN newest n USING ({options})"
        " WHERE a.run_id = :r AND a.layer = :l AND a.unit = :u ORDER BY a.seed"
    )
    return list(conn.execute(sa.text(query), {"r": run_id, "l": layer, "u": unit}).scalars())


def write_sheet(
    db: Database,
    units: Sequence[str],
    out: str | os.PathLike,
    run: int | None = None,
    seed: int | None = None,
    samples: int | None = None,
) -> RatingSheet:
    """out/index.html and out/key.json: one panel per unit, its newest sample set (the first `samples`
    of it when given); seed None draws one (recorded)."""
    if not units:
        raise InputError("name the units to rate: --units fc8.1,fc8.7")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise InputError(f"--samples must be a whole number of at least 1, got {samples!r}")
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
    if samples is not None:
        short = [f"{item.unit} ({len(item.images)})" for item in items if len(item.images) < samples]
        if short:
            raise SeldbError(
                f"fewer than {samples} samples in the newest AM set of {', '.join(short)}: make them with"
                f" seldb am --run {r.run_id} --units {','.join(u.split(' ')[0] for u in short)} --samples {samples}"
            )
        items = [SheetItem(item.unit, item.images[:samples]) for item in items]
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
