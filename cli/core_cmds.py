"""`seldb import-h5`, `seldb runs ...` and `seldb concept ...`.

Each command parses its arguments, calls one method of the database handle and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from seldb.load.options import ON_DUPLICATE, ImportOptions, on_duplicate_option
from seldb_cli.common import confirmed, console, database, friendly, int_list, split_list, warn
from seldb_cli.output import Format, OutputFormat, print_rows
from seldb_cli.uncertainty_cmds import Bootstrap, Level, Permutations, Seed, print_uncertainty

IMPORT_HELP = """\
Import an activation file (HDF5) as a new run: every measure of every unit, in one transaction.

The file format is docs/activations.md (seldb format v1).

Examples:

  seldb import-h5 alexnet_val.h5

  seldb import-h5 acts.h5 --layers fc6,fc7 --all-images --bins 64 --top-k 10,60,100

  seldb import-h5 acts.h5 --nan-policy drop      # drop images with NaN/inf activations

  seldb import-h5 /shared/acts.h5 --engine ray --address 10.0.0.5:6379   # on a Ray cluster

By default only correctly classified images are analysed when the file has /images/pred.
The same file with the same options is imported once: --on-duplicate reuse returns that run,
replace imports it anew in its place, and --force adds another run beside it.

--engine ray measures the blocks of units as tasks on a Ray cluster (pip install 'seldb\\[ray]';
docs/ray.md): each worker reads its blocks from the file, which must then be at the same path on
every node (shared storage); --ship-blocks reads them here and sends them instead. The results come
back here and are loaded in one transaction: the rows are the same as with the local engine.
"""
Engine = Annotated[
    str,
    typer.Option(
        "--engine", help="Where to run: 'local' (this machine) or 'ray' (tasks on a Ray cluster, see docs/ray.md)."
    ),
]
Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="--engine ray: the cluster's head, HOST:PORT as `ray start --head` prints it (default:"
        " RAY_ADDRESS, else a Ray started on this machine for this command).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def print_import(result, verb: str = "imported") -> None:
    """What an import did, in one or two lines (import-h5 and ingest alike)."""
    for name in result.skipped_concepts:
        warn(f"concept {name!r} skipped: not all of its classes are in this run")
    for note in result.notes:
        warn(note)
    if result.reused:
        console.print(
            f"run {result.run_id}: already imported with these options (reused):"
            f" {result.n_units} units, {result.n_images_analysed} images analysed",
            highlight=False,
        )
    else:
        _print_imported(result, verb)
    if getattr(result, "uncertainty", None) is not None:
        print_uncertainty(result.uncertainty)


def _print_imported(result, verb: str) -> None:
    t = result.timings
    replaced = f", replacing run {', '.join(map(str, result.replaced))}" if result.replaced else ""
    console.print(
        f"run {result.run_id} {verb}{replaced}: {result.n_units} units, {result.n_images_analysed} images analysed"
        f" in {t['total_s']:.1f} s (validate {t['validate_s']:.1f} s{_waited(t)}; read {t['read_s']:.1f} s,"
        f" measures {t['measures_s']:.1f} s, COPY {t['copy_s']:.1f} s)",
        highlight=False,
    )


def _waited(timings: dict) -> str:
    """How much of the check-and-copy pass the import waited for, when it ran beside the measuring."""
    waited = timings.get("validate_wait_s")
    if waited is None or waited >= timings["validate_s"]:
        return ""
    return f", {waited:.1f} s of it waited for"


@friendly
def import_h5_cmd(
    file: Annotated[Path, typer.Argument(help="The activation file (.h5).")],
    model: Annotated[str | None, typer.Option(help="Model name to record (default: the file's `model`).")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Image set name to record (default: the file's `dataset`).")
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(help="Comma-separated layers to import (default: all); a comma inside a name is written \\,"),
    ] = None,
    all_images: Annotated[
        bool, typer.Option("--all-images", help="Analyse every image, not only correct ones.")
    ] = False,
    bins: Annotated[int, typer.Option(help="Histogram bins per (unit, class).")] = 32,
    top_k: Annotated[str, typer.Option("--top-k", help="k values for top-k precision (60 and 100 always).")] = "60,100",
    nan_policy: Annotated[
        str, typer.Option("--nan-policy", help="'error' (default) or 'drop' images with NaN/inf.")
    ] = "error",
    on_duplicate: Annotated[
        str,
        typer.Option(
            "--on-duplicate", help=f"When this file was imported with these options: {', '.join(ON_DUPLICATE)}."
        ),
    ] = "error",
    force: Annotated[bool, typer.Option("--force", help="Import again as another run (--on-duplicate new).")] = False,
    quiet: Quiet = False,
    bootstrap: Bootstrap = 0,
    permutations: Permutations = 0,
    seed: Seed = 0,
    level: Level = 0.95,
    engine: Engine = "local",
    address: Address = None,
    ship_blocks: Annotated[
        bool,
        typer.Option(
            "--ship-blocks",
            help=(
                "--engine ray: read the blocks here and send them to the workers (the file need not be on storage the"
                " nodes share; this machine's disk and network then bound the speed)."
            ),
        ),
    ] = False,
) -> None:
    options = ImportOptions(
        model=model,
        dataset=dataset,
        layers=split_list(layers),
        all_images=all_images,
        bins=bins,
        top_k=int_list(top_k, "--top-k") or (),
        nan_policy=nan_policy,
        on_duplicate="new" if force else on_duplicate_option(on_duplicate),
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
        level=level,
        engine=engine,
        address=address,
        ship_blocks=ship_blocks,
    )
    with database() as db:
        result = db.import_h5(file, options, progress=not quiet)
    print_import(result)
    console.print(f'next: seldb sql "SELECT * FROM seldb.unit_measures WHERE run_id = {result.run_id} LIMIT 10"')


runs_app = typer.Typer(name="runs", help="List, show and delete imported runs.", invoke_without_command=True)


@runs_app.callback()
@friendly
def runs_list(ctx: typer.Context, fmt: Format = OutputFormat.table) -> None:
    """List runs with what tells them apart: source, layers, options, file.

    `seldb runs show ID` prints everything recorded about one run; `seldb runs delete ID` deletes it.
    Every column of every run: seldb sql "SELECT * FROM seldb.runs".
    """
    if ctx.invoked_subcommand:
        return
    with database() as db:
        columns, rows = db.runs_overview()
    if not rows and fmt == OutputFormat.table:
        console.print("no run yet: `seldb demo`, `seldb ingest` or `seldb import-h5 FILE` make one")
        return
    print_rows(columns, rows, fmt)


@runs_app.command("show")
@friendly
def runs_show(run_id: Annotated[int, typer.Argument(help="The run id (see `seldb runs`).")]) -> None:
    """Everything recorded about one run: provenance, options, counts, timings."""
    with database() as db:
        record = db.show_run(run_id)
    console.print_json(json.dumps(record, default=str))


@runs_app.command("delete")
@friendly
def runs_delete(
    run_id: Annotated[int, typer.Argument(help="The run id (see `seldb runs`).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (never asked without a terminal).")] = False,
) -> None:
    """Delete a run and everything measured in it."""
    if not confirmed(f"delete run {run_id} and all its measures?", yes):
        raise typer.Exit(1)
    with database() as db:
        db.delete_run(run_id)
    console.print(f"run {run_id} deleted")


concept_app = typer.Typer(
    name="concept",
    help="Concepts: named sets of classes measured as one target (the paper's Tables A3-A5).",
    no_args_is_help=True,
)


@concept_app.command("add")
@friendly
def concept_add(
    name: Annotated[str, typer.Argument(help="Concept name, e.g. bus.")],
    classes: Annotated[str, typer.Option("--classes", help="Comma-separated class keys or names.")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing concept of this name.")] = False,
) -> None:
    """Define a concept, e.g. `seldb concept add bus --classes n04146614,n04487081,n03769881`.

    Every later import measures it in each run that has all of its classes;
    `seldb concept compute NAME --run ID` adds it to an existing run.
    """
    with database() as db:
        stored = db.add_concept(name, split_list(classes) or [], replace=replace)
    console.print(f"concept {name}: {', '.join(stored)}", highlight=False)


@concept_app.command("list")
@friendly
def concept_list(fmt: Format = OutputFormat.table) -> None:
    """List the concepts and their classes."""
    with database() as db:
        concepts = db.list_concepts()
    print_rows(["concept", "classes"], [(c["name"], ", ".join(c["class_names"])) for c in concepts], fmt)


@concept_app.command("delete")
@friendly
def concept_delete(
    name: Annotated[str, typer.Argument(help="The concept.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (never asked without a terminal).")] = False,
) -> None:
    """Delete a concept and its measures in every run; later imports no longer mention it."""
    if not confirmed(f"delete concept {name} and its measures in every run?", yes):
        raise typer.Exit(1)
    with database() as db:
        db.delete_concept(name)
    console.print(f"concept {name} deleted", highlight=False)


@concept_app.command("compute")
@friendly
def concept_compute(
    name: Annotated[str, typer.Argument(help="The concept.")],
    run: Annotated[int, typer.Option("--run", help="The run (its activation file must still be there).")],
    quiet: Quiet = False,
) -> None:
    """Measure a concept for an existing run, from the run's activation file."""
    with database() as db:
        rows = db.compute_concept(name, run, progress=not quiet)
    console.print(f"concept {name}: {rows} units measured in run {run}")


def register(app: typer.Typer) -> None:
    app.command("import-h5", help=IMPORT_HELP)(import_h5_cmd)
    app.add_typer(runs_app)
    app.add_typer(concept_app)
