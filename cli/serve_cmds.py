"""`seldb serve` (the local web app) and `seldb study` (rating studies the app asks raters in the browser).

Thin commands over the handle: `db.serve(ServeOptions(...))` runs until
Ctrl-C; `db.add_study(key, name)` registers a rating sheet made by `seldb am
sheet`; `db.list_studies()` lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seldb.render import table_text
from seldb_cli.common import console, database, err_console, friendly, interrupted, warn
from seldb_cli.output import table_width, write

Opt = typer.Option
SERVE_HELP = """A local web app: every run and unit with its measures, plots, images and labels; rating studies.

\b
Examples:
  seldb serve                          # http://127.0.0.1:8765/
  seldb serve --port 9000 --open
  seldb serve --host 0.0.0.0 --rating-only    # raters on the network see the studies only

\b
It reads the database seldb uses (SELDB_DATABASE_URL or the embedded server)
through its views and writes nothing but raters' answers. It listens on
127.0.0.1 (this machine only) unless --host says otherwise. See docs/serve.md."""

STUDY_HELP = """Rating studies: a blinded sheet of `seldb am sheet`, answered in the browser at /rate/<name>.

\b
Examples:
  seldb am sheet --run 3 --units fc8.1,fc8.7,fc6.1199 --out study/
  seldb study add study/key.json --name fc-pilot
  seldb serve          # raters open http://127.0.0.1:8765/rate/fc-pilot
  seldb study list"""

study_app = typer.Typer(name="study", help=STUDY_HELP, no_args_is_help=True)


@friendly
def serve_command(
    host: Annotated[
        str, Opt("--host", help="Address to listen on; anything but loopback is reachable from the network.")
    ] = "127.0.0.1",
    port: Annotated[int, Opt("--port", help="Port to listen on.")] = 8765,
    open_browser: Annotated[bool, Opt("--open", help="Open the app in the default web browser.")] = False,
    cache: Annotated[
        Path | None, Opt("--cache", help="Where plots drawn on demand are kept (default: <data dir>/serve-cache).")
    ] = None,
    rating_only: Annotated[bool, Opt("--rating-only", help="Serve the rating studies only (/rate), for raters.")] = (
        False
    ),
) -> None:
    """Serve the local web app until Ctrl-C."""
    from seldb.errors import Terminated
    from seldb.serve.server import ServeOptions

    options = ServeOptions(host=host, port=port, open_browser=open_browser, cache_dir=cache, rating_only=rating_only)
    try:
        with database() as db:
            db.serve(options, notify=lambda line: console.print(line, highlight=False, soft_wrap=True), warn=warn)
    except KeyboardInterrupt as exc:  # Ctrl-C is how a server is stopped: answers are committed one by one
        if isinstance(exc, Terminated):
            interrupted(exc, "the server stopped; every rating was saved as it was given")
    err_console.print("stopped", highlight=False)


@study_app.command("add")
@friendly
def study_add(
    key: Annotated[Path, typer.Argument(help="The sheet's key.json (seldb am sheet --out DIR writes DIR/key.json).")],
    name: Annotated[
        str | None, Opt("--name", help="The study's name, its address /rate/<name> (default: sheet-<id>).")
    ] = None,
    run: Annotated[int | None, Opt("--run", help="The run, for a key that does not record it.")] = None,
) -> None:
    """Register a rating sheet as a study that `seldb serve` asks raters at /rate/<name>."""
    with database() as db:
        study = db.add_study(key, name, run)
    console.print(
        f"study {study.name}: {study.n_items} items of run {study.run_id} (sheet {study.sheet});"
        f" raters open /rate/{study.name} of seldb serve",
        highlight=False,
        soft_wrap=True,
    )


@study_app.command("list")
@friendly
def study_list() -> None:
    """Every rating study with its items, raters and ratings."""
    with database() as db:
        studies = db.list_studies()
    columns = ["study", "run_id", "sheet", "n_items", "n_raters", "n_ratings", "created_at"]
    rows = [tuple(s[c] for c in columns) for s in studies]
    if not rows:
        err_console.print("no rating study yet: seldb study add DIR/key.json", highlight=False)
        return
    write(table_text(columns, rows, table_width()))


def register(app: typer.Typer) -> None:
    app.command("serve", help=SERVE_HELP)(serve_command)
    app.add_typer(study_app)
