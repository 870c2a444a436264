"""One unit: every measure with its class, threshold, explanation and interval; its plot, classes and images.

The page itself is a handful of indexed reads of the views (the measures,
the per-class statistics, the top images, AM images, Network Dissection
labels, ratings, concept measures); the Figure-3 plot is fetched afterwards
by the browser (htmx, or a plain <img> without JavaScript) and drawn once
per unit and class (seldb.serve.plots). Top images and AM images are served
by rank or sha256, from the paths the views list (seldb.serve.images).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seldb import catalogue
from seldb.am.dataset_images import RunRecord, locate
from seldb.db.read import Run, find_unit, resolve_run
from seldb.errors import InputError, NotFound, SeldbError
from seldb.serve.formatting import first_sentence
from seldb.serve.images import THUMB_PX, png_of
from seldb.serve.reading import one, reading, rows, the_row
from seldb.serve.render import context, render

TOP_SHOWN = 20  # top images on the page (the view holds 100)
CLASSES_SHOWN = 20  # classes by mean activation, until "all" is asked for
UNIT_PARAMETERS = ("class", "classes")
CLASS_COLUMNS = "class, class_index, n, mean, std, sem, min, max, frac_nonzero, ccmas, max_informedness, mi_threshold"
WHERE = "run_id = :r AND layer = :l AND unit = :u"


def _unit_where(conn: sa.Connection, run_id: int, label: str) -> tuple[Run, dict]:
    """The run, and the unit's WHERE parameters (r, l, u); NotFound for an unknown run or unit."""
    run = resolve_run(conn, run_id)
    layer, unit = find_unit(conn, run, label)
    return run, {"r": run_id, "l": layer, "u": unit}


PNG_HEADERS = {"cache-control": "private, max-age=3600"}


def _check_params(request: Request, allowed: tuple[str, ...]) -> None:
    unknown = [k for k in request.query_params if k not in allowed]
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} (this page takes {', '.join(allowed) or 'none'})")


def _measures(conn, where: dict, row: dict | None) -> list[dict]:
    """Every measure of the catalogue with its class, threshold, one-line doc, interval and chance level."""
    if row is None:
        return []
    intervals = {
        r["measure"]: r
        for r in rows(
            conn,
            f"SELECT measure, lo, hi, level, class_stability FROM seldb.unit_measure_intervals WHERE {WHERE}",
            **where,
        )
    }
    chance = {
        r["measure"]: r
        for r in rows(conn, f"SELECT measure, null_mean, p, q FROM seldb.unit_measure_chance WHERE {WHERE}", **where)
    }
    out = []
    # the measures proper first (report order), the image counts and the dead flag after them
    for m in sorted(catalogue.values(), key=lambda m: m.family == "images"):
        out.append(
            {
                "name": m.name,
                "family": m.family,
                "value": row[m.name],
                "doc": first_sentence(m.doc),
                "class": row[m.class_column] if m.class_column else None,
                "threshold": row[m.threshold_column] if m.threshold_column else None,
                "interval": intervals.get(m.name),
                "chance": chance.get(m.name),
            }
        )
    extra = rows(
        conn,
        f"SELECT k, precision, class FROM seldb.unit_precision_k WHERE {WHERE} AND k NOT IN (60, 100) ORDER BY k",
        **where,
    )
    for e in extra:
        out.append(
            {
                "name": f"precision_{e['k']}",
                "family": "precision",
                "value": e["precision"],
                "doc": f"Top-{e['k']} precision, as precision_60 with k = {e['k']}.",
                "class": e["class"],
                "threshold": None,
                "interval": None,
                "chance": None,
            }
        )
    return out


def _class_of_interest(conn, where: dict, row: dict | None, asked: str | None) -> str | None:
    if asked is not None:
        found = one(conn, f"SELECT class FROM seldb.unit_class_stats WHERE {WHERE} AND class = :c", **where, c=asked)
        if found is None:
            raise InputError(f"class {asked!r} is not a class of this run")
        return asked
    if row is None:
        return None
    return row["precision_60_class"] or row["ccmas_class"] or row["mi_class"]


def _top_images(conn, run_id: int, where: dict) -> list[dict]:
    record = the_row(conn, "SELECT options, source_file FROM seldb.runs WHERE run_id = :r", r=run_id)
    roots = RunRecord(run_id, dict(record["options"] or {}), record["source_file"]).roots
    images = rows(
        conn,
        f"SELECT rank, image_index, image_path, class, activation FROM seldb.unit_top_images"
        f" WHERE {WHERE} AND rank <= :n ORDER BY rank",
        **where,
        n=TOP_SHOWN,
    )
    for image in images:
        image["reachable"] = locate(image["image_path"], roots) is not None
    return images


def _extras(conn, where: dict) -> dict:
    """What other views know about the unit (empty lists when nothing)."""
    am = rows(
        conn,
        f"SELECT method, seed, steps, size, pre_relu, activation, reference_activation, dataset_max,"
        f" exceeds_dataset_max, path, sha256, created_at FROM seldb.am_images WHERE {WHERE}"
        " ORDER BY created_at DESC",
        **where,
    )
    for image in am:
        image["here"] = Path(image["path"]).is_file()
    return {
        "am_images": am,
        "netdissect": rows(
            conn,
            f"SELECT category, label, is_top, score, iou, is_detector, source, quantile, dataset"
            f" FROM seldb.netdissect WHERE {WHERE} ORDER BY is_top DESC, iou DESC NULLS LAST",
            **where,
        ),
        "ratings": rows(
            conn,
            f"SELECT rater, judged_object, label, label_key, matches_top_class, matches_ccmas_class"
            f" FROM seldb.am_ratings WHERE {WHERE} ORDER BY rater",
            **where,
        ),
        "concepts": rows(
            conn,
            f"SELECT concept, n_a, mean_a, mean_not_a, precision_60, ccmas, max_informedness,"
            f" recall_p1, iou FROM seldb.concept_measures WHERE {WHERE} ORDER BY concept",
            **where,
        ),
        "claim": one(
            conn,
            f"SELECT precision_60_lo, precision_60_hi, precision_60_q, survives, classes_agree"
            f" FROM seldb.detector_claims WHERE {WHERE}",
            **where,
        ),
    }


def unit_page(request: Request):
    _check_params(request, UNIT_PARAMETERS)
    all_classes = request.query_params.get("classes", "top")
    if all_classes not in ("top", "all"):
        raise InputError(f"classes is top or all, not {all_classes!r}")
    run_id, label = request.path_params["run"], request.path_params["label"]
    with reading(context(request).db) as conn:
        run, where = _unit_where(conn, run_id, label)
        layer, unit = where["l"], where["u"]
        row = one(conn, f"SELECT * FROM seldb.unit_measures WHERE {WHERE}", **where)
        chosen = _class_of_interest(conn, where, row, request.query_params.get("class"))
        limit = "" if all_classes == "all" else f" LIMIT {CLASSES_SHOWN}"
        classes = rows(
            conn,
            f"SELECT {CLASS_COLUMNS} FROM seldb.unit_class_stats WHERE {WHERE}"
            f" ORDER BY mean DESC NULLS LAST, class_index{limit}",
            **where,
        )
        n_classes = the_row(conn, f"SELECT count(*) AS n FROM seldb.unit_class_stats WHERE {WHERE}", **where)["n"]
        layer_row = the_row(conn, "SELECT n_units FROM seldb.layers WHERE run_id = :r AND layer = :l", **where)
        values = {
            "run": run,
            "layer": layer,
            "unit": unit,
            "label": f"{layer}.{unit}",
            "row": row,
            "measures": _measures(conn, where, row),
            "chosen": chosen,
            "classes": classes,
            "n_classes": n_classes,
            "all_classes": all_classes == "all",
            "n_units": layer_row["n_units"],
            "top_images": _top_images(conn, run_id, where),
            **_extras(conn, where),
        }
    values["plot_classes"] = _plot_classes(row, classes, chosen)
    return render(request, "unit.html", **values)


def _plot_classes(row: dict | None, classes: list[dict], chosen: str | None) -> list[str]:
    """Classes offered for the plot: the one shown, the measures' classes, then the highest means."""
    named = [chosen] + (
        [row[c] for c in ("precision_60_class", "ccmas_class", "mi_class", "recall_p1_class")] if row else []
    )
    return list(dict.fromkeys(c for c in named + [c["class"] for c in classes] if c))


def _plot(request: Request):
    _check_params(request, ("class",))
    ctx = context(request)
    run_id, label = request.path_params["run"], request.path_params["label"]
    with reading(ctx.db) as conn:
        run, where = _unit_where(conn, run_id, label)
        layer, unit = where["l"], where["u"]
        row = one(
            conn, f"SELECT precision_60_class, ccmas_class, mi_class FROM seldb.unit_measures WHERE {WHERE}", **where
        )
        chosen = _class_of_interest(conn, where, row, request.query_params.get("class"))
    if chosen is None:
        raise NotFound(f"{label} has no class to plot (the run has no class-selectivity measures)")
    try:
        return run, f"{layer}.{unit}", chosen, ctx.plots.unit_plot(ctx.db, run, layer, unit, chosen)
    except SeldbError as exc:
        raise NotFound(f"no plot of {label}: {exc}") from None


def plot_png(request: Request):
    *_, plot = _plot(request)
    try:
        data = plot.png.read_bytes()
    except FileNotFoundError:  # evicted from the bounded cache since it was found there: drawn again
        *_, plot = _plot(request)
        data = plot.png.read_bytes()
    return Response(data, media_type="image/png", headers=PNG_HEADERS)


def plot_panel(request: Request):
    run, label, chosen, plot = _plot(request)
    return render(request, "plot_panel.html", run=run, label=label, chosen=chosen, sidecar=plot.sidecar)


def thumbnail(request: Request):
    ctx = context(request)
    run_id, rank, label = request.path_params["run"], request.path_params["rank"], request.path_params["label"]
    with reading(ctx.db) as conn:
        _, where = _unit_where(conn, run_id, label)
        image = one(
            conn,
            f"SELECT image_index, image_path FROM seldb.unit_top_images WHERE {WHERE} AND rank = :k",
            **where,
            k=rank,
        )
        record = the_row(conn, "SELECT options, source_file FROM seldb.runs WHERE run_id = :r", r=run_id)
    if image is None:
        raise NotFound(f"{label} has no top image of rank {rank}")
    roots = RunRecord(run_id, dict(record["options"] or {}), record["source_file"]).roots
    data = ctx.images.get(
        ("thumb", run_id, image["image_index"]), lambda: png_of(locate(image["image_path"], roots), THUMB_PX)
    )
    if data is None:
        raise NotFound(f"image {image['image_path']} is not reachable from this machine")
    return Response(data, media_type="image/png", headers=PNG_HEADERS)


def am_image(request: Request):
    ctx = context(request)
    run_id, sha, label = request.path_params["run"], request.path_params["sha"], request.path_params["label"]
    with reading(ctx.db) as conn:
        _, where = _unit_where(conn, run_id, label)
        found = one(conn, f"SELECT path FROM seldb.am_images WHERE {WHERE} AND sha256 = :s LIMIT 1", **where, s=sha)
    if found is None:
        raise NotFound(f"{label} has no AM image {sha[:12]}")
    data = ctx.images.get(("am", sha), lambda: png_of(Path(found["path"])))
    if data is None:
        raise NotFound(f"the AM image {found['path']} is not on this machine any more")
    return Response(data, media_type="image/png", headers=PNG_HEADERS)


ROUTES = [
    Route("/runs/{run:int}/unit/{label:path}", unit_page),
    Route("/runs/{run:int}/plot/{label:path}", plot_png),
    Route("/runs/{run:int}/plot-panel/{label:path}", plot_panel),
    Route("/runs/{run:int}/thumb/{rank:int}/{label:path}", thumbnail),
    Route("/runs/{run:int}/am/{sha:str}/{label:path}", am_image),
]
