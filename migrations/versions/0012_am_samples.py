"""AM toward PPGN: the objective (channel or centre), diverse samples and a generator prior in the reuse key.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

seldb_store.am_images gains the options that now decide an image, each with
the value every existing row was made with, and the primary key (the reuse
key) takes them in: objective_kind ('channel': the unit's spatial mean, or
'centre': the centre neuron, image cropped to its receptive field),
samples (how many samples of the unit were optimised together: their
diversity term ties them), diversity (that term's weight; 0 for one sample)
and generator ('' for the Fourier image, else the MODULE:FN of a generator
prior). Tables only: revision 0020 rebuilds the views.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
OLD_KEY = ["run_id", "layer_id", "unit", "method", "seed", "steps", "size", "pre_relu", "lr"]
NEW_COLUMNS = ["objective_kind", "samples", "diversity", "generator"]


def upgrade() -> None:
    op.add_column("am_images", sa.Column("objective_kind", sa.Text, nullable=False, server_default="channel"), schema=S)
    op.add_column("am_images", sa.Column("samples", sa.Integer, nullable=False, server_default="1"), schema=S)
    op.add_column(
        "am_images", sa.Column("diversity", postgresql.DOUBLE_PRECISION, nullable=False, server_default="0"), schema=S
    )
    op.add_column("am_images", sa.Column("generator", sa.Text, nullable=False, server_default=""), schema=S)
    op.drop_constraint("am_images_pkey", "am_images", schema=S, type_="primary")
    op.create_primary_key("am_images_pkey", "am_images", OLD_KEY + NEW_COLUMNS, schema=S)


def downgrade() -> None:
    # rows that differ only in the new options would collide under the old key: keep the plain ones
    op.execute(f"DELETE FROM {S}.am_images WHERE objective_kind <> 'channel' OR samples <> 1 OR generator <> ''")
    op.drop_constraint("am_images_pkey", "am_images", schema=S, type_="primary")
    op.create_primary_key("am_images_pkey", "am_images", OLD_KEY, schema=S)
    for column in reversed(NEW_COLUMNS):
        op.drop_column("am_images", column, schema=S)
