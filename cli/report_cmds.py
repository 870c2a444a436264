"""`seldb report ...` (the paper's tables and figures) and `seldb import ...` (other tools' results).

Thin commands over seldb.reports, seldb.netdissect and seldb.ratings: parse
the options, call one library function, print the Report it returns (a rich
table, or CSV / JSON / Markdown on stdout) and write its files under --out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from seldb_cli.common import console, database, err_console, friendly, int_list, split_list
from seldb_cli.output import Digits, Format, OutputFormat, print_rows, write

report_app = typer.Typer(
    name="report",
    help=(
        "The paper's tables and figures for any run, each read from a view of schema seldb "
        "(so a BI tool can query the same numbers). --run defaults to the latest run; "
        "--format table|csv|json|markdown; --out DIR also writes files (and plots) there."
    ),
    no_args_is_help=True,
)
import_app = typer.Typer(
    name="import",
    help="Import other tools' results into a run: Network Dissection tallies, human ratings of AM images.",
    no_args_is_help=True,
)

Run = Annotated[int | None, typer.Option("--run", help="Run id (default: the latest complete run).")]
Out = Annotated[Path | None, typer.Option("--out", help="Also write the report (and plots) into this directory.")]
IncludeDead = Annotated[
    bool,
    typer.Option(
        "--include-dead", help="Keep the dead units (never above their lowest value), which are left out by default."
    ),
]
CLASS_HELP = "Class of interest: name or key, any case (default: the unit's precision class)."


def _emit(report, fmt: OutputFormat, out: Path | None, digits: int = 4) -> None:
    """Print the report in `fmt`, write it under `out`, and list the files written."""
    if fmt == OutputFormat.table:
        console.print(f"[bold]{escape(report.title)}[/]", highlight=False)
        for note in report.notes:
            console.print(escape(note), highlight=False)
        for section in report.sections:
            columns, rows = section.rows(brief=True)
            title = None if section.title == report.title else section.title
            print_rows(columns, rows, fmt, digits, title=title)
    else:
        if fmt == OutputFormat.csv:  # CSV has no room for prose: the notes go to stderr
            for note in report.notes:
                err_console.print(escape(note), highlight=False, soft_wrap=True)
        write(report.to_text(fmt.value, digits))
    written = report.save(out, "csv" if fmt == OutputFormat.table else fmt.value) if out else []
    for path in written + report.files:
        err_console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@report_app.command("correlations")
@friendly
def correlations_cmd(
    run: Run = None,
    layer: Annotated[str | None, typer.Option(help="One layer, or 'all' for all layers together.")] = None,
    include_dead: IncludeDead = False,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """Pearson r and Spearman rho, with p-values, between the measures across units (Table A2).

    Example: seldb report correlations --layer fc6 --format markdown
    """
    with database() as db:
        _emit(db.reports.correlations(run, layer, include_dead), fmt, out, digits)


@report_app.command("layers")
@friendly
def layers_cmd(
    run: Run = None,
    measure: Annotated[str | None, typer.Option(help="Comma-separated measures (default: all).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Write one box-plot PNG per measure (to --out or .).")] = False,
    include_dead: IncludeDead = False,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """Per layer and measure: n, mean, sem, median, quartiles, min, max (Figure 2).

    Example: seldb report layers --measure ccmas,max_informedness --plot --out figures/
    """
    with database() as db:
        report = db.reports.layers(
            run, split_list(measure), plot=plot, out_dir=out or Path("."), include_dead=include_dead
        )
        _emit(report, fmt, out, digits)


@report_app.command("top")
@friendly
def top_cmd(
    run: Run = None,
    measure: Annotated[str | None, typer.Option(help="Measure(s) to rank by, comma-separated.")] = None,
    n: Annotated[int, typer.Option("--n", help="Units per measure.")] = 10,
    lowest: Annotated[bool, typer.Option("--lowest", help="The lowest values instead of the highest.")] = False,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """The top units per measure with all the other measures beside them (Table A1).

    Without --measure: precision_60, ccmas, recall_p1 and max_informedness.
    The terminal table shows the main columns; csv, json and markdown have every column.
    Example: seldb report top --measure precision_60 --n 20
    """
    with database() as db:
        _emit(db.reports.top(run, split_list(measure), n=n, lowest=lowest), fmt, out, digits)


@report_app.command("unit")
@friendly
def unit_cmd(
    unit: Annotated[str, typer.Argument(help="Unit label <layer>.<unit>, e.g. fc6.1199.")],
    run: Run = None,
    class_name: Annotated[str | None, typer.Option("--class", help=CLASS_HELP)] = None,
    n: Annotated[int, typer.Option("--n", help="Classes and top images to list.")] = 10,
    plot: Annotated[bool, typer.Option("--plot", help="Write the Figure 3 PNG and its JSON sidecar.")] = False,
    from_db: Annotated[
        bool, typer.Option("--from-db", help="Plot from the database even if the file is there.")
    ] = False,
    top_images: Annotated[
        int | None,
        typer.Option("--top-images", help="Write a contact sheet of the unit's N most active images (to --out or .)."),
    ] = None,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """Everything about one unit; --plot draws it like Figure 3.

    The plot uses the exact activations from the run's activation file when it is still there.
    Without the file it uses the quantised histograms in the database; the plot and its sidecar say which.
    Example: seldb report unit fc6.1199 --class "monarch" --plot --out figures/
    """
    with database() as db:
        report = db.reports.unit(
            unit, run, class_name, n=n, plot=plot, out_dir=out or Path("."), use_file=not from_db, top_images=top_images
        )
    _emit(report, fmt, out, digits)


@report_app.command("concept")
@friendly
def concept_cmd(
    concept: Annotated[str, typer.Argument(help="Concept name (see `seldb concept list`).")],
    run: Run = None,
    units: Annotated[str | None, typer.Option(help="Comma-separated unit labels (default: every unit).")] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            help=(
                "Sort by this column, highest first, or 'network' for network order (default: the concept's IoU"
                " where the run has Network Dissection results, else its precision_100)."
            )
        ),
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Only the first N rows.")] = None,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """The concept's measures per unit, with Network Dissection IoU where imported (Tables A3-A5).

    Example: seldb report concept bus --units fc6.1199,fc8.779
    """
    with database() as db:
        _emit(db.reports.concept(concept, run, split_list(units), sort=sort, n=n), fmt, out, digits)


@report_app.command("detectors")
@friendly
def detectors_cmd(run: Run = None, fmt: Format = OutputFormat.table, out: Out = None, digits: Digits = 4) -> None:
    """Units the precision criterion (> 0.75) calls object detectors, how good they are, and a verdict.

    Their AM images (seldb am) are listed where they have one, and drawn as one grid under --out.
    """
    with database() as db:
        _emit(db.reports.detectors(run, out), fmt, out, digits)


@report_app.command("compare")
@friendly
def compare_cmd(
    runs: Annotated[str, typer.Option("--runs", help="Two run ids, A,B (e.g. neurons and their SAE's latents).")],
    layers: Annotated[
        str | None, typer.Option("--layers", help="One layer for both runs, or one per run: A's,B's (default: all).")
    ] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Write one PNG of paired box plots (to --out or .).")] = False,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """Two runs side by side: per measure the quartiles and the share meeting the paper's criteria, units per
    verdict, and whether B is more selective by the strict measures or only by precision.

    Example: seldb report compare --runs 1,2 --layers fc1,fc1.sae --plot --out figures/
    """
    ids = int_list(runs, "--runs") or []
    with database() as db:
        report = db.reports.compare(ids, split_list(layers), plot=plot, out_dir=out or Path("."))
        _emit(report, fmt, out, digits)


@report_app.command("ratings")
@friendly
def ratings_cmd(run: Run = None, fmt: Format = OutputFormat.table, out: Out = None, digits: Digits = 4) -> None:
    """Human ratings of AM images per layer (Table 1), from `seldb import ratings`."""
    with database() as db:
        _emit(db.reports.ratings(run), fmt, out, digits)


@report_app.command("control")
@friendly
def control_cmd(
    runs: Annotated[
        str | None,
        typer.Option("--runs", help="Comma-separated control runs (default: the latest run of every control network)."),
    ] = None,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot", help="Write the box plots and the jitterplots of the most selective units (to --out or .)."
        ),
    ] = False,
    fmt: Format = OutputFormat.table,
    out: Out = None,
    digits: Digits = 4,
) -> None:
    """The positive control (`seldb control superposition`): selective units per condition and seed, a verdict.

    Counts and shares of localist units, recall at precision 1 >= 0.99 and >= 0.5, max informedness
    >= 0.99 and precision_60 > 0.75, per condition and seed and as mean +- sd across seeds.
    Example: seldb report control --plot --out figures/
    """
    with database() as db:
        report = db.reports.control(int_list(runs, "--runs"), plot=plot, out_dir=out or Path("."))
    _emit(report, fmt, out, digits)


@import_app.command("netdissect")
@friendly
def import_netdissect_cmd(
    file: Annotated[Path, typer.Argument(help="NetDissect or NetDissect-Lite tally.csv.")],
    run: Annotated[int, typer.Option("--run", help="The run whose units were dissected.")],
    layer: Annotated[str, typer.Option("--layer", help="The run's layer the tally is of.")],
    one_based: Annotated[
        bool,
        typer.Option(
            "--one-based/--zero-based",
            help="The file numbers units from 1 (every NetDissect tally.csv and the NetDissect website;"
            " default) or from 0 (seldb's numbering).",
        ),
    ] = True,
) -> None:
    """Import a Network Dissection tally.csv for one layer (replaces that layer's earlier tally).

    The IoU then shows in seldb.netdissect and in seldb.concept_measures' `iou` column; units are
    stored 0-based, so the website's unit 17 of conv5 is seldb's conv5.16.
    Example: seldb import netdissect result/tally.csv --run 3 --layer conv5
    """
    with database() as db:
        done = db.import_netdissect(file, run, layer, one_based)
    console.print(f"run {done.run_id}, layer {done.layer}: {done.n_units} units, {done.n_labels} labels imported")
    console.print(
        f'next: seldb sql "SELECT * FROM seldb.netdissect WHERE run_id = {done.run_id} AND is_top LIMIT 10"',
        soft_wrap=True,
    )


@import_app.command("ratings")
@friendly
def import_ratings_cmd(
    file: Annotated[Path, typer.Argument(help="CSV: unit, rater, judged_object (yes/no), label.")],
    run: Annotated[int, typer.Option("--run", help="The run whose units were rated.")],
    synonyms: Annotated[Path | None, typer.Option(help="Synonym groups, one comma-separated group a line.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the earlier ratings of the file's raters (others stay).")
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="key.json of a `seldb am sheet` page: FILE is a rater's download from it."),
    ] = None,
) -> None:
    """Import human ratings of activation-maximisation images (the paper's Table 1).

    Example: seldb import ratings am_ratings.csv --run 3 --synonyms synonyms.txt
    A rater's answers from `seldb am sheet`: seldb import ratings answers.csv --run 3 --key study/key.json
    """
    with database() as db:
        done = db.import_ratings(file, run, synonyms=synonyms, replace=replace, key=key)
    console.print(f"run {done.run_id}: {done.n_ratings} ratings of {done.n_units} units by {done.n_raters} raters")
    console.print(f"next: seldb report ratings --run {done.run_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app)
    app.add_typer(import_app)
