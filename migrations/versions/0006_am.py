"""Activation maximisation images (issue 13).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

seldb_store.am_images: one row per AM image `seldb am` generated, keyed by
run, layer, unit and the options that decide the image (method, seed, steps,
size, pre_relu, learning rate), so that a rerun with the same options reuses
the row and `--force` replaces it. The view seldb.am_images reads it.

Tables only: the views of this release are created by revision 0009, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
F8 = postgresql.DOUBLE_PRECISION


def upgrade() -> None:
    op.create_table(
        "am_images",
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.SmallInteger, nullable=False),
        sa.Column("unit", sa.Integer, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("pre_relu", sa.Boolean, nullable=False),
        sa.Column("lr", F8, nullable=False),
        sa.Column("activation_mean", F8, nullable=False),
        sa.Column("activation_max", F8, nullable=False),
        sa.Column("objective", F8, nullable=False),
        sa.Column("reference_mean", F8),
        sa.Column("reference_max", F8),
        sa.Column("reference_n_images", sa.Integer),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("seconds", F8, nullable=False),
        sa.Column("settings", postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "method", "seed", "steps", "size", "pre_relu", "lr"),
        sa.ForeignKeyConstraint(
            ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("am_images", schema=S)
