"""The tables behind the views, as SQLAlchemy Core metadata.

Tables live in schema `seldb_store` and are seldb's own business: they may
change with a migration. The public interface is the views in schema `seldb`
(sql/*.sql, spec: views.md). Per-(unit, class) numbers are stored as one row
per unit holding arrays indexed by class (and, for histograms, by class-major
bin), because a row per (unit, class) or per bin is what makes loading an
AlexNet-scale run slow; the views unnest them back into rows.

Inside those arrays NaN stands for NULL (no analysed image of the class), so
that every array has a fixed width and can be encoded for binary COPY with
numpy in one pass; the views turn NaN back into NULL.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB

from seldb import catalogue

STORE = "seldb_store"
VIEWS = "seldb"

metadata = MetaData(schema=STORE)
F8 = DOUBLE_PRECISION


def _run_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["run_id"], [f"{STORE}.runs.run_id"], ondelete="CASCADE")


def _layer_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["run_id", "layer_id"], [f"{STORE}.run_layers.run_id", f"{STORE}.run_layers.layer_id"], ondelete="CASCADE"
    )


runs = Table(
    "runs",
    metadata,
    Column("run_id", BigInteger, Identity(), primary_key=True),
    Column("model", Text, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source_file", Text),
    Column("source_sha256", Text),
    Column("n_images_total", Integer, nullable=False),
    Column("n_images_analysed", Integer, nullable=False),
    Column("only_correct", Boolean, nullable=False),
    Column("n_dropped", Integer, nullable=False, server_default="0"),
    Column("bins", Integer, nullable=False),
    Column("top_k", ARRAY(Integer), nullable=False),
    Column("seldb_version", Text, nullable=False),
    Column("options", JSONB, nullable=False),
    Column("fingerprint", Text, nullable=False, index=True),
    Column("status", Text, nullable=False, server_default="complete"),
    Column("row_counts", JSONB),
    Column("timings", JSONB),
    Column("dropped_images", JSONB),
)

run_classes = Table(
    "run_classes",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("class_index", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("key", Text),
    Column("label", Text, nullable=False),  # name made unique within the run
    Column("n_analysed", Integer, nullable=False),
    PrimaryKeyConstraint("run_id", "class_index"),
    _run_fk(),
)

run_images = Table(
    "run_images",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("image_index", Integer, nullable=False),
    Column("label", Integer, nullable=False),
    Column("pred", Integer),
    Column("path", Text),
    Column("analysed", Boolean, nullable=False),
    PrimaryKeyConstraint("run_id", "image_index"),
    _run_fk(),
)

run_layers = Table(
    "run_layers",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("n_units", Integer, nullable=False),
    Column("reduction", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "layer_id"),
    UniqueConstraint("run_id", "name"),
    _run_fk(),
)

_COLUMN_TYPES = {"float8": F8, "int4": Integer, "bool": Boolean}
SUMMARY_FLOAT_COLUMNS = ("mean_of_means", "sd_of_means", "max_of_means", "mean_frac_nonzero", "max_class_informedness")
SUMMARY_COUNT_COLUMNS = ("n_ccmas_class", "n_precision_60_class", "n_mi_class", "n_claimed")


def measure_columns(measures: tuple[catalogue.Measure, ...]) -> list[Column]:
    """Storage columns of catalogue measures (a class is stored as its index)."""
    return [Column(m.name, _COLUMN_TYPES[m.stored_type]) for m in measures]


unit_measures = Table(
    "unit_measures",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    *measure_columns(catalogue.UNIT_MEASURES),
    PrimaryKeyConstraint("run_id", "layer_id", "unit"),
    _layer_fk(),
)

unit_precision_k = Table(
    "unit_precision_k",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("k", Integer, nullable=False),
    Column("precision", F8),
    Column("class_index", Integer),
    PrimaryKeyConstraint("run_id", "layer_id", "unit", "k"),
    _layer_fk(),
)

# One row per unit; every array is indexed by class_index (0-based in seldb,
# 1-based in SQL), hist_counts is class-major: class c's bins are elements
# c*n_bins+1 .. (c+1)*n_bins. NaN means NULL.
UNIT_ARRAY_COLUMNS: list[tuple[str, str]] = [
    ("mean", "float8"),
    ("std", "float8"),
    ("min", "float8"),
    ("max", "float8"),
    ("ccmas", "float8"),
    ("mi", "float8"),
    ("mi_threshold", "float8"),
    ("n_nonzero", "int4"),
    ("n_zero", "int4"),
]

unit_arrays = Table(
    "unit_arrays",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    *[Column(name, ARRAY(F8 if kind == "float8" else Integer), nullable=False) for name, kind in UNIT_ARRAY_COLUMNS],
    Column("hist_lo", F8, nullable=False),
    Column("hist_width", F8, nullable=False),
    Column("n_bins", Integer, nullable=False),
    Column("hist_counts", ARRAY(Integer), nullable=False),
    Column("top_image", ARRAY(Integer), nullable=False),
    Column("top_activation", ARRAY(F8), nullable=False),
    PrimaryKeyConstraint("run_id", "layer_id", "unit"),
    _layer_fk(),
)

concepts = Table(
    "concepts",
    metadata,
    Column("concept_id", Integer, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("classes", ARRAY(Text), nullable=False),  # class keys (or names when a class has no key)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

concept_measures = Table(
    "concept_measures",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("concept_id", Integer, nullable=False),
    *measure_columns(catalogue.CONCEPT_MEASURES),
    PrimaryKeyConstraint("run_id", "layer_id", "unit", "concept_id"),
    _layer_fk(),
    ForeignKeyConstraint(["concept_id"], [f"{STORE}.concepts.concept_id"], ondelete="CASCADE"),
)

# Computed at import (scipy) because PostgreSQL has no t distribution for p-values; with and
# without the dead units (includes_dead).
measure_correlations = Table(
    "measure_correlations",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger),  # NULL = all layers together
    Column("measure_a", Text, nullable=False),
    Column("measure_b", Text, nullable=False),
    Column("n_units", Integer, nullable=False),
    Column("pearson_r", F8),
    Column("pearson_p", F8),
    Column("spearman_rho", F8),
    Column("spearman_p", F8),
    Column("includes_dead", Boolean, nullable=False, server_default="true"),
    _run_fk(),
)

# Per (run, layer, class), over the layer's live units, computed at import (seldb/summaries.py)
# so that whole-run aggregates a BI tool asks for are instant (revision 0004).
layer_class_summary = Table(
    "layer_class_summary",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("class_index", Integer, nullable=False),
    Column("n_units", Integer, nullable=False),
    Column("n_live_units", Integer, nullable=False),
    *[Column(name, F8) for name in SUMMARY_FLOAT_COLUMNS],
    *[Column(name, Integer, nullable=False) for name in SUMMARY_COUNT_COLUMNS],
    Column("n_zero", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "layer_id", "class_index"),
    _layer_fk(),
)

# Network Dissection computed by seldb (`seldb dissect`, revision 0005): one record per dissected
# (run, layer), with each unit's threshold indexed by unit (1-based in SQL); the labels of its
# dataset with their pixel counts; and every (unit, label)'s counts and IoU (the union is
# activation + truth - intersection). A layer is dissected once: dissecting it again replaces it.
dissections = Table(
    "dissections",
    metadata,
    Column("dissection_id", BigInteger, Identity(), primary_key=True),
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("dataset_fingerprint", Text, nullable=False),
    Column("categories", ARRAY(Text), nullable=False),
    Column("quantile", F8, nullable=False),
    Column("n_images", Integer, nullable=False),
    Column("preprocess", Text, nullable=False),
    Column("module", Text, nullable=False),
    Column("thresholds", ARRAY(F8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # union / upsample / threshold rules (seldb.dissect.rules); NetDissect-Lite's for older rows
    Column(
        "rules",
        JSONB,
        nullable=False,
        server_default=text('\'{"union": "lite", "upsample": "bilinear", "threshold": "exact"}\'::jsonb'),
    ),
    UniqueConstraint("run_id", "layer_id"),
    _layer_fk(),
)


def _dissection_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["dissection_id"], [f"{STORE}.dissections.dissection_id"], ondelete="CASCADE")


dissection_labels = Table(
    "dissection_labels",
    metadata,
    Column("dissection_id", BigInteger, nullable=False),
    Column("label_number", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),  # the label's primary category
    Column("truth", BigInteger, nullable=False),
    PrimaryKeyConstraint("dissection_id", "label_number"),
    _dissection_fk(),
)

dissection_iou = Table(
    "dissection_iou",
    metadata,
    Column("dissection_id", BigInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("label_number", Integer, nullable=False),
    Column("iou", F8, nullable=False),
    Column("intersection", BigInteger, nullable=False),
    Column("activation", BigInteger, nullable=False),
    PrimaryKeyConstraint("dissection_id", "unit", "label_number"),
    _dissection_fk(),
)

# Network Dissection labels per unit: the top label and each category's best, imported from a
# tally.csv (source 'imported') or computed by `seldb dissect` (source 'computed', with its
# dissection_id); the concept view joins `iou` by label.
netdissect = Table(
    "netdissect",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("category", Text),
    Column("label", Text, nullable=False),
    Column("score", F8),
    Column("iou", F8),
    Column("source", Text, nullable=False, server_default="imported"),
    Column("dissection_id", BigInteger),
    PrimaryKeyConstraint("run_id", "layer_id", "unit", "label"),
    CheckConstraint("source IN ('computed', 'imported')", name="netdissect_source"),
    _layer_fk(),
    _dissection_fk(),
)

# Human ratings of activation-maximisation images (`seldb import ratings`, revision 0003): one row
# per (unit, rater); label_key is the label as compared (lower case, synonyms mapped).
am_ratings = Table(
    "am_ratings",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("rater", Text, nullable=False),
    Column("judged_object", Boolean, nullable=False),
    Column("label", Text),
    Column("label_key", Text),
    PrimaryKeyConstraint("run_id", "layer_id", "unit", "rater"),
    _layer_fk(),
)

# Activation-maximisation images (`seldb am`, revision 0006): one row per image. The primary key is
# the reuse key: the same unit with the same options is made once (`--force` replaces row and file).
# activation_* are what the PNG does to the unit at the layer's recorded output, reference_* what the
# dataset's mean image does; settings holds every option that decided the bytes (threads, torch, ...).
# Revision 0012 adds objective_kind (channel | centre), samples, diversity and generator to the key.
AM_IMAGE_KEY = (
    "run_id",
    "layer_id",
    "unit",
    "method",
    "seed",
    "steps",
    "size",
    "pre_relu",
    "lr",
    "objective_kind",
    "samples",
    "diversity",
    "generator",
)
am_images = Table(
    "am_images",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("pre_relu", Boolean, nullable=False),
    Column("lr", F8, nullable=False),
    Column("activation_mean", F8, nullable=False),
    Column("activation_max", F8, nullable=False),
    Column("objective", F8, nullable=False),
    Column("reference_mean", F8),
    Column("reference_max", F8),
    Column("reference_n_images", Integer),
    Column("path", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("seconds", F8, nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("objective_kind", Text, nullable=False, server_default="channel"),
    Column("samples", Integer, nullable=False, server_default="1"),
    Column("diversity", F8, nullable=False, server_default="0"),
    Column("generator", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint(*AM_IMAGE_KEY),
    _layer_fk(),
)


# Bootstrap intervals and chance baselines (`seldb uncertainty`, revision 0007): which layers of a
# run have them and with which settings; computing a layer again replaces its rows (the
# foreign keys cascade from uncertainty_layers).
uncertainty_layers = Table(
    "uncertainty_layers",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("bootstrap", Integer, nullable=False),
    Column("permutations", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("level", F8, nullable=False),
    Column("engine", Text, nullable=False),
    Column("seldb_version", Text, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("seconds", F8),
    Column("permutation_seed", BigInteger),  # NULL: no permutations (revision 0015)
    PrimaryKeyConstraint("run_id", "layer_id"),
    _layer_fk(),
)


def _uncertainty_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["run_id", "layer_id"],
        [f"{STORE}.uncertainty_layers.run_id", f"{STORE}.uncertainty_layers.layer_id"],
        ondelete="CASCADE",
    )


NULL_SUMMARY_COLUMNS = ("null_mean", "null_p01", "null_p05", "null_p95", "null_p99")
# One row per (unit, measure): the bootstrap interval (NULL without bootstrap) and the chance
# baseline (NULL without permutations) of one scalar measure.
unit_measure_uncertainty = Table(
    "unit_measure_uncertainty",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("measure", Text, nullable=False),
    Column("estimate", F8),
    Column("lo", F8),
    Column("hi", F8),
    Column("replicates", Integer),
    Column("class_stability", F8),
    Column("class_lo", F8),
    Column("class_hi", F8),
    Column("method", Text),
    Column("bias", F8),
    Column("direction", Text),
    Column("p", F8),
    Column("q", F8),
    Column("permutations", Integer),
    *[Column(name, F8) for name in NULL_SUMMARY_COLUMNS],
    Column("valid", Boolean),  # the interval's validity flag and why not (revision 0015)
    Column("reason", Text),
    PrimaryKeyConstraint("run_id", "layer_id", "unit", "measure"),
    _uncertainty_fk(),
)

# One row per (layer, measure): the null distribution pooled over the layer's units and permutations.
layer_measure_null = Table(
    "layer_measure_null",
    metadata,
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("measure", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("null_values", BigInteger, nullable=False),
    *[Column(name, F8) for name in NULL_SUMMARY_COLUMNS],
    PrimaryKeyConstraint("run_id", "layer_id", "measure"),
    _uncertainty_fk(),
)

# Rating studies (`seldb study add`, revision 0008): a blinded rating sheet (`seldb am sheet`)
# registered so that `seldb serve` asks raters its items at /rate/<name>. One row per study (name,
# run, the sheet id and seed of key.json) and one per item (its number on the sheet, its place in
# the sheet's order, the unit it stands for, and the AM images shown with their sha256). The
# answers go to am_ratings, like those of `seldb import ratings`.
STUDY_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
rating_studies = Table(
    "rating_studies",
    metadata,
    Column("study_id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("sheet", Text, nullable=False),
    Column("seed", BigInteger),
    Column("key_path", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("name"),
    UniqueConstraint("sheet"),
    CheckConstraint(f"name ~ '{STUDY_NAME_PATTERN}'", name="rating_studies_name"),
    _run_fk(),
)

rating_study_items = Table(
    "rating_study_items",
    metadata,
    Column("study_id", BigInteger, nullable=False),
    Column("item", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("layer_id", SmallInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    Column("images", ARRAY(Text), nullable=False),
    Column("sha256", ARRAY(Text), nullable=False),
    PrimaryKeyConstraint("study_id", "item"),
    UniqueConstraint("study_id", "position"),
    UniqueConstraint("study_id", "layer_id", "unit"),
    ForeignKeyConstraint(["study_id"], [f"{STORE}.rating_studies.study_id"], ondelete="CASCADE"),
    _layer_fk(),
)
