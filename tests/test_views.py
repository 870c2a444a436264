"""The views on a tiny hand-made run inserted straight into seldb_store.

3 classes, two of them sharing the name "crane", NaN inside the arrays: what
the views unnest and slice is compared with values worked out by hand; the
views carry the columns of views.md, in order.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.views import VIEW_NAMES

NAN = float("nan")


# --------------------------------------------------------------------------- a tiny hand-made run

CLASSES = [  # name, key, label (made unique by the loader), n_analysed
    ("crane", "n02012849", "crane (n02012849)", 2),
    ("crane", "n03126707", "crane (n03126707)", 3),
    ("dog", "n02084071", "dog", 0),
]
IMAGES = [  # label, path
    (0, "a/0.jpg"),
    (0, "a/1.jpg"),
    (1, None),
    (1, "a/3.jpg"),
    (1, "a/4.jpg"),
    (2, "a/5.jpg"),
]
LAYERS = [(0, "conv1", 2, "max"), (1, "fc", 1, "none")]
MEASURES = {  # (layer_id, unit) -> unit_measures columns; class columns are class indexes
    (0, 0): dict(
        n_images=5,
        ccmas=0.5,
        ccmas_class=1,
        ccmas2=0.2,
        ccmas2_class=0,
        ccmas_morcos=0.6,
        precision_60=0.8,
        precision_60_class=1,
        precision_100=0.6,
        precision_100_class=1,
        n_classes_top100=2,
        localist_margin=0.1,
        is_localist=True,
        recall_p1=1.0,
        recall_p1_class=1,
        recall_p1_threshold=1.5,
        recall_p95=1.0,
        recall_p95_class=1,
        recall_p95_threshold=1.5,
        max_informedness=0.9,
        mi_class=1,
        mi_threshold=1.5,
        mi_recall=1.0,
        mi_specificity=0.9,
        mi_false_alarm_rate=0.1,
        mi_false_discovery_rate=0.6,
        mi_precision=0.4,
    ),
    (0, 1): dict(
        n_images=5,
        ccmas=0.1,
        ccmas_class=0,
        ccmas2=NAN,
        ccmas2_class=None,
        ccmas_morcos=NAN,
        precision_60=0.9,
        precision_60_class=0,
        precision_100=0.5,
        precision_100_class=0,
        n_classes_top100=1,
        localist_margin=None,
        is_localist=None,
        recall_p1=0.0,
        recall_p1_class=None,
        max_informedness=0.3,
        mi_class=1,
        mi_threshold=0.7,
        mi_recall=0.5,
        mi_false_alarm_rate=0.2,
        mi_false_discovery_rate=0.2,
    ),
    (1, 0): dict(n_images=5, ccmas=None, precision_60=0.5, precision_60_class=2, max_informedness=0.0),
}
ARRAYS = {  # (layer_id, unit) -> unit_arrays columns (index = class_index, NaN = NULL)
    (0, 0): dict(
        mean=[1.0, 2.0, NAN],
        std=[0.5, 1.0, NAN],
        min=[0.5, 1.0, NAN],
        max=[1.5, 3.0, NAN],
        ccmas=[-0.2, 0.5, NAN],
        mi=[0.1, 0.9, NAN],
        mi_threshold=[1.5, 1.5, NAN],
        n_nonzero=[2, 2, 0],
        n_zero=[0, 1, 0],
        hist_lo=0.0,
        hist_width=1.5,
        n_bins=2,
        hist_counts=[2, 0, 1, 2, 0, 0],
        top_image=[3, 4, 0, -1],
        top_activation=[3.0, 2.5, 1.5, NAN],
    ),
    (0, 1): dict(
        mean=[0.0, 1.0, NAN],
        std=[0.0, NAN, NAN],
        min=[0.0, 1.0, NAN],
        max=[0.0, 1.0, NAN],
        ccmas=[-1.0, 1.0, NAN],
        mi=[0.0, 0.3, NAN],
        mi_threshold=[0.0, 0.7, NAN],
        n_nonzero=[0, 3, 0],
        n_zero=[2, 0, 0],
        hist_lo=0.0,
        hist_width=0.5,
        n_bins=2,
        hist_counts=[0, 2, 3, 0, 0, 0],
        top_image=[2, -1, -1, -1],
        top_activation=[1.0, NAN, NAN, NAN],
    ),
    (1, 0): dict(
        mean=[0.0, 0.0, NAN],
        std=[0.0, 0.0, NAN],
        min=[0.0, 0.0, NAN],
        max=[0.0, 0.0, NAN],
        ccmas=[NAN, NAN, NAN],
        mi=[0.0, 0.0, NAN],
        mi_threshold=[0.0, 0.0, NAN],
        n_nonzero=[0, 0, 0],
        n_zero=[2, 3, 0],
        hist_lo=0.0,
        hist_width=0.0,
        n_bins=1,
        hist_counts=[2, 3, 0],
        top_image=[0, 1, 2, 3],
        top_activation=[0.0, 0.0, 0.0, 0.0],
    ),
}


def _insert_run(conn: sa.Connection, status: str) -> int:
    run_id = conn.execute(
        s.runs.insert().returning(s.runs.c.run_id),
        dict(
            model="tinynet",
            dataset="tiny3",
            n_images_total=6,
            n_images_analysed=5,
            only_correct=True,
            bins=2,
            top_k=[60, 100, 10],
            seldb_version="test",
            options={"reduction": "max"},
            fingerprint=f"fp-{status}",
            status=status,
        ),
    ).scalar_one()
    conn.execute(
        s.run_classes.insert(),
        [
            dict(run_id=run_id, class_index=i, name=n, key=k, label=lab, n_analysed=c)
            for i, (n, k, lab, c) in enumerate(CLASSES)
        ],
    )
    conn.execute(
        s.run_images.insert(),
        [
            dict(run_id=run_id, image_index=i, label=lab, pred=lab, path=p, analysed=i < 5)
            for i, (lab, p) in enumerate(IMAGES)
        ],
    )
    conn.execute(
        s.run_layers.insert(),
        [dict(run_id=run_id, layer_id=i, name=n, n_units=u, reduction=r) for i, n, u, r in LAYERS],
    )
    for (layer_id, unit), values in MEASURES.items():
        conn.execute(s.unit_measures.insert(), dict(run_id=run_id, layer_id=layer_id, unit=unit, **values))
    for (layer_id, unit), values in ARRAYS.items():
        conn.execute(s.unit_arrays.insert(), dict(run_id=run_id, layer_id=layer_id, unit=unit, **values))
    return run_id


def _insert_extras(conn: sa.Connection, run_id: int) -> None:
    """Precision at k, correlations, a concept and a Network Dissection tally."""
    conn.execute(
        s.unit_precision_k.insert(),
        [
            dict(run_id=run_id, layer_id=0, unit=0, k=10, precision=0.7, class_index=1),
            dict(run_id=run_id, layer_id=0, unit=1, k=10, precision=NAN, class_index=None),
        ],
    )
    conn.execute(
        s.measure_correlations.insert(),
        [
            dict(
                run_id=run_id,
                layer_id=None,
                measure_a="ccmas",
                measure_b="precision_60",
                n_units=2,
                pearson_r=-1.0,
                pearson_p=NAN,
                spearman_rho=-1.0,
                spearman_p=NAN,
            ),
            dict(
                run_id=run_id,
                layer_id=0,
                measure_a="ccmas",
                measure_b="precision_60",
                n_units=2,
                pearson_r=-1.0,
                pearson_p=None,
                spearman_rho=-1.0,
                spearman_p=None,
            ),
        ],
    )
    concept_id = conn.execute(
        s.concepts.insert().returning(s.concepts.c.concept_id),
        dict(name="Crane", classes=["n02012849", "n03126707"]),
    ).scalar_one()
    for row in [  # one statement per row: the rows fill different columns
        dict(
            run_id=run_id,
            layer_id=0,
            unit=0,
            concept_id=concept_id,
            n_a=5,
            n_not_a=0,
            mean_a=1.6,
            mean_not_a=NAN,
            sem_a=0.2,
            precision_60=1.0,
            max_informedness=0.0,
        ),
        dict(run_id=run_id, layer_id=0, unit=1, concept_id=concept_id, n_a=5, n_not_a=0, mean_a=0.6),
    ]:
        conn.execute(s.concept_measures.insert(), row)
    conn.execute(
        s.netdissect.insert(),
        [
            dict(run_id=run_id, layer_id=0, unit=0, category="object", label="crane", score=0.1, iou=0.12),
            dict(run_id=run_id, layer_id=0, unit=0, category="scene", label="sky", score=0.3, iou=0.3),
        ],
    )


@pytest.fixture
def tiny(db_conn):
    """The hand-made run and a bare second run, visible to db_conn only."""
    run_id = _insert_run(db_conn, "complete")
    other_id = _insert_run(db_conn, "complete")
    _insert_extras(db_conn, run_id)
    return db_conn, run_id, other_id


def _rows(conn: sa.Connection, sql: str, **params) -> list[dict]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _same(got, wanted) -> bool:
    if isinstance(wanted, float) and isinstance(got, float):
        return math.isclose(got, wanted, rel_tol=1e-12, abs_tol=1e-15)
    return got == wanted


def _assert_rows(got: list[dict], wanted: list[dict]) -> None:
    assert len(got) == len(wanted), got
    for g, w in zip(got, wanted):
        bad = {k: (g[k], v) for k, v in w.items() if not _same(g[k], v)}
        assert not bad, f"{bad} in {g}"


# --------------------------------------------------------------------------- views


@pytest.mark.db
def test_runs_lists_every_run_and_the_views_keep_runs_apart(tiny):
    conn, run_id, other_id = tiny
    runs = _rows(
        conn,
        "SELECT run_id, status, top_k, options FROM seldb.runs WHERE run_id IN (:a, :b) ORDER BY run_id",
        a=run_id,
        b=other_id,
    )
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "complete"), (other_id, "complete")]
    assert runs[0]["top_k"] == [60, 100, 10] and runs[0]["options"] == {"reduction": "max"}
    for view in ("concept_measures", "netdissect", "unit_precision_k", "measure_correlations_with_dead"):
        assert _rows(conn, f"SELECT 1 FROM seldb.{view} WHERE run_id = :r", r=run_id), view
        assert not _rows(conn, f"SELECT 1 FROM seldb.{view} WHERE run_id = :r", r=other_id), view


@pytest.mark.db
def test_layers(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.layers WHERE run_id = :r ORDER BY layer", r=run_id)
    assert got == [  # no unit of the hand-made run is marked dead
        dict(run_id=run_id, layer="conv1", n_units=2, reduction="max", layer_index=0, n_dead_units=0),
        dict(run_id=run_id, layer="fc", n_units=1, reduction="none", layer_index=1, n_dead_units=0),
    ]


@pytest.mark.db
def test_unit_measures_show_class_labels_and_null_for_nan(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY unit_label", r=run_id)
    assert [r["unit_label"] for r in got] == ["conv1.0", "conv1.1", "fc.0"]
    first, second, fc = got
    assert (first["model"], first["dataset"], first["layer"], first["unit"]) == ("tinynet", "tiny3", "conv1", 0)
    assert first["ccmas_class"] == first["precision_60_class"] == first["mi_class"] == "crane (n03126707)"
    assert first["ccmas2_class"] == "crane (n02012849)" and first["is_localist"] is True
    assert second["ccmas2"] is None and second["ccmas2_class"] is None and second["ccmas_morcos"] is None
    assert second["recall_p1"] == 0.0 and second["recall_p1_class"] is None
    assert fc["ccmas"] is None and fc["precision_60_class"] == "dog"


@pytest.mark.db
def test_unit_precision_k(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.unit_precision_k WHERE run_id = :r ORDER BY unit", r=run_id)
    _assert_rows(
        got,
        [
            dict(layer="conv1", unit=0, unit_label="conv1.0", k=10, precision=0.7, **{"class": "crane (n03126707)"}),
            dict(layer="conv1", unit=1, unit_label="conv1.1", k=10, precision=None, **{"class": None}),
        ],
    )


@pytest.mark.db
def test_unit_class_stats_unnest_the_arrays(tiny):
    conn, run_id, _ = tiny
    got = _rows(
        conn,
        "SELECT * FROM seldb.unit_class_stats WHERE run_id = :r AND unit_label = 'conv1.0' ORDER BY class_index",
        r=run_id,
    )
    common = dict(run_id=run_id, model="tinynet", layer="conv1", unit=0, unit_label="conv1.0")
    _assert_rows(
        got,
        [
            dict(
                common,
                class_index=0,
                class_key="n02012849",
                n=2,
                mean=1.0,
                std=0.5,
                sem=0.5 / math.sqrt(2),
                min=0.5,
                max=1.5,
                n_nonzero=2,
                frac_nonzero=1.0,
                ccmas=-0.2,
                max_informedness=0.1,
                mi_threshold=1.5,
                **{"class": "crane (n02012849)"},
            ),
            dict(
                common,
                class_index=1,
                class_key="n03126707",
                n=3,
                mean=2.0,
                std=1.0,
                sem=1 / math.sqrt(3),
                min=1.0,
                max=3.0,
                n_nonzero=2,
                frac_nonzero=2 / 3,
                ccmas=0.5,
                max_informedness=0.9,
                mi_threshold=1.5,
                **{"class": "crane (n03126707)"},
            ),
            dict(
                common,
                class_index=2,
                class_key="n02084071",
                n=0,
                mean=None,
                std=None,
                sem=None,
                min=None,
                max=None,
                n_nonzero=0,
                frac_nonzero=None,
                ccmas=None,
                max_informedness=None,
                mi_threshold=None,
                **{"class": "dog"},
            ),
        ],
    )
    other = _rows(
        conn,
        "SELECT std, sem FROM seldb.unit_class_stats WHERE run_id = :r AND unit_label = 'conv1.1' AND class_index = 1",
        r=run_id,
    )
    assert other == [dict(std=None, sem=None)]  # NaN std (n < 2 in spirit) -> NULL, and so is its sem


@pytest.mark.db
def test_unit_histograms_slice_the_class_major_counts(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.unit_histograms WHERE run_id = :r ORDER BY unit_label, class_index"
    got = [
        (r["unit_label"], r["class"], r["bin_lo"], r["bin_width"], r["n_bins"], r["n_zero"], r["counts"])
        for r in _rows(conn, sql, r=run_id)
    ]
    assert got == [
        ("conv1.0", "crane (n02012849)", 0.0, 1.5, 2, 0, [2, 0]),
        ("conv1.0", "crane (n03126707)", 0.0, 1.5, 2, 1, [1, 2]),
        ("conv1.0", "dog", 0.0, 1.5, 2, 0, [0, 0]),
        ("conv1.1", "crane (n02012849)", 0.0, 0.5, 2, 2, [0, 2]),
        ("conv1.1", "crane (n03126707)", 0.0, 0.5, 2, 0, [3, 0]),
        ("conv1.1", "dog", 0.0, 0.5, 2, 0, [0, 0]),
        ("fc.0", "crane (n02012849)", 0.0, 0.0, 1, 2, [2]),
        ("fc.0", "crane (n03126707)", 0.0, 0.0, 1, 3, [3]),
        ("fc.0", "dog", 0.0, 0.0, 1, 0, [0]),
    ]


@pytest.mark.db
def test_unit_top_images_skip_padding_and_join_paths_and_classes(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.unit_top_images WHERE run_id = :r AND layer = 'conv1' ORDER BY unit, rank"
    got = [
        (r["unit_label"], r["rank"], r["image_index"], r["image_path"], r["class"], r["activation"])
        for r in _rows(conn, sql, r=run_id)
    ]
    assert got == [
        ("conv1.0", 1, 3, "a/3.jpg", "crane (n03126707)", 3.0),
        ("conv1.0", 2, 4, "a/4.jpg", "crane (n03126707)", 2.5),
        ("conv1.0", 3, 0, "a/0.jpg", "crane (n02012849)", 1.5),
        ("conv1.1", 1, 2, None, "crane (n03126707)", 1.0),
    ]


@pytest.mark.db
def test_layer_summary_matches_numpy(tiny):
    conn, run_id, _ = tiny
    sql = "SELECT * FROM seldb.layer_summary WHERE run_id = :r AND layer = 'conv1' AND measure = :m"
    (ccmas,) = _rows(conn, sql, r=run_id, m="ccmas")
    values = np.array([0.5, 0.1])
    _assert_rows(
        [ccmas],
        [
            dict(
                model="tinynet",
                n_units=2,
                mean=values.mean(),
                sem=values.std(ddof=1) / math.sqrt(2),
                median=np.median(values),
                q25=np.percentile(values, 25),
                q75=np.percentile(values, 75),
                min=0.1,
                max=0.5,
            )
        ],
    )
    (ccmas2,) = _rows(conn, sql, r=run_id, m="ccmas2")  # NaN in one unit: ignored like a NULL
    _assert_rows([ccmas2], [dict(n_units=1, mean=0.2, sem=None, median=0.2, min=0.2, max=0.2)])
    listed = _rows(conn, "SELECT measure FROM seldb.layer_summary WHERE run_id = :r", r=run_id)
    measures = {r["measure"] for r in listed}
    correlated = {
        "precision_60",
        "precision_100",
        "n_classes_top100",
        "ccmas",
        "ccmas2",
        "recall_p1",
        "recall_p95",
        "max_informedness",
        "mi_recall",
        "mi_specificity",
        "mi_false_discovery_rate",
    }
    assert correlated | {"ccmas_morcos", "localist_margin", "mi_precision", "mi_false_alarm_rate"} <= measures


@pytest.mark.db
def test_measure_correlations(tiny):
    conn, run_id, _ = tiny
    query = "SELECT * FROM seldb.{} WHERE run_id = :r ORDER BY layer NULLS FIRST"
    with_dead = _rows(conn, query.format("measure_correlations_with_dead"), r=run_id)
    _assert_rows(
        with_dead,
        [  # the hand-made rows were stored as over every unit (includes_dead's default)
            dict(
                model="tinynet",
                layer=None,
                measure_a="ccmas",
                measure_b="precision_60",
                n_units=2,
                pearson_r=-1.0,
                pearson_p=None,
                spearman_rho=-1.0,
                spearman_p=None,
            ),
            dict(model="tinynet", layer="conv1", measure_a="ccmas", measure_b="precision_60", n_units=2),
        ],
    )
    assert _rows(conn, query.format("measure_correlations"), r=run_id) == []  # no live-unit rows stored


@pytest.mark.db
def test_detector_claims_and_high_false_alarms(tiny):
    conn, run_id, _ = tiny
    claims = _rows(conn, "SELECT * FROM seldb.detector_claims WHERE run_id = :r ORDER BY unit_label", r=run_id)
    assert [(r["unit_label"], r["classes_agree"]) for r in claims] == [("conv1.0", True), ("conv1.1", False)]
    assert claims[0]["mi_false_alarm_rate"] == 0.1 and claims[0]["recall_p1"] == 1.0
    high = _rows(conn, "SELECT * FROM seldb.high_precision_high_false_alarm WHERE run_id = :r", r=run_id)
    assert [(r["unit_label"], r["mi_false_discovery_rate"]) for r in high] == [("conv1.0", 0.6)]


@pytest.mark.db
def test_concept_measures_join_iou_by_case_insensitive_label(tiny):
    conn, run_id, _ = tiny
    got = _rows(conn, "SELECT * FROM seldb.concept_measures WHERE run_id = :r ORDER BY unit", r=run_id)
    _assert_rows(
        got,
        [
            dict(
                layer="conv1",
                unit=0,
                unit_label="conv1.0",
                concept="Crane",
                n_a=5,
                mean_a=1.6,
                mean_not_a=None,
                precision_60=1.0,
                iou=0.12,
            ),
            dict(layer="conv1", unit=1, unit_label="conv1.1", concept="Crane", mean_a=0.6, iou=None),
        ],
    )


@pytest.mark.db
@pytest.mark.parametrize("view", ["unit_class_stats", "unit_histograms", "unit_top_images"])
def test_a_unit_label_filter_applies_before_the_unnest(tiny, view):
    conn, _, _ = tiny
    plan = conn.execute(
        sa.text(f"EXPLAIN (FORMAT JSON) SELECT * FROM seldb.{view} WHERE unit_label = 'conv1.0'")
    ).scalar_one()
    plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
    own_text = lambda node: json.dumps({k: v for k, v in node.items() if k != "Plans"})  # noqa: E731
    filtering = [node for node in _nodes(plan) if "conv1.0" in own_text(node)]
    assert filtering, "the filter is not in the plan"
    for node in filtering:  # the node that applies the filter must sit below, not above, the unnest
        assert not any(n["Node Type"] == "Function Scan" for n in _nodes(node)), json.dumps(plan, indent=1)


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


# --------------------------------------------------------------------------- the contract and other owners

SPEC_COLUMNS = {  # views.md, column for column: views may only add columns after these
    "runs": "run_id model dataset created_at source_file source_sha256 n_images_total n_images_analysed "
    "only_correct n_dropped bins top_k seldb_version options status",
    "layers": "run_id layer n_units reduction",
    "unit_measures": "run_id model dataset layer unit unit_label n_images ccmas ccmas_class ccmas2 ccmas2_class "
    "ccmas_morcos precision_60 precision_60_class precision_100 precision_100_class "
    "n_classes_top100 localist_margin is_localist recall_p1 recall_p1_class recall_p1_threshold "
    "recall_p95 recall_p95_class recall_p95_threshold max_informedness mi_class mi_threshold "
    "mi_recall mi_specificity mi_false_alarm_rate mi_false_discovery_rate mi_precision",
    "unit_precision_k": "run_id layer unit unit_label k precision class",
    "unit_class_stats": "run_id model layer unit unit_label class class_index class_key n mean std sem min max "
    "n_nonzero frac_nonzero ccmas max_informedness mi_threshold",
    "unit_histograms": "run_id layer unit unit_label class class_index bin_lo bin_width n_bins n_zero counts",
    "unit_top_images": "run_id layer unit unit_label rank image_index image_path class activation",
    "layer_summary": "run_id model layer measure n_units mean sem median q25 q75 min max",
    "measure_correlations": "run_id model layer measure_a measure_b n_units pearson_r pearson_p spearman_rho "
    "spearman_p",
    "concept_measures": "run_id model layer unit unit_label concept n_a n_not_a mean_a mean_not_a sem_a sem_not_a "
    "frac_nonzero_a frac_nonzero_not_a precision_60 precision_100 ccmas max_informedness "
    "mi_threshold mi_recall mi_false_alarm_rate mi_false_discovery_rate recall_p1 recall_p95 iou",
}
CONTAINS_COLUMNS = {  # views.md names these columns without fixing an order
    "detector_claims": "run_id unit_label precision_60 recall_p1 max_informedness mi_recall mi_false_alarm_rate "
    "mi_false_discovery_rate classes_agree",
    "high_precision_high_false_alarm": "run_id unit_label precision_60 mi_false_discovery_rate",
}


@pytest.mark.db
def test_views_have_the_columns_of_views_md(db_conn):
    columns = {
        view: db_conn.scalars(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'seldb' AND table_name = :v ORDER BY ordinal_position"
            ),
            {"v": view},
        ).all()
        for view in VIEW_NAMES
    }
    for view, spec in SPEC_COLUMNS.items():
        assert columns[view][: len(spec.split())] == spec.split(), view
    for view, spec in CONTAINS_COLUMNS.items():
        assert set(spec.split()) <= set(columns[view]), view
