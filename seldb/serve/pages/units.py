"""The units of a run: one table of every unit's headline measures, sorted, filtered and paged in SQL.

An AlexNet-scale run has 8,448 units and an ImageNet ResNet more, so the
page never loads them all: PostgreSQL filters, sorts (NULLs last, network
order breaking ties) and returns one page, and counts the matches. With
htmx only the table is swapped when a header or a page link is clicked (the
address bar follows, so a view can be bookmarked); without JavaScript the
same links load the whole page. /runs/<id>/units.sql shows the same query as
SQL against the views.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.routing import Route

from seldb import catalogue
from seldb.db.read import resolve_run
from seldb.serve import unit_query as uq
from seldb.serve.formatting import first_sentence
from seldb.serve.reading import layers_of, reading
from seldb.serve.render import context, is_fragment, render


def _query(request: Request, conn, run_id: int) -> tuple[uq.UnitQuery, list[dict]]:
    layers = layers_of(conn, run_id)
    return uq.parse_query(request.query_params, [layer["layer"] for layer in layers]), layers


def fetch_page(conn: sa.Connection, q: uq.UnitQuery, run_id: int) -> tuple[list[dict], int]:
    """(the page's rows, how many units match) of the query on the run."""
    count, values = uq.count_sql(q, run_id)
    total = int(conn.execute(sa.text(count), values).scalar_one())
    sql, values = uq.page_sql(q, run_id)
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), values)], total


def units_page(request: Request):
    run_id = request.path_params["run"]
    with reading(context(request).db) as conn:
        run = resolve_run(conn, run_id)
        q, layers = _query(request, conn, run_id)
        units, total = fetch_page(conn, q, run_id)
    pages = max(1, math.ceil(total / q.per))
    values: dict[str, Any] = {
        "run": run,
        "q": q,
        "units": units,
        "total": total,
        "pages": pages,
        "layers": layers,
        "columns": uq.SHOWN,
        "docs": _docs(),
        "page_sizes": uq.PAGE_SIZES,
        "qs": uq.query_string,
        "measures": [m.name for m in catalogue.UNIT_MEASURES],
    }
    return render(request, "units_table.html" if is_fragment(request) else "units.html", **values)


def units_sql_page(request: Request):
    run_id = request.path_params["run"]
    with reading(context(request).db) as conn:
        run = resolve_run(conn, run_id)
        q, _ = _query(request, conn, run_id)
    return render(request, "units_sql.html", run=run, q=q, sql=uq.shown_sql(q, run_id), qs=uq.query_string)


def _docs() -> dict[str, str]:
    docs = {m.name: first_sentence(m.doc) for m in catalogue.UNIT_MEASURES}
    docs["unit_label"] = "The unit: <layer>.<unit>; sorts in network order."
    return docs


ROUTES = [
    Route("/runs/{run:int}/units", units_page),
    Route("/runs/{run:int}/units.sql", units_sql_page),
]
