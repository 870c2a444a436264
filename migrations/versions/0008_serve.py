"""Tables of `seldb serve`: the rating study (issue 14).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

A rating study is one blinded rating sheet (`seldb am sheet`) registered with
`seldb study add KEY.json`, so that raters can answer it in the browser at
/rate/<name>: seldb_store.rating_studies holds one row per study (its name,
run, the sheet id and seed of key.json), seldb_store.rating_study_items one
row per item of the sheet (its number, its place in the sheet's order, the
unit it stands for, and the AM images shown with their sha256). Answers are
stored in seldb_store.am_ratings, the table `seldb import ratings` fills.

Tables only: the views of this release are created by revision 0009, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"


def upgrade() -> None:
    op.create_table(
        "rating_studies",
        sa.Column("study_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("sheet", sa.Text, nullable=False),
        sa.Column("seed", sa.BigInteger),
        sa.Column("key_path", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("sheet"),
        sa.CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'", name="rating_studies_name"),
        sa.ForeignKeyConstraint(["run_id"], [f"{S}.runs.run_id"], ondelete="CASCADE"),
        schema=S,
    )
    op.create_table(
        "rating_study_items",
        sa.Column("study_id", sa.BigInteger, nullable=False),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("layer_id", sa.SmallInteger, nullable=False),
        sa.Column("unit", sa.Integer, nullable=False),
        sa.Column("images", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("sha256", postgresql.ARRAY(sa.Text), nullable=False),
        sa.PrimaryKeyConstraint("study_id", "item"),
        sa.UniqueConstraint("study_id", "position"),
        sa.UniqueConstraint("study_id", "layer_id", "unit"),
        sa.ForeignKeyConstraint(["study_id"], [f"{S}.rating_studies.study_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("rating_study_items", schema=S)
    op.drop_table("rating_studies", schema=S)
