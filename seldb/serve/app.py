"""The web app of `seldb serve`: routes, templates, static files and error pages on one seldb handle.

`create_app(db, ...)` returns a Starlette application (ASGI) that any ASGI
server can run; `seldb.serve.server.serve` runs it with uvicorn. Pages are
plain functions of a request (run on Starlette's worker threads, since the
database calls block) in the pages_* modules; they read through the views
only (seldb.serve.reading). Whatever goes wrong becomes a page: NotFound a
404, InputError a 400 with the reason, a database problem a 503, anything
else a 500 whose details go to the server's log; the server keeps running.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from seldb.db.database import Database
from seldb.errors import InputError, NotFound, SeldbError
from seldb.serve import formatting
from seldb.serve.images import ImageCache
from seldb.serve.plots import PlotCache
from seldb.serve.security import CSRF_FIELD, CsrfTokens, Forbidden, Guard, allowed_hosts

log = logging.getLogger("seldb.serve")


@dataclass
class Context:
    """What every page needs: the one handle, the templates, the caches, the CSRF tokens."""

    db: Database
    templates: Jinja2Templates
    plots: PlotCache
    images: ImageCache = field(default_factory=ImageCache)
    csrf: CsrfTokens = field(default_factory=CsrfTokens)


def context(request: Request) -> Context:
    return request.app.state.ctx


def is_fragment(request: Request) -> bool:
    """An htmx request for part of a page (a history restore wants the whole page)."""
    return "hx-request" in request.headers and "hx-history-restore-request" not in request.headers


def render(request: Request, template: str, status_code: int = 200, **values) -> HTMLResponse:
    ctx = context(request)
    values.setdefault("csrf_token", ctx.csrf.token(request.state.session))
    values.setdefault("csrf_field", CSRF_FIELD)
    values.setdefault("rating_only", request.app.state.rating_only)
    return ctx.templates.TemplateResponse(request, template, values, status_code=status_code)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("seldb.serve", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    formatting.install(env)
    return Jinja2Templates(env=env)


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


async def _http(request: Request, exc: HTTPException) -> Response:
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
    from seldb.serve import pages_layer, pages_rate, pages_runs, pages_unit, pages_units

    static = StaticFiles(directory=str(resources.files("seldb.serve") / "static"))
    browse = [*pages_runs.ROUTES, *pages_units.ROUTES, *pages_unit.ROUTES, *pages_layer.ROUTES]
    return [
        Route("/", _home),
        *([] if rating_only else browse),
        *pages_rate.ROUTES,
        Mount("/static", static, name="static"),
    ]


def default_cache_dir() -> Path:
    from seldb.settings import default_data_dir

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
    app.state.ctx = Context(db, _templates(), plots)
    app.state.rating_only = rating_only
    return app
