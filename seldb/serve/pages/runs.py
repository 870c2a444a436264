"""The runs: every run with its provenance and counts, one run in full, and two runs side by side.

Everything comes from seldb.runs (provenance, options, counts, timings),
seldb.layers, seldb.detector_summary (how many units the precision
criterion calls detectors), seldb.layer_summary (the distributions the
comparison sets side by side) and the counts of AM images, ratings, Network
Dissection labels and rating studies per run.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from seldb.db.read import resolve_run
from seldb.errors import InputError
from seldb.reports.compare import compare_runs
from seldb.serve.reading import layers_of, one, reading, rows
from seldb.serve.render import context, render

RUN_COLUMNS = (
    "run_id, model, dataset, created_at, source, layers, n_layers, n_units, n_images_total,"
    " n_images_analysed, only_correct, all_images, n_dropped, bins, top_k_list, nan_policy,"
    " n_dead_units, source_file, source_sha256, seldb_version, total_s"
)
COUNTS = {
    "detectors": "SELECT run_id, n_claimed AS n FROM seldb.detector_summary WHERE layer IS NULL",
    "am_images": "SELECT run_id, count(*) AS n FROM seldb.am_images GROUP BY run_id",
    "ratings": "SELECT run_id, count(*) AS n FROM seldb.am_ratings GROUP BY run_id",
    "labelled": "SELECT run_id, count(*) AS n FROM seldb.netdissect WHERE is_top GROUP BY run_id",
    "studies": "SELECT run_id, count(*) AS n FROM seldb.rating_studies GROUP BY run_id",
}
# the measures the comparison sets side by side, per layer
COMPARED = ("precision_60", "ccmas", "localist_margin", "recall_p1", "max_informedness", "mi_false_discovery_rate")
PROVENANCE = (
    "model",
    "dataset",
    "created_at",
    "source",
    "layers",
    "n_units",
    "n_images_total",
    "n_images_analysed",
    "only_correct",
    "all_images",
    "n_dropped",
    "bins",
    "top_k_list",
    "nan_policy",
    "n_dead_units",
    "source_file",
    "source_sha256",
    "seldb_version",
    "total_s",
)


def _counts(conn) -> dict[str, dict[int, int]]:
    return {name: {r["run_id"]: r["n"] for r in rows(conn, sql)} for name, sql in COUNTS.items()}


def runs_page(request: Request):
    with reading(context(request).db) as conn:
        runs = rows(conn, f"SELECT {RUN_COLUMNS} FROM seldb.runs ORDER BY run_id")
        counts = _counts(conn)
    return render(request, "runs.html", runs=runs, counts=counts)


def _run_id(text: str | None, name: str) -> int:
    if not text or not text.strip().isdigit() or len(text.strip()) > 18:
        raise InputError(f"{name} must be a run id (a whole number), got {text!r}")
    return int(text)


def run_page(request: Request):
    run_id = request.path_params["run"]
    with reading(context(request).db) as conn:
        run = resolve_run(conn, run_id)
        record = one(conn, "SELECT * FROM seldb.runs WHERE run_id = :r", r=run_id)
        layers = layers_of(conn, run_id)
        detectors = {
            r["layer"]: r for r in rows(conn, "SELECT * FROM seldb.detector_summary WHERE run_id = :r", r=run_id)
        }
        ratings = rows(conn, "SELECT * FROM seldb.am_ratings_summary WHERE run_id = :r ORDER BY layer", r=run_id)
        studies = rows(conn, "SELECT * FROM seldb.rating_studies WHERE run_id = :r ORDER BY created_at", r=run_id)
    return render(
        request,
        "run.html",
        run=run,
        record=record,
        layers=layers,
        detectors=detectors,
        ratings=ratings,
        studies=studies,
    )


def compare_page(request: Request):
    unknown = [k for k in request.query_params if k not in ("a", "b", "la", "lb")]
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} (compare takes a and b, two run ids, and la and lb)")
    a, b = (_run_id(request.query_params.get(k), k) for k in ("a", "b"))
    if a == b:
        raise InputError(f"choose two different runs to compare (a and b are both {a})")
    la, lb = (request.query_params.get(k) or None for k in ("la", "lb"))
    if bool(la) != bool(lb):
        raise InputError("choose a layer of each run (la and lb), or neither for all layers")
    with reading(context(request).db) as conn:
        runs = [resolve_run(conn, a), resolve_run(conn, b)]
        criteria = compare_runs(conn, [a, b], [la, lb] if la and lb else None)
        run_layers = [[layer["layer"] for layer in layers_of(conn, r)] for r in (a, b)]
        records = [one(conn, f"SELECT {RUN_COLUMNS} FROM seldb.runs WHERE run_id = :r", r=r) for r in (a, b)]
        summary = rows(
            conn,
            "SELECT s.run_id, s.layer, s.measure, s.n_units, s.median, s.mean, l.layer_index"
            " FROM seldb.layer_summary AS s JOIN seldb.layers AS l ON l.run_id = s.run_id"
            " AND l.layer = s.layer WHERE s.run_id IN (:a, :b) AND s.measure = ANY(:m)",
            a=a,
            b=b,
            m=list(COMPARED),
        )
        detectors = rows(
            conn,
            "SELECT run_id, layer, n_units, n_claimed FROM seldb.detector_summary WHERE run_id IN (:a, :b)",
            a=a,
            b=b,
        )
    return render(
        request,
        "compare.html",
        runs=runs,
        records=records,
        fields=PROVENANCE,
        layers=_compared_layers(summary, detectors, a, b),
        measures=COMPARED,
        criteria=criteria,
        chosen=(la, lb),
        run_layers=run_layers,
    )


def _compared_layers(summary: list[dict], detectors: list[dict], a: int, b: int) -> list[dict]:
    """One row per layer name of either run (layers of a first, in network order), with both runs' numbers."""
    layers: dict[str, dict] = {}
    for r in sorted(summary, key=lambda r: (r["run_id"] != a, r["layer_index"])):
        entry = layers.setdefault(r["layer"], {"layer": r["layer"], "a": {}, "b": {}})
        entry["a" if r["run_id"] == a else "b"][r["measure"]] = r
    for d in detectors:
        if d["layer"] is not None and d["layer"] in layers:
            layers[d["layer"]]["a" if d["run_id"] == a else "b"]["claimed"] = d
    return list(layers.values())


ROUTES = [
    Route("/runs", runs_page),
    Route("/runs/compare", compare_page),
    Route("/runs/{run:int}", run_page),
]
