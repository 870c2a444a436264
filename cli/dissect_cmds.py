"""`seldb dissect`: a thin wrapper over `db.dissect(DissectOptions(...))` (seldb.dissect.command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seldb.dissect.options import DissectOptions
from seldb_cli.common import (
    Arch,
    ModelModule,
    ModelName,
    NumClasses,
    Weights,
    console,
    database,
    friendly,
    split_list,
    warn,
)

DISSECT_HELP = """Network Dissection: the IoU of every unit of conv layers with every Broden concept.

\b
Examples:
  seldb dissect --model alexnet-places --weights alexnet_places365.pth.tar \\
      --broden ~/broden1_227 --layers conv5 --run 3
  seldb dissect --model-module my_net.py:build --broden ./broden --layers layer4 \\
      --quantile 0.005 --categories object,part,scene --tally-csv tally.csv

\b
Follows NetDissect-Lite by default: a unit's threshold is its (1 - quantile)
percentile over every position of every image (exact), its maps are upsampled
bilinearly to the segmentation size, and IoU = intersection / union per (unit,
label). --rules netdissect2017 follows the 2017 NetDissect code instead (the
paper's IoUs); --union, --upsample and --threshold set single rules.
With --run, the units join that run's (same model, weights, module and unit
count); without it, dissect makes a run of its own. Results: seldb.netdissect
(top label and each category's best, source 'computed') and seldb.unit_label_iou
(every label). A unit counts as a detector of its top label at IoU > 0.04.
docs/dissect.md has the definitions and the choices made."""

Opt = typer.Option


@friendly
def dissect_command(
    broden: Annotated[Path, Opt("--broden", help="Broden-format directory (index.csv, label.csv, category.csv, ...).")],
    layers: Annotated[str, Opt("--layers", help="Comma-separated conv layers (paper names or module names).")],
    model: ModelName = None,
    weights: Weights = None,
    arch: Arch = None,
    num_classes: NumClasses = None,
    model_module: ModelModule = None,
    run: Annotated[
        int | None, Opt("--run", help="Join this run's units (same model and layer); default: a run of its own.")
    ] = None,
    quantile: Annotated[float, Opt("--quantile", help="Threshold: each unit's top quantile of activations.")] = 0.005,
    categories: Annotated[
        str | None,
        Opt(
            "--categories",
            help="Comma-separated categories (default: all of category.csv), or lite: NetDissect-Lite's five"
            " (object, part, scene, texture, color).",
        ),
    ] = None,
    rules: Annotated[
        str | None,
        Opt(
            "--rules",
            help="lite (NetDissect-Lite's, default) or netdissect2017 (the 2017 code's: --union annotated"
            " --upsample receptive-field --threshold sketch); the options below override single rules.",
        ),
    ] = None,
    union: Annotated[
        str | None,
        Opt(
            "--union",
            help="Images whose unit pixels enter a label's union: lite (its category under them),"
            " annotated (its category in the image) or all.",
        ),
    ] = None,
    upsample: Annotated[
        str | None,
        Opt("--upsample", help="bilinear (PIL, Lite's) or receptive-field (2017: between receptive-field centres)."),
    ] = None,
    threshold: Annotated[
        str | None,
        Opt("--threshold", help="exact (percentile 1 - quantile) or sketch (2017's read-out, 994/999 at 0.005)."),
    ] = None,
    preprocess: Annotated[
        str | None,
        Opt(
            "--preprocess",
            help="torchvision, caffe, plain or netdissect (NetDissect-Lite's); default: the model's own"
            " (with --run, the run's).",
        ),
    ] = None,
    force: Annotated[
        bool, Opt("--force", help="Accept a --preprocess other than the --run's (its units saw other input).")
    ] = False,
    device: Annotated[str | None, Opt("--device", help="cpu, cuda or cuda:N (default: cuda if available).")] = None,
    batch_size: Annotated[int, Opt("--batch-size", help="Images per forward pass.")] = 64,
    tally_csv: Annotated[
        Path | None,
        Opt("--tally-csv", help="Also write NetDissect-Lite's tally.csv (several layers: FILE_<layer>.csv)."),
    ] = None,
    workdir: Annotated[
        Path | None,
        Opt("--workdir", help="Directory for the temporary map store (images x units x h x w x 4 bytes)."),
    ] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    options = DissectOptions(
        broden=broden,
        layers=split_list(layers) or [],
        model=model,
        weights=weights,
        arch=arch,
        num_classes=num_classes,
        model_module=model_module,
        run=run,
        quantile=quantile,
        categories=split_list(categories),
        rules=rules,
        union=union,
        upsample=upsample,
        threshold=threshold,
        preprocess=preprocess,
        force=force,
        device=device,
        batch_size=batch_size,
        tally_csv=tally_csv,
        workdir=workdir,
        progress=not quiet,
    )
    with database() as db:
        done = db.dissect(options, notify=warn)
    made = "a run of its own" if done.created_run else "joined unit for unit"
    followed = ", ".join(f"{key} {value}" for key, value in done.rules.items())
    console.print(
        f"run {done.run_id} ({made}): {done.n_images} images, {done.n_labels} labels, quantile {done.quantile:g}"
        f" ({followed})",
        highlight=False,
        soft_wrap=True,
    )
    for layer, units in done.layers.items():
        again = " (replacing its earlier dissection or tally)" if layer in done.replaced else ""
        console.print(
            f"  {layer}: {units} units, {done.detectors[layer]} with top-label IoU > 0.04{again}", highlight=False
        )
    for path in done.tally_csv:
        console.print(f"tally.csv: {path}", highlight=False)
    console.print(
        f'next: seldb sql "SELECT * FROM seldb.netdissect WHERE run_id = {done.run_id} AND is_top'
        ' ORDER BY iou DESC LIMIT 10"',
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("dissect", help=DISSECT_HELP, no_args_is_help=True)(dissect_command)
