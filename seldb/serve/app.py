"""The web app of `seldb serve`: routes, templates, static files and error pages on one seldb handle.

`create_app(db, ...)` returns a Starlette application (ASGI) that any ASGI
server can run; `seldb.serve.server.serve` runs it with uvicorn. Pages are
plain functions of a request (run on Starlette's worker threads, since the
database calls block) in seldb.serve.pages, one module per page family,
rendered by seldb.serve.render; they read through the views only
(seldb.serve.reading). Whatever goes wrong becomes a page: NotFound a
404, InputError a 400 with the reason, a database problem a 503, anything
else a 500 whose details go to the server's log; the server keeps running.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from seldb.db.database import Database
from seldb.errors import InputError, NotFound, SeldbError
from seldb.serve.pages import layer as pages_layer
from seldb.serve.pages import rate as pages_rate
from seldb.serve.pages import runs as pages_runs
from seldb.serve.pages import unit as pages_unit
from seldb.serve.pages import units as pages_units
from seldb.serve.plots import PlotCache
from seldb.serve.render import Context, is_fragment, render, templates
from seldb.serve.security import Forbidden, Guard, allowed_hosts
from seldb.settings import default_data_dir

log = logging.getLogger("seldb.serve")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    try:
        template = "error_fragment.html" if is_fragment(request) else "error.html"
        return render(request, template, status, status=status, title=title, message=message)
    except Exception:  # the error page itself failed (e.g. no session in a bare request): plain text
        log.exception("error page failed")
        return Response(f"{status} {title}: {message}", status_code=status, media_type="text/plain")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error_page(request, 404, "Not found", str(exc))


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "Bad request", str(exc))


async def _forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, "Refused", str(exc))


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("seldb error on %s: %s", request.url.path, exc)
    return _error_page(request, 503, "seldb could not answer", str(exc))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    messages = {404: "There is no such page.", 405: "This page does not take that request method."}
    return _error_page(request, exc.status_code, exc.detail or "Error", messages.get(exc.status_code, exc.detail))


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_page(request, 500, "Internal error", "Something went wrong on the server; its log has the details.")


# the most specific class wins (Starlette looks handlers up along the exception's MRO)
HANDLERS = {
    NotFound: _not_found,
    Forbidden: _forbidden,
    InputError: _bad_request,
    SeldbError: _unavailable,
    HTTPException: _http,
    Exception: _crash,
}


def _home(request: Request) -> Response:
    return RedirectResponse("/rate" if request.app.state.rating_only else "/runs", status_code=303)


def _routes(rating_only: bool) -> list:
    static = StaticFiles(directory=str(resources.files("seldb.serve") / "static"))
    browse = [*pages_runs.ROUTES, *pages_units.ROUTES, *pages_unit.ROUTES, *pages_layer.ROUTES]
    return [
        Route("/", _home),
        *([] if rating_only else browse),
        *pages_rate.ROUTES,
        Mount("/static", static, name="static"),
    ]


def default_cache_dir() -> Path:
    return default_data_dir() / "serve-cache"


def create_app(
    db: Database, host: str = "127.0.0.1", cache_dir: str | os.PathLike | None = None, rating_only: bool = False
) -> Starlette:
    """The app on handle `db`; `host` is the address it is served on (it decides the Host names accepted);
    rating_only serves the rating studies alone (for raters, who must not browse the units)."""
    plots = PlotCache(Path(cache_dir) if cache_dir else default_cache_dir())
    app = Starlette(
        routes=_routes(rating_only),
        middleware=[Middleware(Guard, hosts=allowed_hosts(host))],
        exception_handlers=HANDLERS,
    )
    app.state.ctx = Context(db, templates(), plots)
    app.state.rating_only = rating_only
    return app
