"""Concepts: named sets of classes measured as one target (e.g. bus).

The paper asks whether a unit detects "bus" = school bus + trolleybus +
minibus; a concept stores that set once, every import measures it for each
run whose classes include all of it, and `compute` adds it to an older run
from the run's activation file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.read import resolve_run, run_layers
from seldb.db.write import RunWriter
from seldb.engine.blocks import measure_blocks, plan_blocks
from seldb.errors import InputError, NotFound, SeldbError, did_you_mean
from seldb.h5.reader import ActivationFile
from seldb.measures import compute_concept_block


def _known_classes(conn: sa.Connection) -> list[tuple[str, str | None]]:
    return [tuple(r) for r in conn.execute(sa.select(s.run_classes.c.name, s.run_classes.c.key).distinct())]


def _canonical(identifier: str, known: list[tuple[str, str | None]]) -> str:
    """A class key, or the name itself where no run knows a key for it."""
    if any(key == identifier for _, key in known):
        return identifier
    keys = sorted({key for name, key in known if name == identifier and key})
    if len(keys) > 1:
        raise InputError(f"class name {identifier!r} is ambiguous; use one of its keys: {', '.join(keys)}")
    return keys[0] if keys else identifier


def _check_known(classes: list[str], known: list[tuple[str, str | None]]) -> None:
    """Every class must be a name or key of some run's class; one line naming the others."""
    if not known:
        return  # no run yet: nothing to check against; each later import says whether it can measure it
    identifiers = {name for name, _ in known} | {key for _, key in known if key}
    unknown = [c for c in classes if c not in identifiers]
    if unknown:
        hints = [f"{c!r}{did_you_mean(c, sorted(identifiers))}" for c in unknown]
        raise InputError(
            f"no run has class {', '.join(hints)}: name classes by their name or key"
            ' (seldb sql "SELECT DISTINCT class, class_key FROM seldb.layer_class_summary" lists them)'
        )


def add_concept(db: Database, name: str, classes: Sequence[str], replace: bool = False) -> list[str]:
    """Store a concept; returns the classes as stored (keys where known).

    Every class must be known to at least one run (checked, with close matches
    named), unless there is no run yet.
    """
    classes = list(dict.fromkeys(c.strip() for c in classes if c.strip()))
    if not name.strip() or not classes:
        raise InputError("a concept needs a name and at least one class")
    if len(name.encode("utf-8")) > 512:
        raise InputError(f"a concept's name takes at most 512 bytes; {name[:40]!r}... has {len(name.encode())}")
    with db.connect() as conn:
        known = _known_classes(conn)
        _check_known(classes, known)
        stored = list(dict.fromkeys(_canonical(c, known) for c in classes))
        existing = conn.execute(sa.select(s.concepts.c.concept_id).where(s.concepts.c.name == name)).first()
        if existing and not replace:
            raise SeldbError(f"concept {name!r} exists already (--replace overwrites it and its measures)")
        if existing:
            conn.execute(sa.delete(s.concepts).where(s.concepts.c.name == name))
        conn.execute(sa.insert(s.concepts).values(name=name, classes=stored))
        conn.commit()
    return stored


def list_concepts(db: Database) -> list[dict]:
    """Every concept with its classes as stored (keys) and as people read them ("school bus (n04146614)")."""
    with db.connect() as conn:
        names = {key: name for name, key in _known_classes(conn) if key}
        rows = conn.execute(sa.select(s.concepts.c.name, s.concepts.c.classes).order_by(s.concepts.c.name))
        return [
            {
                "name": name,
                "classes": list(classes),
                "class_names": [f"{names[c]} ({c})" if c in names else c for c in classes],
            }
            for name, classes in rows
        ]


def delete_concept(db: Database, name: str) -> None:
    """Delete a concept and its measures in every run."""
    with db.connect() as conn:
        if not conn.execute(sa.delete(s.concepts).where(s.concepts.c.name == name)).rowcount:
            known = [row.name for row in conn.execute(sa.select(s.concepts.c.name))]
            raise NotFound(f"no concept {name!r}{did_you_mean(name, known)} (seldb concept list shows them)")
        conn.commit()


def resolve(classes: Sequence[str], names: Sequence[str], keys: Sequence[str | None] | None) -> list[int] | None:
    """Class indices of a concept in a run, or None when a class is missing or ambiguous."""
    indices = []
    for identifier in classes:
        by_key = [i for i, k in enumerate(keys or []) if k == identifier]
        found = by_key or [i for i, n in enumerate(names) if n == identifier]
        if len(found) != 1:
            return None
        indices.append(found[0])
    return sorted(set(indices))


def resolve_for_run(conn: sa.Connection, names, keys) -> tuple[list[tuple[int, str, list[int]]], list[str]]:
    """(concept_id, name, class indices) of every concept the run can measure, and the names skipped."""
    found, skipped = [], []
    for cid, name, classes in conn.execute(sa.select(s.concepts.c.concept_id, s.concepts.c.name, s.concepts.c.classes)):
        indices = resolve(classes, names, keys)
        if indices is None:
            skipped.append(name)
        else:
            found.append((cid, name, indices))
    return found, skipped


def compute_concept(db: Database, name: str, run: int, progress: bool = True) -> int:
    """Measure a concept for an existing run from its activation file; returns rows written."""
    run_id = int(run)
    with db.connect() as conn:
        concept = conn.execute(sa.select(s.concepts).where(s.concepts.c.name == name)).first()
        if concept is None:
            raise NotFound(f"no concept {name!r} (seldb concept list shows them)")
        layers = list(run_layers(conn, resolve_run(conn, run_id)))
        stored = conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)).one()
        if not stored.source_file or not Path(stored.source_file).is_file():
            raise SeldbError(f"run {run_id}: its activation file {stored.source_file} is not there any more")
        analysed = np.array(
            conn.execute(
                sa.select(s.run_images.c.analysed)
                .where(s.run_images.c.run_id == run_id)
                .order_by(s.run_images.c.image_index)
            )
            .scalars()
            .all(),
            dtype=bool,
        )
        with ActivationFile(stored.source_file) as afile:
            indices = resolve(concept.classes, afile.class_names, afile.class_keys)
            if indices is None:
                missing = [c for c in concept.classes if resolve([c], afile.class_names, afile.class_keys) is None]
                raise SeldbError(f"run {run_id} lacks (or has ambiguous) classes of concept {name!r}: {missing}")
            written = _measure_into(
                RunWriter.for_run(conn, run_id), afile, layers, analysed, concept, indices, progress
            )
        conn.commit()
    return written


def _measure_into(
    writer: RunWriter,
    afile: ActivationFile,
    layers: list[str],
    analysed: np.ndarray,
    concept,
    indices: list[int],
    progress: bool,
) -> int:
    """Replace the concept's rows of the run with a fresh measurement, block by block."""
    table = s.concept_measures
    writer.conn.execute(
        sa.delete(table).where((table.c.run_id == writer.run_id) & (table.c.concept_id == concept.concept_id))
    )
    rows = np.flatnonzero(analysed)

    def measure(block, values, labels):
        frame = compute_concept_block(values, labels, afile.n_classes, indices)
        return frame.with_columns(unit=frame["unit"] + block.first)

    written = 0
    blocks = plan_blocks(afile, layers, rows.size)
    for done in measure_blocks(afile, blocks, rows, measure, progress=progress, label=f"concept {concept.name}"):
        writer.add_concept_measures(done.block.layer_id, concept.concept_id, done.result)
        written += done.result.height
    return written
