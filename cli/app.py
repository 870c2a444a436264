"""The `seldb` typer app, assembled from the command modules (seldb_cli.main runs it)."""

from __future__ import annotations

import typer

from seldb_cli import (
    am_cmds,
    control_cmds,
    core_cmds,
    db_cmds,
    dissect_cmds,
    ingest_cmds,
    report_cmds,
    sae_cmds,
    serve_cmds,
    uncertainty_cmds,
)

app = typer.Typer(
    name="seldb",
    help=(
        "Is this unit really an object detector? seldb computes every selectivity measure "
        "(precision, CCMAS, localist margin, recall at precision 1, maximum informedness, ...) "
        "for every unit of a network and stores them in PostgreSQL behind SQL views.\n\n"
        'Start with `seldb demo`, then `seldb sql "SELECT * FROM seldb.detector_claims LIMIT 5"`.'
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

COMMANDS = (
    db_cmds,
    core_cmds,
    ingest_cmds,
    dissect_cmds,
    report_cmds,
    control_cmds,
    sae_cmds,
    am_cmds,
    uncertainty_cmds,
    serve_cmds,
)
for commands in COMMANDS:
    commands.register(app)
