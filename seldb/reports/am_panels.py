"""AM images where reports show them: a panel of the unit plot, and the detectors report's table and grid.

Reports read views only; these helpers read seldb.am_images (the newest
image of a unit when it has several) and draw with matplotlib or PIL. An
image whose file is gone is left out rather than drawn as a broken panel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from seldb.db.read import frame

AM_COLUMNS = (
    "method, seed, steps, size, activation, reference_activation, dataset_max, exceeds_dataset_max, path, sha256"
)


def latest_image(conn: sa.Connection, run_id: int, layer: str, unit: int) -> dict | None:
    """The unit's newest AM image as seldb.am_images shows it, when its file is here."""
    row = (
        conn.execute(
            sa.text(
                f"SELECT {AM_COLUMNS} FROM seldb.am_images WHERE run_id = :r AND layer = :l AND unit = :u"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"r": run_id, "l": layer, "u": unit},
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None and Path(row["path"]).is_file() else None


def _verdict(am: dict) -> str:
    if am["exceeds_dataset_max"] is None:
        return "dataset max unknown"
    return f"{'above' if am['exceeds_dataset_max'] else 'NOT above'} the dataset max {am['dataset_max']:.4g}"


def draw_panel(part, am: dict) -> None:
    """The AM image with its options and what it does to the unit, in a matplotlib (sub)figure."""
    from PIL import Image

    ax = part.subplots()
    with Image.open(am["path"]) as im:
        ax.imshow(np.asarray(im.convert("RGB")), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("activation maximisation", fontsize=10)
    ax.set_xlabel(
        f"{am['method']}, seed {am['seed']}, {am['steps']} steps\nactivation {am['activation']:.4g}\n{_verdict(am)}",
        fontsize=8,
    )


def sidecar(am: dict) -> dict:
    keys = ("path", "sha256", "method", "seed", "steps", "size", "activation", "dataset_max", "exceeds_dataset_max")
    return {k: am[k] for k in keys}


def detector_images(conn: sa.Connection, run_id: int) -> pl.DataFrame:
    """The claimed detectors (seldb.detector_claims) that have an AM image, with its newest one."""
    return frame(
        conn,
        f"""
        SELECT c.unit_label, c.precision_60, c.precision_60_class, a.activation, a.dataset_max,
               a.exceeds_dataset_max, a.path
        FROM seldb.detector_claims AS c
        CROSS JOIN LATERAL (SELECT {AM_COLUMNS} FROM seldb.am_images AS a
                            WHERE a.run_id = c.run_id AND a.layer = c.layer AND a.unit = c.unit
                            ORDER BY a.created_at DESC LIMIT 1) AS a
        WHERE c.run_id = :r ORDER BY c.precision_60 DESC, c.layer, c.unit""",
        {"r": run_id},
    )


def detector_grid(images: pl.DataFrame, out: str | Path, title: str) -> Path | None:
    """One captioned grid of the detectors' AM images whose files are here; None when none is."""
    from PIL import Image

    from seldb.am.contact_sheet import captioned_grid

    tiles, captions = [], []
    for row in images.iter_rows(named=True):
        if Path(row["path"]).is_file():
            with Image.open(row["path"]) as im:
                tiles.append(np.asarray(im.convert("RGB")))
            above = {True: "above", False: "NOT above", None: "?"}[row["exceeds_dataset_max"]]
            captions.append(
                [row["unit_label"], f"{row['precision_60_class']} {row['precision_60']:.2f}", f"{above} dataset"]
            )
    if not tiles:
        return None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(tiles, captions, tile=112, columns=min(8, len(tiles)), title=title).save(out, format="PNG")
    return out
