"""How a page of `seldb serve` is rendered: the app's shared context, the templates, fragments.

Every page module renders through here and never imports the app itself
(seldb.serve.app mounts the pages), so the import runs one way: app -> pages
-> render.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from seldb.db.database import Database
from seldb.serve import formatting
from seldb.serve.images import ImageCache
from seldb.serve.plots import PlotCache
from seldb.serve.security import CSRF_FIELD, CsrfTokens


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


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("seldb.serve", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    formatting.install(env)
    return Jinja2Templates(env=env)
