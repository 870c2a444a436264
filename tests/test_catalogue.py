"""The catalogue of measures against every consumer: functions, tables, COPY, views, reports.

A measure is added in one place (seldb.catalogue) plus its function; these
tests fail when any consumer disagrees, and one adds a toy measure to a fresh
database and follows it into the table, the view and a report.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from seldb import catalogue
from seldb.h5.reader import write_activation_file
from seldb.measures import compute_block, compute_concept_block
from seldb.measures import per_unit as unit_measures

KEY = ["run_id", "layer_id", "unit"]
# The columns views.md fixes for seldb.unit_measures and seldb.concept_measures, in order
SPEC_UNIT_MEASURES = [
    "n_images",
    "ccmas",
    "ccmas_class",
    "ccmas2",
    "ccmas2_class",
    "ccmas_morcos",
    "precision_60",
    "precision_60_class",
    "precision_100",
    "precision_100_class",
    "n_classes_top100",
    "localist_margin",
    "is_localist",
    "recall_p1",
    "recall_p1_class",
    "recall_p1_threshold",
    "recall_p95",
    "recall_p95_class",
    "recall_p95_threshold",
    "max_informedness",
    "mi_class",
    "mi_threshold",
    "mi_recall",
    "mi_specificity",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "mi_precision",
]
SPEC_CONCEPT_MEASURES = [
    "n_a",
    "n_not_a",
    "mean_a",
    "mean_not_a",
    "sem_a",
    "sem_not_a",
    "frac_nonzero_a",
    "frac_nonzero_not_a",
    "precision_60",
    "precision_100",
    "ccmas",
    "max_informedness",
    "mi_threshold",
    "mi_recall",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "recall_p1",
    "recall_p95",
]


@pytest.mark.unit
def test_the_catalogue_holds_views_md_s_measures():
    assert catalogue.names()[: len(SPEC_UNIT_MEASURES)] == SPEC_UNIT_MEASURES
    assert catalogue.names(catalogue.CONCEPT_MEASURES)[: len(SPEC_CONCEPT_MEASURES)] == SPEC_CONCEPT_MEASURES
    for measures in (catalogue.UNIT_MEASURES, catalogue.CONCEPT_MEASURES):
        names = [m.name for m in measures]
        assert len(names) == len(set(names))
        for m in measures:
            assert m.type in catalogue.SQL_TYPES and m.family in catalogue.FAMILIES and m.doc.strip(), m
            for column in (m.class_column, m.threshold_column):
                assert column is None or column in names, m


@pytest.mark.unit
def test_every_unit_measure_has_exactly_one_function():
    produced = [column for producer in unit_measures.PRODUCERS for column in producer.columns]
    assert sorted(produced) == sorted(catalogue.names())


@pytest.mark.unit
def test_block_results_have_the_catalogue_s_columns():
    rng = np.random.default_rng(0)
    values, labels = rng.random((50, 3)), rng.integers(0, 4, 50)
    assert compute_block(values, labels, 4).units.columns == ["unit", *catalogue.names()]
    concept = compute_concept_block(values, labels, 4, [1, 2])
    assert concept.columns == ["unit", *catalogue.names(catalogue.CONCEPT_MEASURES)]


def _columns(conn: sa.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in conn.execute(
            sa.text(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = :s AND table_name = :t"
                " ORDER BY ordinal_position"
            ),
            {"s": schema, "t": table},
        )
    ]


@pytest.mark.db
def test_tables_and_views_at_head_follow_the_catalogue(db_conn):
    stored = {"float8": "double precision", "int4": "integer", "bool": "boolean"}
    table = _columns(db_conn, "seldb_store", "unit_measures")
    assert table == [
        *zip(KEY, ["bigint", "smallint", "integer"]),
        *[(m.name, stored[m.stored_type]) for m in catalogue.UNIT_MEASURES],
    ]
    concept = _columns(db_conn, "seldb_store", "concept_measures")
    assert [c for c, _ in concept] == [*KEY, "concept_id", *catalogue.names(catalogue.CONCEPT_MEASURES)]
    view = _columns(db_conn, "seldb", "unit_measures")
    shown = [(m.name, catalogue.SQL_TYPES[m.type]) for m in catalogue.UNIT_MEASURES]
    assert view[6 : 6 + len(shown)] == shown  # after run_id, model, dataset, layer, unit, unit_label
    concept_view = [c for c, _ in _columns(db_conn, "seldb", "concept_measures")]
    assert concept_view[6 : 6 + len(catalogue.CONCEPT_MEASURES)] == catalogue.names(catalogue.CONCEPT_MEASURES)


@pytest.mark.db
def test_report_column_lists_are_view_columns(db_conn):
    """The hand-picked columns of the reports (brief tables, claims) exist in the views they read."""
    from seldb.demo import QUERY
    from seldb.reports import concept, detectors, top

    def view(name: str) -> set[str]:
        return {c for c, _ in _columns(db_conn, "seldb", name)}

    assert set(top.BRIEF) - {"rank"} <= view("unit_measures")
    assert set(top.DEFAULT_MEASURES) <= set(catalogue.rankable())
    assert set(detectors.CLAIM_COLUMNS) <= view("detector_claims")
    assert set(concept.BRIEF) <= view("concept_measures") and set(concept.columns()) <= view("concept_measures")
    assert set(catalogue.summarised()) | set(catalogue.rankable()) <= view("unit_measures")
    demo = db_conn.execute(sa.text(QUERY.format(run_id=-1)))  # the demo's query runs against the view
    assert list(demo.keys())[:3] == ["layer", "unit", "precision_60"]


TOY = catalogue.Measure(
    "toy_peak_mean", "float8", "ccmas", "The largest class mean (a toy measure for a test).", rank=True, summarise=True
)


def _toy_producer(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return classes.group_by("unit").agg(pl.col("mean").max().alias(TOY.name))


@pytest.mark.db
def test_a_toy_measure_reaches_the_table_the_view_and_a_report(fresh_database_url, monkeypatch, tmp_path):
    """Adding a measure = a catalogue entry, its function, and a revision that adds its column."""
    from support import import_file

    import seldb
    from seldb.db import views

    monkeypatch.setenv("SELDB_DATABASE_URL", fresh_database_url)
    with seldb.connect(fresh_database_url) as db:
        db.upgrade()  # the schema as it is today
        monkeypatch.setattr(catalogue, "UNIT_MEASURES", (*catalogue.UNIT_MEASURES, TOY))
        monkeypatch.setattr(
            unit_measures, "PRODUCERS", [*unit_measures.PRODUCERS, unit_measures.Producer((TOY.name,), _toy_producer)]
        )
        with db.connect_unchecked() as conn, conn.begin():  # what the measure's migration revision does
            conn.exec_driver_sql(f"ALTER TABLE seldb_store.unit_measures ADD COLUMN {TOY.name} double precision")
            execute = views.executor(conn)
            views.drop_views(execute)
            views.create_views(execute, views.column_lister(conn))
        rng = np.random.default_rng(11)
        labels = rng.integers(0, 3, 90)
        values = (rng.random((90, 4)) + np.eye(3)[labels][:, [0, 1, 2, 0]]).astype(np.float32)
        path = write_activation_file(
            tmp_path / "toy.h5", class_names=["a", "b", "c"], labels=labels, layers={"fc": values}
        )
        run_id = import_file(path).run_id
        stored = db.sql(f"SELECT unit, {TOY.name} FROM seldb.unit_measures WHERE run_id = :r ORDER BY unit", r=run_id)
        want = [max(values[labels == c, u].astype(np.float64).mean() for c in range(3)) for u in range(4)]
        assert np.allclose(stored[TOY.name].to_numpy(), want, rtol=1e-12)
        top = db.reports.top(run_id, [TOY.name], n=2).section(f"by_{TOY.name}").frame
        assert top["unit"].to_list() == list(np.argsort(want)[::-1][:2])
        summary = db.reports.layers(run_id, [TOY.name]).sections[0].frame.row(0, named=True)
        assert summary["measure"] == TOY.name and summary["max"] == pytest.approx(max(want), rel=1e-12)
