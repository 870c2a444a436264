"""One layer of a run: the distribution of every measure (Figure 2), its box plot, and the correlations.

The numbers are seldb.layer_summary's (or layer_summary_with_dead's, when
dead units are asked for), the box plot is the report's own drawing of
those numbers across the run's layers (seldb.serve.plots), and the
correlations are seldb.measure_correlations' Spearman and Pearson
coefficients between measures over the layer's units (the paper's Table A2).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seldb import catalogue
from seldb.db.read import resolve_run
from seldb.errors import InputError, did_you_mean
from seldb.serve.formatting import first_sentence
from seldb.serve.reading import layer_of, layers_of, reading, rows
from seldb.serve.render import context, render

# not n_dead: filtered on one layer, the view evaluates seldb.layers' dead-unit count once per unit and measure
# (a minute on an 8,448-unit run); seldb.layers has the same number
SUMMARY_COLUMNS = "measure, n_units, mean, sem, median, q25, q75, min, max"
LAYER_PARAMETERS = ("measure", "dead")
PNG_HEADERS = {"cache-control": "private, max-age=3600"}


def _options(request: Request) -> tuple[str, bool]:
    unknown = [k for k in request.query_params if k not in LAYER_PARAMETERS]
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} (this page takes {', '.join(LAYER_PARAMETERS)})")
    measure = request.query_params.get("measure") or "precision_60"
    known = catalogue.summarised()
    if measure not in known:
        raise InputError(f"no box plot of {measure!r}{did_you_mean(measure, known)}; measures: {', '.join(known)}")
    dead = request.query_params.get("dead") or "0"
    if dead not in ("0", "1"):
        raise InputError(f"dead is 0 (live units only) or 1 (every unit), not {dead!r}")
    return measure, dead == "1"


def _matrix(correlations: list[dict]) -> tuple[list[str], dict]:
    """Measures in report order and {(a, b): row} both ways round, for a symmetric table."""
    order = catalogue.correlated()
    cells = {}
    for r in correlations:
        cells[(r["measure_a"], r["measure_b"])] = r
        cells[(r["measure_b"], r["measure_a"])] = r
    present = [m for m in order if any(k[0] == m for k in cells)]
    return present, cells


def layer_page(request: Request):
    measure, dead = _options(request)
    run_id, name = request.path_params["run"], request.path_params["layer"]
    suffix = "_with_dead" if dead else ""
    with reading(context(request).db) as conn:
        run = resolve_run(conn, run_id)
        layer = layer_of(conn, run, name)
        summary = rows(
            conn,
            f"SELECT {SUMMARY_COLUMNS} FROM seldb.layer_summary{suffix} WHERE run_id = :r AND layer = :l",
            r=run_id,
            l=name,
        )
        correlations = rows(
            conn,
            f"SELECT measure_a, measure_b, n_units, pearson_r, spearman_rho, spearman_p"
            f" FROM seldb.measure_correlations{suffix} WHERE run_id = :r AND layer = :l",
            r=run_id,
            l=name,
        )
        detectors = rows(
            conn, "SELECT * FROM seldb.detector_summary WHERE run_id = :r AND layer = :l", r=run_id, l=name
        )
        layers = layers_of(conn, run_id)
    order = {m: i for i, m in enumerate(catalogue.summarised())}
    summary.sort(key=lambda r: order.get(r["measure"], len(order)))
    present, cells = _matrix(correlations)
    docs = {m.name: first_sentence(m.doc) for m in catalogue.UNIT_MEASURES}
    return render(
        request,
        "layer.html",
        run=run,
        layer=layer,
        summary=summary,
        measure=measure,
        dead=dead,
        measures=catalogue.summarised(),
        matrix=present,
        cells=cells,
        detectors=detectors,
        layers=layers,
        docs=docs,
    )


def box_plot(request: Request):
    measure, dead = _options(request)
    ctx = context(request)
    with reading(ctx.db) as conn:
        run = resolve_run(conn, request.path_params["run"])
    plot = ctx.plots.box_plot(ctx.db, run, measure, dead)
    return Response(plot.png.read_bytes(), media_type="image/png", headers=PNG_HEADERS)


ROUTES = [
    Route("/runs/{run:int}/layer/{layer:path}", layer_page),
    Route("/runs/{run:int}/boxplot", box_plot),
]
