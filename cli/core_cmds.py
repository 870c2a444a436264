"""`seldb import-h5`, `seldb runs ...` and `seldb concept ...`.

Each command parses its arguments, calls one seldb function and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from seldb_cli.common import confirmed, console, err_console, friendly

IMPORT_HELP = """\
Import an activation file (HDF5, seldb format v1) as a new run: compute every selectivity
measure for every unit and load it into PostgreSQL in one transaction.

Examples:

  seldb import-h5 alexnet_val.h5

  seldb import-h5 acts.h5 --layers fc6,fc7 --all-images --bins 64 --top-k 10,60,100

  seldb import-h5 acts.h5 --nan-policy drop      # drop images with NaN/inf activations

By default only correctly classified images are analysed when the file has /images/pred.
The same file with the same options is imported once; --force imports it again.
"""


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, e.g. 60,100") from None


@friendly
def import_h5_cmd(
    file: Path = typer.Argument(..., help="The activation file (.h5)."),
    model: Optional[str] = typer.Option(None, help="Model name to record (default: the file's `model` attribute)."),
    dataset: Optional[str] = typer.Option(None, help="Image set name to record (default: the file's `dataset`)."),
    layers: Optional[str] = typer.Option(None, help="Comma-separated layers to import (default: all)."),
    all_images: bool = typer.Option(False, "--all-images", help="Analyse every image, not only correct ones."),
    bins: int = typer.Option(32, help="Histogram bins per (unit, class)."),
    top_k: str = typer.Option("60,100", "--top-k", help="k values for top-k precision (60 and 100 always)."),
    nan_policy: str = typer.Option("error", "--nan-policy", help="'error' (default) or 'drop' images with NaN/inf."),
    force: bool = typer.Option(False, "--force", help="Import again even if this file and options are in a run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from seldb.importer import run_import

    result = run_import(
        file, force=force, progress=not quiet, model=model, dataset=dataset,
        layers=[name.strip() for name in layers.split(",") if name.strip()] if layers else None,
        all_images=all_images, bins=bins, top_k=_int_list(top_k, "--top-k"), nan_policy=nan_policy,
    )  # fmt: skip
    for name in result.skipped_concepts:
        err_console.print(f"concept {name!r} skipped: not all of its classes are in this run", highlight=False)
    t = result.timings
    console.print(
        f"run {result.run_id}: {result.n_units} units, {result.n_images_analysed} images analysed "
        f"in {t['total_s']:.1f} s (validate {t['validate_s']:.1f} s; read {t['read_s']:.1f} s, measures {t['measures_s']:.1f} s, "
        f"COPY {t['copy_s']:.1f} s)",
        highlight=False,
    )
    console.print(f'next: seldb sql "SELECT * FROM seldb.unit_measures WHERE run_id = {result.run_id} LIMIT 10"')


runs_app = typer.Typer(name="runs", help="List, show and delete imported runs.", invoke_without_command=True)


@runs_app.callback()
@friendly
def runs_list(ctx: typer.Context) -> None:
    """List runs (`seldb runs`); `seldb runs show ID`, `seldb runs delete ID`."""
    if ctx.invoked_subcommand:
        return
    from seldb.runs import list_runs

    rows = list_runs()
    if not rows:
        console.print("no run yet: `seldb demo`, `seldb ingest` or `seldb import-h5 FILE` make one")
        return
    table = Table("run", "model", "dataset", "created", "layers", "units", "images analysed", "only correct")
    for r in rows:
        table.add_row(str(r["run_id"]), r["model"], r["dataset"], f"{r['created_at']:%Y-%m-%d %H:%M}",
                      r["layers"] or "", str(r["n_units"] or 0), str(r["n_images_analysed"]), str(r["only_correct"]))  # fmt: skip
    console.print(table)


@runs_app.command("show")
@friendly
def runs_show(run_id: int = typer.Argument(..., help="The run id (see `seldb runs`).")) -> None:
    """Everything recorded about one run: provenance, options, counts, timings."""
    from seldb.runs import show_run

    record = show_run(run_id)
    console.print_json(json.dumps(record, default=str))


@runs_app.command("delete")
@friendly
def runs_delete(
    run_id: int = typer.Argument(..., help="The run id (see `seldb runs`)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (never asked without a terminal)."),
) -> None:
    """Delete a run and everything measured in it."""
    from seldb.runs import delete_run

    if not confirmed(f"delete run {run_id} and all its measures?", yes):
        raise typer.Exit(1)
    delete_run(run_id)
    console.print(f"run {run_id} deleted")


concept_app = typer.Typer(
    name="concept",
    help="Concepts: named sets of classes measured as one target (the paper's Tables A3-A5).",
    no_args_is_help=True,
)


@concept_app.command("add")
@friendly
def concept_add(
    name: str = typer.Argument(..., help="Concept name, e.g. bus."),
    classes: str = typer.Option(..., "--classes", help="Comma-separated class keys or names."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing concept of this name."),
) -> None:
    """Define a concept, e.g. `seldb concept add bus --classes n04146614,n04487081,n03769881`.

    Every later import measures it in each run that has all of its classes;
    `seldb concept compute NAME --run ID` adds it to an existing run.
    """
    from seldb.concepts import add_concept

    stored = add_concept(name, classes.split(","), replace=replace)
    console.print(f"concept {name}: {', '.join(stored)}", highlight=False)


@concept_app.command("list")
@friendly
def concept_list() -> None:
    """List the concepts and their classes."""
    from seldb.concepts import list_concepts

    table = Table("concept", "classes")
    for c in list_concepts():
        table.add_row(c["name"], ", ".join(c["classes"]))
    console.print(table)


@concept_app.command("compute")
@friendly
def concept_compute(
    name: str = typer.Argument(..., help="The concept."),
    run: int = typer.Option(..., "--run", help="The run (its activation file must still be there)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Measure a concept for an existing run, from the run's activation file."""
    from seldb.concepts import compute_concept

    rows = compute_concept(name, run, progress=not quiet)
    console.print(f"concept {name}: {rows} units measured in run {run}")


def register(app: typer.Typer) -> None:
    app.command("import-h5", help=IMPORT_HELP)(import_h5_cmd)
    app.add_typer(runs_app)
    app.add_typer(concept_app)
