"""`seldb uncertainty`: bootstrap intervals and a chance baseline for a stored run.

The same four options (--bootstrap, --permutations, --seed, --level) are
offered by `import-h5` and `ingest`, with 0 replicates (off) by default; they
are defined here once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from seldb_cli.common import console, database, friendly, split_list

Opt = typer.Option
Bootstrap = Annotated[int, Opt("--bootstrap", help="Bootstrap replicates (images resampled within each class).")]
Permutations = Annotated[
    int, Opt("--permutations", help="Permutation replicates (labels shuffled: the chance baseline).")
]
Seed = Annotated[int, Opt("--seed", help="Seed of the replicates: the same seed gives the same numbers.")]
Level = Annotated[float, Opt("--level", help="Confidence level of the intervals.")]

HELP = """\
Confidence intervals and a chance baseline for every scalar measure of every unit of a run.

\b
Bootstrap: the analysed images resampled with replacement within each class
(class sizes kept), every measure recomputed; intervals at --level, and how
often the replicates pick the point estimate's class. Permutations: the labels
shuffled across the analysed images, every measure recomputed; per unit a
p-value, per layer BH q-values and the null distribution. Needs the run's
activation file. Results: seldb.unit_measure_intervals, seldb.unit_measure_chance,
seldb.layer_measure_null; detector_claims.survives. docs/uncertainty.md explains.

\b
Examples:
  seldb uncertainty --run 3
  seldb uncertainty --run 3 --layers fc6,fc7 --bootstrap 1000 --permutations 0 --seed 7
"""


def print_uncertainty(result) -> None:
    """One line per call: what was computed, where it went."""
    kinds = [f"{n} {name}" for n, name in ((result.bootstrap, "bootstrap"), (result.permutations, "permutation")) if n]
    console.print(
        f"run {result.run_id}: {' + '.join(kinds)} replicates (seed {result.seed}, level {result.level:g}) for"
        f" {', '.join(result.layers)}: {result.rows:,} (unit, measure) rows in {result.seconds:.1f} s"
        f" ({result.engine} engine)",
        highlight=False,
    )


@friendly
def uncertainty_cmd(
    run: Annotated[int, Opt("--run", help="The run id (see `seldb runs`).")],
    layers: Annotated[str | None, Opt("--layers", help="Comma-separated layers (default: all).")] = None,
    bootstrap: Bootstrap = 200,
    permutations: Permutations = 200,
    seed: Seed = 0,
    level: Level = 0.95,
    replace: Annotated[
        bool,
        Opt(
            "--replace",
            help="With --bootstrap 0 or --permutations 0: drop the layers' stored rows of the other kind"
            " (by default a one-sided pass keeps them).",
        ),
    ] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    with database() as db:
        result = db.uncertainty(
            run,
            split_list(layers),
            bootstrap=bootstrap,
            permutations=permutations,
            seed=seed,
            level=level,
            replace=replace,
            progress=not quiet,
        )
    print_uncertainty(result)
    console.print(
        f'next: seldb report unit LAYER.UNIT --run {result.run_id}, or seldb sql "SELECT * FROM'
        f' seldb.unit_measure_intervals WHERE run_id = {result.run_id} LIMIT 10"',
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("uncertainty", help=HELP, no_args_is_help=True)(uncertainty_cmd)
