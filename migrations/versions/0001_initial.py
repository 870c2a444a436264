"""The storage tables in schema seldb_store.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Written out table by table (not metadata.create_all) so that this revision
keeps meaning the same tables after seldb/db/schema.py moves on; a test
checks that head matches schema.py. Beyond schema.py it adds two indexes for
the foreign keys that deleting a run or a concept follows, and lz4
compression for the per-unit arrays where the server supports it (faster to
decompress when the views unnest them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
F8 = postgresql.DOUBLE_PRECISION
TABLES_CHILDREN_FIRST = [
    "unit_precision_k",
    "unit_measures",
    "unit_arrays",
    "netdissect",
    "concept_measures",
    "run_layers",
    "run_images",
    "run_classes",
    "measure_correlations",
    "runs",
    "concepts",
]
ARRAY_COLUMNS = [
    "mean",
    "std",
    "min",
    "max",
    "ccmas",
    "mi",
    "mi_threshold",
    "n_nonzero",
    "n_zero",
    "hist_counts",
    "top_image",
    "top_activation",
]


def _run_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], [f"{S}.runs.run_id"], ondelete="CASCADE")


def _layer_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
    )


def _unit_key() -> list[sa.Column]:
    return [
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
    ]


def _f8(*names: str) -> list[sa.Column]:
    return [sa.Column(name, F8(), nullable=True) for name in names]


def _int(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=True) for name in names]


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA {S}")
    _create_run_tables()
    _create_run_detail_tables()
    _create_unit_tables()
    _create_concept_tables()
    op.create_index("ix_concept_measures_concept_id", "concept_measures", ["concept_id"], schema=S)
    op.create_index("ix_measure_correlations_run_id", "measure_correlations", ["run_id", "layer_id"], schema=S)
    _try_lz4()


def _create_run_tables() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("source_sha256", sa.Text(), nullable=True),
        sa.Column("n_images_total", sa.Integer(), nullable=False),
        sa.Column("n_images_analysed", sa.Integer(), nullable=False),
        sa.Column("only_correct", sa.Boolean(), nullable=False),
        sa.Column("n_dropped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bins", sa.Integer(), nullable=False),
        sa.Column("top_k", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("seldb_version", sa.Text(), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="complete", nullable=False),
        sa.Column("row_counts", postgresql.JSONB(), nullable=True),
        sa.Column("timings", postgresql.JSONB(), nullable=True),
        sa.Column("dropped_images", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
        schema=S,
    )
    op.create_index("ix_seldb_store_runs_fingerprint", "runs", ["fingerprint"], schema=S)


def _create_run_detail_tables() -> None:
    op.create_table(
        "run_classes",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("n_analysed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "class_index"),
        _run_fk(),
        schema=S,
    )
    op.create_table(
        "run_images",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("image_index", sa.Integer(), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("pred", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("analysed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "image_index"),
        _run_fk(),
        schema=S,
    )
    op.create_table(
        "run_layers",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        sa.Column("reduction", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "layer_id"),
        sa.UniqueConstraint("run_id", "name"),
        _run_fk(),
        schema=S,
    )


def _create_unit_tables() -> None:
    op.create_table(
        "unit_measures",
        *_unit_key(),
        *_int("n_images"),
        *_f8("ccmas"),
        *_int("ccmas_class"),
        *_f8("ccmas2"),
        *_int("ccmas2_class"),
        *_f8("ccmas_morcos"),
        *_f8("precision_60"),
        *_int("precision_60_class"),
        *_f8("precision_100"),
        *_int("precision_100_class"),
        *_int("n_classes_top100"),
        *_f8("localist_margin"),
        sa.Column("is_localist", sa.Boolean(), nullable=True),
        *_f8("recall_p1"),
        *_int("recall_p1_class"),
        *_f8("recall_p1_threshold"),
        *_f8("recall_p95"),
        *_int("recall_p95_class"),
        *_f8("recall_p95_threshold"),
        *_f8("max_informedness"),
        *_int("mi_class"),
        *_f8(
            "mi_threshold",
            "mi_recall",
            "mi_specificity",
            "mi_false_alarm_rate",
            "mi_false_discovery_rate",
            "mi_precision",
        ),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit"),
        _layer_fk(),
        schema=S,
    )
    op.create_table(
        "unit_precision_k",
        *_unit_key(),
        sa.Column("k", sa.Integer(), nullable=False),
        *_f8("precision"),
        *_int("class_index"),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "k"),
        _layer_fk(),
        schema=S,
    )
    f8_array, int_array = postgresql.ARRAY(F8()), postgresql.ARRAY(sa.Integer())
    op.create_table(
        "unit_arrays",
        *_unit_key(),
        *[sa.Column(name, f8_array, nullable=False) for name in ("mean", "std", "min", "max", "ccmas", "mi")],
        sa.Column("mi_threshold", f8_array, nullable=False),
        sa.Column("n_nonzero", int_array, nullable=False),
        sa.Column("n_zero", int_array, nullable=False),
        sa.Column("hist_lo", F8(), nullable=False),
        sa.Column("hist_width", F8(), nullable=False),
        sa.Column("n_bins", sa.Integer(), nullable=False),
        sa.Column("hist_counts", int_array, nullable=False),
        sa.Column("top_image", int_array, nullable=False),
        sa.Column("top_activation", f8_array, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit"),
        _layer_fk(),
        schema=S,
    )


def _create_concept_tables() -> None:
    op.create_table(
        "concepts",
        sa.Column("concept_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("classes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("concept_id"),
        sa.UniqueConstraint("name"),
        schema=S,
    )
    op.create_table(
        "concept_measures",
        *_unit_key(),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        *_int("n_a", "n_not_a"),
        *_f8("mean_a", "mean_not_a", "sem_a", "sem_not_a", "frac_nonzero_a", "frac_nonzero_not_a"),
        *_f8("precision_60", "precision_100", "ccmas", "max_informedness", "mi_threshold", "mi_recall"),
        *_f8("mi_false_alarm_rate", "mi_false_discovery_rate", "recall_p1", "recall_p95"),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "concept_id"),
        _layer_fk(),
        sa.ForeignKeyConstraint(["concept_id"], [f"{S}.concepts.concept_id"], ondelete="CASCADE"),
        schema=S,
    )
    op.create_table(
        "measure_correlations",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=True),  # NULL = all layers together
        sa.Column("measure_a", sa.Text(), nullable=False),
        sa.Column("measure_b", sa.Text(), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        *_f8("pearson_r", "pearson_p", "spearman_rho", "spearman_p"),
        _run_fk(),
        schema=S,
    )
    op.create_table(
        "netdissect",
        *_unit_key(),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        *_f8("score", "iou"),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "label"),
        _layer_fk(),
        schema=S,
    )


def _try_lz4() -> None:
    """lz4 decompresses several times faster than pglz; servers built without it keep pglz."""
    alters = f"ALTER TABLE {S}.unit_arrays " + ", ".join(
        f"ALTER COLUMN {name} SET COMPRESSION lz4" for name in ARRAY_COLUMNS
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE '{alters}';
        EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error THEN
            RAISE NOTICE 'lz4 compression unavailable (%), keeping the default', SQLERRM;
        END
        $$
        """
    )


def downgrade() -> None:
    for table in TABLES_CHILDREN_FIRST:
        op.drop_table(table, schema=S)
    op.execute(f"DROP SCHEMA {S}")
