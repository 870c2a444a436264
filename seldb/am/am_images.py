"""AM images in the database: one row of seldb_store.am_images per image, read back through seldb.am_images.

The row's key is the reuse key: run, layer, unit and the options that decide
the image. A stored image is reused only while its file is where the row says
and still has the recorded sha256; otherwise, and under force, it is made
again and the row replaced (upsert, so two processes making the same image
cannot both insert). What a caller gets back is read from the view, so it
carries the view's numbers: the activation under the layer's recorded
reduction, the dataset's highest, and whether the image beat it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from seldb.db import schema as s

T = s.am_images
RESULT_COLUMNS = (
    "unit_label",
    "layer",
    "unit",
    "activation",
    "reference_activation",
    "dataset_max",
    "exceeds_dataset_max",
    "path",
    "sha256",
    "seconds",
    "method",
    "seed",
    "steps",
    "size",
    "pre_relu",
    "objective_kind",
    "samples",
    "diversity",
    "generator",
)


@dataclass(frozen=True)
class AMRow:
    """One AM image of a run as seldb.am_images shows it, and whether this call made it."""

    unit_label: str
    layer: str
    unit: int
    activation: float  # as the run recorded the layer (spatial max or mean, or the unit)
    reference_activation: float | None  # the same for the dataset's mean image
    dataset_max: float | None
    exceeds_dataset_max: bool | None
    path: Path
    sha256: str
    seconds: float
    method: str
    seed: int
    steps: int
    size: int
    pre_relu: bool
    objective_kind: str = "channel"
    samples: int = 1
    diversity: float = 0.0
    generator: str = ""
    reused: bool = False


def key(
    run_id: int,
    layer_id: int,
    unit: int,
    method: str,
    seed: int,
    steps: int,
    size: int,
    pre_relu: bool,
    lr: float,
    objective_kind: str = "channel",
    samples: int = 1,
    diversity: float = 0.0,
    generator: str = "",
) -> dict:
    return {
        "run_id": run_id,
        "layer_id": layer_id,
        "unit": unit,
        "method": method,
        "seed": seed,
        "steps": steps,
        "size": size,
        "pre_relu": pre_relu,
        "lr": float(lr),
        "objective_kind": objective_kind,
        "samples": samples,
        "diversity": float(diversity),
        "generator": generator,
    }


def key_of(run_id: int, layer_id: int, unit: int, options, size: int, seed: int) -> dict:
    """The reuse key of one sample: options an AMOptions with its method decided; seed the sample's."""
    from seldb.am.options import diversity_of

    return key(
        run_id,
        layer_id,
        unit,
        str(options.method),
        seed,
        options.steps,
        size,
        options.pre_relu,
        options.lr,
        options.objective,
        options.samples,
        diversity_of(options),
        options.generator or "",
    )


def _where(k: dict):
    return sa.and_(*(T.c[name] == value for name, value in k.items()))


def stored(conn: sa.Connection, k: dict) -> dict | None:
    """The stored row (path, sha256) of this key, or None."""
    row = conn.execute(sa.select(T.c.path, T.c.sha256).where(_where(k))).mappings().first()
    return dict(row) if row else None


def save(conn: sa.Connection, record: dict) -> None:
    """Insert or replace the row of record's key (record: every column of am_images but created_at)."""
    values = {**record, "settings": json.loads(json.dumps(record["settings"]))}
    statement = insert(T).values(**values)
    update = {c: statement.excluded[c] for c in values if c not in s.AM_IMAGE_KEY}
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(s.AM_IMAGE_KEY), set_={**update, "created_at": sa.func.now()}
        )
    )


def rows(
    conn: sa.Connection,
    run_id: int,
    wanted: list[tuple[str, int]],
    options,
    size: int,
    made: set[tuple[str, int]],
) -> list[AMRow]:
    """The view's rows of `wanted` (layer, unit) with these options, in the order wanted, each unit's
    samples by seed."""
    from seldb.am.options import diversity_of

    query = (
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM seldb.am_images WHERE run_id = :r AND method = :m"
        " AND seed BETWEEN :seed AND :last AND steps = :steps AND size = :size AND pre_relu = :pre"
        " AND lr = :lr AND objective_kind = :obj AND samples = :n AND diversity = :div AND generator = :gen"
        " ORDER BY seed"
    )
    params = {
        "r": run_id,
        "m": options.method,
        "seed": options.seed,
        "last": options.seed + options.samples - 1,
        "steps": options.steps,
        "size": size,
        "pre": options.pre_relu,
        "lr": float(options.lr),
        "obj": options.objective,
        "n": options.samples,
        "div": diversity_of(options),
        "gen": options.generator or "",
    }
    found: dict[tuple[str, int], list] = {}
    for r in conn.execute(sa.text(query), params).mappings():
        found.setdefault((r["layer"], r["unit"]), []).append(r)
    return [
        AMRow(**{**row, "path": Path(row["path"]), "reused": pair not in made})
        for pair in wanted
        for row in found.get(pair, [])
    ]
