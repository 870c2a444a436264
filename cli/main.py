"""The `seldb` command: one typer app assembled from the command modules."""

from __future__ import annotations

import typer

from seldb_cli import core_cmds, db_cmds

app = typer.Typer(
    name="seldb",
    help=(
        "Is this unit really an object detector? seldb computes every selectivity measure "
        "(precision, CCMAS, localist margin, recall at precision 1, maximum informedness, ...) "
        "for every unit of a network and stores them in PostgreSQL behind SQL views.\n\n"
        "Start with `seldb demo`, then `seldb sql \"SELECT * FROM seldb.detector_claims LIMIT 5\"`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

db_cmds.register(app)
core_cmds.register(app)

for _optional in ("ingest_cmds", "report_cmds"):
    try:
        module = __import__(f"seldb_cli.{_optional}", fromlist=["register"])
    except ModuleNotFoundError as exc:  # a command group not built yet
        if exc.name != f"seldb_cli.{_optional}":
            raise
        continue
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
