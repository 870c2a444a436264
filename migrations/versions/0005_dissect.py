"""Network Dissection computed by seldb (issue 12).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- dissections: one record per dissected (run, layer): the Broden-format
  dataset (path and fingerprint), categories, quantile, images, preprocessing,
  the module dissected and each unit's threshold.
- dissection_labels: the dataset's labels (primary category, pixel count).
- dissection_iou: every (unit, label)'s intersection, activation and IoU,
  loaded by binary COPY.
- netdissect gains `source` ('imported' for every existing row, 'computed'
  for rows `seldb dissect` writes) and the computed rows' dissection_id.

Tables only: the views of this release are created by revision 0009, last.
The downgrade deletes the computed netdissect rows with their dissections
(nothing would say where they came from); imported tallies stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
F8 = postgresql.DOUBLE_PRECISION


def _dissection_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["dissection_id"], [f"{S}.dissections.dissection_id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "dissections",
        sa.Column("dissection_id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("dataset_fingerprint", sa.Text(), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("quantile", F8(), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("preprocess", sa.Text(), nullable=False),
        sa.Column("module", sa.Text(), nullable=False),
        sa.Column("thresholds", postgresql.ARRAY(F8()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("run_id", "layer_id"),
        sa.ForeignKeyConstraint(
            ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
        ),
        schema=S,
    )
    op.create_table(
        "dissection_labels",
        sa.Column("dissection_id", sa.BigInteger(), nullable=False),
        sa.Column("label_number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("truth", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dissection_id", "label_number"),
        _dissection_fk(),
        schema=S,
    )
    op.create_table(
        "dissection_iou",
        sa.Column("dissection_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("label_number", sa.Integer(), nullable=False),
        sa.Column("iou", F8(), nullable=False),
        sa.Column("intersection", sa.BigInteger(), nullable=False),
        sa.Column("activation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dissection_id", "unit", "label_number"),
        _dissection_fk(),
        schema=S,
    )
    op.add_column("netdissect", sa.Column("source", sa.Text(), server_default="imported", nullable=False), schema=S)
    op.add_column("netdissect", sa.Column("dissection_id", sa.BigInteger(), nullable=True), schema=S)
    op.create_check_constraint("netdissect_source", "netdissect", "source IN ('computed', 'imported')", schema=S)
    op.create_foreign_key(
        "netdissect_dissection_id_fkey",
        "netdissect",
        "dissections",
        ["dissection_id"],
        ["dissection_id"],
        source_schema=S,
        referent_schema=S,
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM {S}.netdissect WHERE source = 'computed'")
    op.drop_constraint("netdissect_dissection_id_fkey", "netdissect", schema=S, type_="foreignkey")
    op.drop_constraint("netdissect_source", "netdissect", schema=S, type_="check")
    op.drop_column("netdissect", "dissection_id", schema=S)
    op.drop_column("netdissect", "source", schema=S)
    op.drop_table("dissection_iou", schema=S)
    op.drop_table("dissection_labels", schema=S)
    op.drop_table("dissections", schema=S)
