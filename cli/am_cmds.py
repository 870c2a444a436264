"""`seldb am` (activation-maximisation images of a run's units) and `seldb am sheet` (the rating page).

Thin commands over the handle's `activation_maximisation` and `am_sheet`
(seldb.am): parse the options, make one call, print one line per image with
what it does to its unit beside the unit's best dataset image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from seldb.render import table_text
from seldb_cli.common import console, database, err_console, friendly, interrupted, split_list, warn
from seldb_cli.output import table_width, write

Opt = typer.Option
AM_HELP = """Activation maximisation: an image of what each unit responds to, made from the run's own network.

\b
Examples:
  seldb am --run 3 --units fc8.1,fc8.7
  seldb am --run 3 --top 10 --by precision_60 --layer fc6 --steps 512 --seed 0
  seldb am --run 3 --units conv5.12 --objective centre --samples 10
  seldb am --run 1 --top 10 --layer fc1 --generator seldb.demo_generator:digit_generator
  seldb am sheet --run 3 --units fc6.1199,fc8.779 --out study/ --samples 10

\b
The images are PNGs under the data directory (or --out), one row each in
seldb.am_images beside the unit's highest dataset activation. A rerun with the
same options reuses them; --force makes them again. Needs a run made by
`seldb ingest` (it records the network). See docs/am.md for the method."""

am_app = typer.Typer(name="am", help=AM_HELP, invoke_without_command=True)
Run = Annotated[int | None, Opt("--run", help="Run id (default: the latest run).")]
COLUMNS = ["unit", "activation", "dataset max", "above", "reference", "path"]


@am_app.callback()
@friendly
def am_command(
    ctx: typer.Context,
    run: Run = None,
    units: Annotated[str | None, Opt("--units", help="Comma-separated unit labels, e.g. fc8.1,fc8.7.")] = None,
    top: Annotated[int | None, Opt("--top", help="Or the N live units with the highest --by.")] = None,
    by: Annotated[str, Opt("--by", help="The measure --top ranks by.")] = "precision_60",
    layer: Annotated[str | None, Opt("--layer", help="With --top: only this layer.")] = None,
    steps: Annotated[int, Opt("--steps", help="Optimisation steps.")] = 512,
    seed: Annotated[int, Opt("--seed", help="Seed of the starting image and the random transforms.")] = 0,
    size: Annotated[int | None, Opt("--size", help="Image side in pixels (default: the run's input size).")] = None,
    method: Annotated[
        str | None,
        Opt(
            "--method", help="fft-decorrelated (colour) or fft-gray. Default: fft-gray when the run's images are grey."
        ),
    ] = None,
    objective: Annotated[
        str, Opt("--objective", help="channel (a conv unit's spatial mean) or centre (its centre neuron, cropped).")
    ] = "channel",
    samples: Annotated[int, Opt("--samples", help="Samples per unit (seeds --seed, --seed+1, ...), made diverse.")] = 1,
    diversity: Annotated[
        float | None, Opt("--diversity", help="Weight of the term that pushes a unit's samples apart (default 1).")
    ] = None,
    batch: Annotated[int, Opt("--batch", help="Images optimised per forward/backward pass.")] = 64,
    generator: Annotated[
        str | None,
        Opt("--generator", help="MODULE:FN of a generator prior: sample codes with PPGN's update (docs/am.md)."),
    ] = None,
    pre_relu: Annotated[bool, Opt("--pre-relu", help="Maximise the layer's pre-ReLU output instead.")] = False,
    device: Annotated[str | None, Opt("--device", help="cpu, cuda or cuda:N (default: cuda if available).")] = None,
    out: Annotated[Path | None, Opt("--out", help="Directory for new PNGs (default: <data dir>/am/run<ID>).")] = (None),
    threads: Annotated[
        int | None, Opt("--threads", help="CPU threads (the CPU bytes depend on it; recorded). Default: torch's.")
    ] = None,
    force: Annotated[bool, Opt("--force", help="Make the images again, replacing row and file.")] = False,
    quiet: Annotated[bool, Opt("--quiet", help="No progress bar.")] = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from seldb.am.options import AMOptions

    options = AMOptions(
        run=run,
        units=tuple(split_list(units) or ()),
        top=top,
        by=by,
        layer=layer,
        steps=steps,
        seed=seed,
        size=size,
        method=method,
        objective=objective,
        samples=samples,
        diversity=diversity,
        batch=batch,
        generator=generator,
        pre_relu=pre_relu,
        device=device,
        out=out,
        force=force,
        threads=threads,
    )
    from seldb.am.command import AMInterrupted

    with database() as db:
        try:
            made = db.activation_maximisation(options, progress=not quiet, notify=warn)
        except AMInterrupted as exc:
            interrupted(exc.cause, exc.summary())
            return
    rows = [
        (r.unit_label, r.activation, r.dataset_max, _above(r.exceeds_dataset_max), r.reference_activation, str(r.path))
        for r in made
    ]
    write(table_text(COLUMNS, rows, table_width()))
    reused = sum(r.reused for r in made)
    err_console.print(
        f"({len(made)} image{'s' if len(made) != 1 else ''}, {len(made) - reused} made, {reused} reused)",
        highlight=False,
    )
    below = [r.unit_label for r in made if r.exceeds_dataset_max is False]
    if below:
        console.print(
            escape(f"not driven above their highest dataset activation: {', '.join(below)}"),
            highlight=False,
            soft_wrap=True,
        )


def _above(exceeds: bool | None) -> str:
    return "?" if exceeds is None else "yes" if exceeds else "no"


@am_app.command("sheet")
@friendly
def sheet_command(
    units: Annotated[str, Opt("--units", help="Comma-separated unit labels to rate.")],
    out: Annotated[Path, Opt("--out", help="Directory for index.html and key.json.")],
    run: Run = None,
    seed: Annotated[int | None, Opt("--seed", help="Seed of the page's order (default: drawn, recorded).")] = None,
    samples: Annotated[
        int | None, Opt("--samples", help="Images per panel: the first N of each unit's newest sample set.")
    ] = None,
) -> None:
    """The blinded rating page (no unit ids, measures or classes; a seeded random order) and its key.

    Raters open index.html, answer, and press Download answers; import each CSV with
    seldb import ratings ANSWERS.csv --run ID --key DIR/key.json
    """
    with database() as db:
        sheet = db.am_sheet(split_list(units) or [], out, run, seed, samples)
    console.print(
        f"wrote {sheet.html} ({sheet.n_items} units, sheet {sheet.sheet_id}, seed {sheet.seed})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"wrote {sheet.key} (keep it from the raters)", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(am_app)
