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

import os
from dataclasses import dataclass

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.read import check_layers, resolve_run
from seldb.dissect.tallycsv import TallyLabel, read_tally
from seldb.errors import InputError


@dataclass(frozen=True)
class TallyImport:
    run_id: int
    layer: str
    n_units: int
    n_labels: int


def import_tally(db: Database, path: str | os.PathLike, run: int, layer: str, one_based: bool = True) -> TallyImport:
    """Store a tally.csv as layer `layer` of run `run` (replacing that layer's earlier tally).

    one_based: the file numbers units from 1 (NetDissect's tally.csv and website), else from 0."""
    run_id = int(run)
    labels = read_tally(path, one_based)
    first = 1 if one_based else 0
    with db.connect() as conn:
        found = check_layers(conn, resolve_run(conn, run_id), [layer])[0]
        layer_id, n_units = found.layer_id, found.n_units
        beyond = max(label.unit for label in labels)
        if beyond >= n_units:
            raise InputError(f"{path}: unit {beyond + first} ({first}-based) is beyond layer {layer}'s {n_units} units")
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
