"""`seldb control superposition`: the paper's positive control, trained and imported as runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seldb.control.options import DEFAULT_HIDDEN, DEFAULT_OUT, DEFAULT_SEEDS, ControlOptions
from seldb.load.options import ON_DUPLICATE, on_duplicate_option
from seldb_cli.common import console, database, friendly

control_app = typer.Typer(
    name="control",
    help="Positive controls: networks in which selective units are expected, measured like any other run.",
    no_args_is_help=True,
)

SUPERPOSITION_HELP = """Train recurrent networks of immediate serial recall with and without the superposition constraint (Bowers et al. 2014, after Botvinick & Plaut 2006) and import their hidden units as runs.

Per seed, two networks start from the same weights and learn the same lists of three-letter words. superposition: a list's words are presented one by one, then recalled in order, so several are held at once. single: each word is recalled right after it is presented, so one is held at a time.

Each network is trained until 95% of the evaluation lists are recalled exactly; its hidden layer is then recorded at every step and imported four times: labelled by the word each step is about (model rnn-superposition or rnn-single, dataset control-word) and by that word's letter in slot 1, 2 and 3 (control-letter-slotN). Rerunning the same seeds reuses the runs (the files are the same).

\b
Examples:
  seldb control superposition --seeds 1
  seldb control superposition --cell lstm --out control-lstm
  seldb report control --plot --out figures/"""  # noqa: E501 (typer rewraps the paragraphs)


@control_app.command("superposition", help=SUPERPOSITION_HELP)
@friendly
def superposition_cmd(
    seeds: Annotated[
        int, typer.Option(help="Networks per condition, seeds --first-seed, --first-seed + 1, ...")
    ] = DEFAULT_SEEDS,
    hidden: Annotated[int, typer.Option(help="Hidden units of the recurrent layer.")] = DEFAULT_HIDDEN,
    cell: Annotated[str, typer.Option(help="rnn (logistic recurrent units) or lstm.")] = "rnn",
    out: Annotated[Path, typer.Option(help="Directory for the activation files.")] = Path(DEFAULT_OUT),
    first_seed: Annotated[int, typer.Option("--first-seed", help="The first seed.")] = 0,
    on_duplicate: Annotated[
        str,
        typer.Option("--on-duplicate", help=f"A file imported before with these options: {', '.join(ON_DUPLICATE)}."),
    ] = "reuse",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no line per network.")] = False,
) -> None:
    options = ControlOptions(
        seeds=seeds,
        hidden=hidden,
        cell=cell,
        out=out,
        first_seed=first_seed,
        on_duplicate=on_duplicate_option(on_duplicate),
    )
    options.validate()  # one line for a bad option before the database is opened
    with database() as db:
        result = db.control_superposition(options, notify=None if quiet else _say, progress=not quiet)
    for net in result.networks:
        runs = ", ".join(f"{space} {run}" for space, run in net.runs.items())
        reused = " (reused)" if net.reused else ""
        console.print(f"{net.model} seed {net.seed}: runs {runs}{reused}", highlight=False)
    console.print(
        f"{len(result.run_ids)} runs in {result.seconds:.0f} s; activation files in {result.out}", highlight=False
    )
    console.print("next: seldb report control --plot --out figures/", highlight=False)


def _say(line: str) -> None:
    console.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(control_app)
