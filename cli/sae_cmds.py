"""`seldb sae train` and `seldb sae load`: a sparse autoencoder's latents on a run's layer, imported as a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seldb.load.options import ON_DUPLICATE, on_duplicate_option
from seldb.sae.options import DEFAULT_OUT, SAELoadOptions, SAEResult, SAETrainOptions
from seldb_cli.common import console, database, friendly

sae_app = typer.Typer(
    name="sae",
    help="Sparse autoencoders on a run's layer: their latents imported as a run, measured like neurons.",
    no_args_is_help=True,
)

TRAIN_HELP = """Train a sparse autoencoder (SAE) on a layer of a run and import its latents as a new run.

The SAE reads the layer's activations from the run's activation file (checked against the import's SHA-256), a block of images at a time, so memory does not grow with the number of images. Its latents are recorded for every image into <out>/run<N>-<layer>-<arch><latents>-seed<S>.h5 (layer <layer>.sae, model <model>+sae) and imported; the SAE itself is saved beside it in SAELens's format (<stem>.sae/: cfg.json, sae_weights.safetensors). The run's record (seldb runs show N) holds the source run, the hyper-parameters and the SAE's quality: fraction of variance explained, MSE, mean L0, dead and dense latents. The same seed gives the same SAE on the same machine, and the run is reused.

\b
Then compare latents with the neurons they came from:
  seldb sae train --run 1 --layer fc1 --latents 8x --k 8
  seldb report compare --runs 1,2 --layers fc1,fc1.sae --plot --out figures/"""  # noqa: E501

LOAD_HELP = """Encode a layer of a run with an SAE saved in SAELens's format and import the latents as a new run.

PATH is the SAE's folder: cfg.json (architecture standard, topk or jumprelu; d_in, d_sae, k, apply_b_dec_to_input, normalize_activations) and sae_weights.safetensors (W_enc, b_enc, W_dec, b_dec, and threshold for JumpReLU). d_in must be the layer's width. See docs/sae.md.

\b
Example:
  seldb sae load saes/fc1-topk --run 1 --layer fc1"""  # noqa: E501

Run = Annotated[int, typer.Option("--run", help="The run whose layer the SAE reads.")]
Layer = Annotated[str, typer.Option("--layer", help="The layer, e.g. fc1.")]
Out = Annotated[Path, typer.Option("--out", help="Directory for the latents' activation file (and the SAE).")]
OnDuplicate = Annotated[
    str, typer.Option("--on-duplicate", help=f"The same latents imported before: {', '.join(ON_DUPLICATE)}.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Device = Annotated[
    str,
    typer.Option("--device", help="cpu, cuda or auto (cuda when torch sees a GPU): where the SAE trains and encodes."),
]


@sae_app.command("train", help=TRAIN_HELP)
@friendly
def train_cmd(
    run: Run,
    layer: Layer,
    latents: Annotated[
        str, typer.Option(help="Latents: a count (512) or a multiple of the layer's width (8x).")
    ] = "8x",
    k: Annotated[int, typer.Option("--k", help="TopK: latents active per image.")] = 32,
    arch: Annotated[str, typer.Option("--arch", help="topk, relu (L1 penalty) or jumprelu (L0 penalty).")] = "topk",
    epochs: Annotated[float, typer.Option(help="Passes over the images (0.5: half of the blocks).")] = 10.0,
    lr: Annotated[float, typer.Option("--lr", help="Adam's learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per step.")] = 256,
    sparsity: Annotated[
        float | None,
        typer.Option(help="relu: L1 coefficient (default 2); jumprelu: L0 coefficient (0.5); both per input unit."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the initial weights and the order of the images.")] = 0,
    out: Out = Path(DEFAULT_OUT),
    on_duplicate: OnDuplicate = "reuse",
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    options = SAETrainOptions(
        run=run,
        layer=layer,
        latents=latents,
        k=k,
        arch=arch,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        sparsity=sparsity,
        seed=seed,
        out=out,
        on_duplicate=on_duplicate_option(on_duplicate),
        device=device,
    )
    options.validate()
    with database() as db:  # Ctrl-C: friendly() says what the call kept (exc.kept)
        result = db.sae_train(options, progress=not quiet)
    _print(result)


@sae_app.command("load", help=LOAD_HELP)
@friendly
def load_cmd(
    path: Annotated[Path, typer.Argument(help="The SAE's folder (cfg.json + sae_weights.safetensors).")],
    run: Run,
    layer: Layer,
    out: Out = Path(DEFAULT_OUT),
    on_duplicate: OnDuplicate = "reuse",
    device: Device = "cpu",
    quiet: Quiet = False,
) -> None:
    options = SAELoadOptions(path, run, layer, out, on_duplicate_option(on_duplicate), device=device)
    options.validate()
    with database() as db:  # Ctrl-C: friendly() says what the call kept (exc.kept)
        result = db.sae_load(options, progress=not quiet)
    _print(result)


def _print(result: SAEResult) -> None:
    q = result.quality
    fve = "n/a" if q.fraction_variance_explained is None else f"{q.fraction_variance_explained:.3f}"
    reused = " (reused)" if result.reused else ""
    console.print(
        f"run {result.run_id}{reused}: {q.n_latents} latents of run {result.source_run} as layer {result.layer}",
        highlight=False,
    )
    console.print(
        f"quality: variance explained {fve}, MSE {q.mse:.4g}, mean L0 {q.mean_l0:.2f},"
        f" dead {q.n_dead}, dense {q.n_dense} (active on >10% of images)",
        highlight=False,
    )
    console.print(f"latents: {result.file}", highlight=False)
    if result.weights:
        console.print(f"SAE: {result.weights}", highlight=False)
    layers = f"{result.layer.removesuffix('.sae')},{result.layer}"
    console.print(
        f"next: seldb report compare --runs {result.source_run},{result.run_id} --layers {layers}", highlight=False
    )


def register(app: typer.Typer) -> None:
    app.add_typer(sae_app)
