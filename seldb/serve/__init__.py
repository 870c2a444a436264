"""`seldb serve`: a local web app to browse runs, units and layers, and to run the rating study.

Pages read the views of schema seldb through the app's one `Seldb` handle,
in read-only transactions; the only write is a rater's answer, stored in the
table `seldb import ratings` fills. Plots are the reports' own, drawn on
demand and cached. Stack: Starlette (ASGI routing, forms, static files),
Jinja2 templates with autoescaping, uvicorn, and htmx 2 served from the
package (static/htmx-2.0.11.min.js, from the npm package htmx.org): no
build step, nothing fetched from elsewhere. docs/serve.md explains the
pages, the rating study and the choices.

    from seldb.serve import create_app           # an ASGI app on a handle
    from seldb.serve.server import ServeOptions, serve

Importing this package imports no web framework; its modules do.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    """seldb.serve.app.create_app (imported when first called)."""
    from seldb.serve.app import create_app as make

    return make(*args, **kwargs)
