"""Confidence intervals and chance levels (issue 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

- uncertainty_layers: which layers of a run have bootstrap intervals and a
  chance baseline, and with which settings (replicates, seed, level).
- unit_measure_uncertainty: per (unit, measure) the interval and the
  permutation p/q-values and null summary.
- layer_measure_null: per (layer, measure) the pooled null distribution.

Tables only: the views of this release are created by revision 0009, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
F8 = postgresql.DOUBLE_PRECISION
NULL_SUMMARY = ("null_mean", "null_p01", "null_p05", "null_p95", "null_p99")


def _layer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id", "layer_id"], [f"{S}.{table}.run_id", f"{S}.{table}.layer_id"], ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "uncertainty_layers",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.SmallInteger, nullable=False),
        sa.Column("bootstrap", sa.Integer, nullable=False),
        sa.Column("permutations", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("level", F8, nullable=False),
        sa.Column("engine", sa.Text, nullable=False),
        sa.Column("seldb_version", sa.Text, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("seconds", F8),
        sa.PrimaryKeyConstraint("run_id", "layer_id"),
        _layer_fk("run_layers"),
        schema=S,
    )
    op.create_table(
        "unit_measure_uncertainty",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.SmallInteger, nullable=False),
        sa.Column("unit", sa.Integer, nullable=False),
        sa.Column("measure", sa.Text, nullable=False),
        sa.Column("estimate", F8),
        sa.Column("lo", F8),
        sa.Column("hi", F8),
        sa.Column("replicates", sa.Integer),
        sa.Column("class_stability", F8),
        sa.Column("class_lo", F8),
        sa.Column("class_hi", F8),
        sa.Column("method", sa.Text),
        sa.Column("bias", F8),
        sa.Column("direction", sa.Text),
        sa.Column("p", F8),
        sa.Column("q", F8),
        sa.Column("permutations", sa.Integer),
        *[sa.Column(name, F8) for name in NULL_SUMMARY],
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "measure"),
        _layer_fk("uncertainty_layers"),
        schema=S,
    )
    op.create_table(
        "layer_measure_null",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.SmallInteger, nullable=False),
        sa.Column("measure", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("null_values", sa.BigInteger, nullable=False),
        *[sa.Column(name, F8) for name in NULL_SUMMARY],
        sa.PrimaryKeyConstraint("run_id", "layer_id", "measure"),
        _layer_fk("uncertainty_layers"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("layer_measure_null", "unit_measure_uncertainty", "uncertainty_layers"):
        op.drop_table(table, schema=S)
