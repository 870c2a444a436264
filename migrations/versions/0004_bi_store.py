"""Storage for the BI-grade views: dead units, every k, correlations with and without dead units,
per-(layer, class) summaries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

- unit_measures gains the catalogue's n_distinct_values and is_dead.
  is_dead is backfilled for older runs (the unit's lowest and highest
  activation are in unit_arrays); n_distinct_values cannot be, and stays NULL.
- unit_precision_k holds k = 60 and 100 too (backfilled from unit_measures),
  so one long view has every k.
- measure_correlations gains includes_dead (older rows included dead units).
- layer_class_summary: per (run, layer, class), numbers over the layer's live
  units, computed at import (seldb/summaries.py) so that whole-run aggregates
  are instant; backfilled here by SQL for older runs.

Tables only: the views of this release are created by revision 0009, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
F8 = postgresql.DOUBLE_PRECISION

BACKFILL_DEAD = f"""
UPDATE {S}.unit_measures AS m SET is_dead = (
    SELECT max(x) = min(y)
    FROM unnest(a.max) AS x, unnest(a.min) AS y
    WHERE x <> 'NaN' AND y <> 'NaN'
)
FROM {S}.unit_arrays AS a
WHERE a.run_id = m.run_id AND a.layer_id = m.layer_id AND a.unit = m.unit AND m.is_dead IS NULL
"""
BACKFILL_K = f"""
INSERT INTO {S}.unit_precision_k (run_id, layer_id, unit, k, precision, class_index)
SELECT run_id, layer_id, unit, k.k, CASE k.k WHEN 60 THEN precision_60 ELSE precision_100 END,
       CASE k.k WHEN 60 THEN precision_60_class ELSE precision_100_class END
FROM {S}.unit_measures CROSS JOIN (VALUES (60), (100)) AS k(k)
ON CONFLICT DO NOTHING
"""
# The same numbers seldb/summaries.py computes at import, for runs imported before this revision.
BACKFILL_CLASS_SUMMARY = f"""
INSERT INTO {S}.layer_class_summary
SELECT a.run_id, a.layer_id, (s.ord - 1)::integer AS class_index,
    count(*)::integer AS n_units,
    count(*) FILTER (WHERE live)::integer AS n_live_units,
    avg(NULLIF(s.mean, 'NaN')) FILTER (WHERE live) AS mean_of_means,
    stddev_samp(NULLIF(s.mean, 'NaN')) FILTER (WHERE live) AS sd_of_means,
    max(NULLIF(s.mean, 'NaN')) FILTER (WHERE live) AS max_of_means,
    avg(s.n_nonzero::double precision / NULLIF(c.n_analysed, 0)) FILTER (WHERE live) AS mean_frac_nonzero,
    max(NULLIF(s.mi, 'NaN')) FILTER (WHERE live) AS max_class_informedness,
    count(*) FILTER (WHERE live AND m.ccmas_class = s.ord - 1)::integer AS n_ccmas_class,
    count(*) FILTER (WHERE live AND m.precision_60_class = s.ord - 1)::integer AS n_precision_60_class,
    count(*) FILTER (WHERE live AND m.mi_class = s.ord - 1)::integer AS n_mi_class,
    count(*) FILTER (WHERE live AND m.precision_60_class = s.ord - 1 AND m.precision_60 > 0.75)::integer
        AS n_claimed,
    sum(s.n_zero)::bigint AS n_zero
FROM {S}.unit_arrays AS a
JOIN {S}.unit_measures AS m ON m.run_id = a.run_id AND m.layer_id = a.layer_id AND m.unit = a.unit
CROSS JOIN LATERAL (SELECT NOT COALESCE(m.is_dead, false) AS live) AS d
CROSS JOIN LATERAL unnest(a.mean, a.n_nonzero, a.n_zero, a.mi) WITH ORDINALITY AS s(mean, n_nonzero, n_zero, mi, ord)
JOIN {S}.run_classes AS c ON c.run_id = a.run_id AND c.class_index = s.ord - 1
WHERE NOT EXISTS (SELECT FROM {S}.layer_class_summary AS x WHERE x.run_id = a.run_id)
GROUP BY a.run_id, a.layer_id, s.ord
"""


def upgrade() -> None:
    op.add_column("unit_measures", sa.Column("n_distinct_values", sa.Integer(), nullable=True), schema=S)
    op.add_column("unit_measures", sa.Column("is_dead", sa.Boolean(), nullable=True), schema=S)
    op.add_column(
        "measure_correlations",
        sa.Column("includes_dead", sa.Boolean(), server_default="true", nullable=False),
        schema=S,
    )
    op.create_table(
        "layer_class_summary",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=False),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        sa.Column("n_live_units", sa.Integer(), nullable=False),
        *[
            sa.Column(name, F8(), nullable=True)
            for name in ("mean_of_means", "sd_of_means", "max_of_means", "mean_frac_nonzero", "max_class_informedness")
        ],
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("n_ccmas_class", "n_precision_60_class", "n_mi_class", "n_claimed")
        ],
        sa.Column("n_zero", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "class_index"),
        sa.ForeignKeyConstraint(
            ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
        ),
        schema=S,
    )
    op.execute(BACKFILL_DEAD)
    op.execute(BACKFILL_K)
    op.execute(BACKFILL_CLASS_SUMMARY)


def downgrade() -> None:
    op.drop_table("layer_class_summary", schema=S)
    op.execute(f"DELETE FROM {S}.unit_precision_k WHERE k IN (60, 100)")
    op.drop_column("measure_correlations", "includes_dead", schema=S)
    op.drop_column("unit_measures", "is_dead", schema=S)
    op.drop_column("unit_measures", "n_distinct_values", schema=S)
