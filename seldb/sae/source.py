"""The run an SAE reads: its layer, and its activation file, checked against the import's SHA-256.

An SAE is trained on, and encodes, the very activations the run's measures
came from; a file that is gone, or has changed since the import, is refused
in one line before anything is trained or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import Run, check_layers, resolve_run
from seldb.errors import SeldbError
from seldb.files import run_source_file
from seldb.h5.reader import ActivationFile


@dataclass(frozen=True)
class SourceLayer:
    run: Run
    layer: str
    n_units: int
    file: Path
    sha256: str
    all_images: bool  # the run analysed every image (not only the correctly classified ones)


def source_layer(db: Database, run: int, layer: str) -> SourceLayer:
    """The run and layer, with the path of their activation file; NotFound for an unknown run or layer."""
    with db.connect() as conn:
        r = resolve_run(conn, run)
        stored = check_layers(conn, r, [layer])[0]
        row = conn.execute(
            sa.text(
                "SELECT source_file, source_sha256, only_correct, options->>'source' AS made_by"
                " FROM seldb_store.runs WHERE run_id = :r"
            ),
            {"r": r.run_id},
        ).one()
    file = run_source_file(r.name, row.source_file, row.source_sha256, row.made_by, "an SAE needs", False, False)
    return SourceLayer(r, stored.name, stored.n_units, file, row.source_sha256, not row.only_correct)


def open_checked(source: SourceLayer, progress: bool = False) -> ActivationFile:
    """The run's activation file, refused when its SHA-256 is not the import's or the layer differs."""
    run_source_file(source.run.name, str(source.file), source.sha256, None, "an SAE needs", True, progress)
    afile = ActivationFile(source.file)
    info = afile.layers.get(source.layer)
    if info is None or info.n_units != source.n_units:
        afile.close()
        raise SeldbError(f"{source.run.name}: {source.file} does not hold layer {source.layer} as imported")
    return afile
