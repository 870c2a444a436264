"""`db.sae_train(options)` and `db.sae_load(options)`: an SAE's latents on a run's layer, imported as a run.

The flow: the run, layer and activation file are checked (unknown names,
a file gone or changed, an SAE of another width, a bad cfg.json, --k above
the latents: one line, nothing written); the SAE is trained (or loaded);
its latents are recorded into `<out>/<stem>.h5`, written under a temporary
name and renamed when complete; that file is imported like any other, with
the SAE's provenance and quality in the run's record (seldb.runs.options).
A trained SAE is also saved in SAELens's format beside the file, so
`seldb sae load` (or SAELens) can use it again. An interruption before the
rename leaves nothing; during the import it leaves the finished file (and
no run), and says so.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from seldb.db.database import Database
from seldb.errors import SeldbError
from seldb.load.import_h5 import run_import
from seldb.load.options import ImportOptions, Provenance
from seldb.sae.options import SAELoadOptions, SAEResult, SAETrainOptions
from seldb.sae.source import SourceLayer, open_checked, source_layer

SOURCE = "seldb sae"


def _torch():
    try:
        import torch  # noqa: F401

        from seldb.sae import model, record, train
    except ImportError as exc:
        if "torch" not in str(exc) and "safetensors" not in str(exc):
            raise
        raise SeldbError("seldb sae needs torch and safetensors: pip install 'seldb[torch]'") from None
    return model, record, train


def sae_train(db: Database, options: SAETrainOptions, progress: bool = True) -> SAEResult:
    """Train an SAE on the layer of the run, record its latents for every image, import them as a run."""
    options.validate()
    model, record, train = _torch()
    device = model.resolve_device(options.device)  # no CUDA for --device cuda: one line, nothing read
    source = source_layer(db, options.run, options.layer)
    d_sae = options.n_latents(source.n_units)  # --k above the latents: before anything is read
    stem = f"run{source.run.run_id}-{_safe(source.layer)}-{options.arch}{d_sae}-seed{options.seed}"
    out = Path(options.out)
    started = time.perf_counter()
    with open_checked(source, progress) as afile:
        trained = train.train_sae(afile, source.layer, options, d_sae, progress, device=device)
        recording = time.perf_counter()
        file, quality = _record(
            record, trained.sae, afile, source, out / f"{stem}.h5", options.rows_per_block, progress
        )
        recorded = time.perf_counter()
    try:
        weights = _save_weights(model, trained.sae, out / f"{stem}.sae", source, options.as_json(source.n_units))
    except KeyboardInterrupt as exc:
        exc.kept = f"no run was written; the latents' activation file {file} is kept (seldb import-h5 {file})"  # type: ignore[attr-defined]
        raise
    details = {
        "sae": {
            **options.as_json(source.n_units),
            "source": "trained by seldb",
            "input_scale": trained.scale,
            "steps": trained.steps,
            "loss_curve": trained.loss_curve,
            "train_seconds": round(trained.seconds, 3),
            "record_seconds": round(recorded - recording, 3),
            "device": str(device),
            "weights": str(weights.resolve()),
        },
    }
    train_seconds = trained.seconds
    del trained  # the SAE is saved: the import of its latents runs without it in memory
    result = _import(db, source, file, weights, quality, details, options.on_duplicate, started, progress)
    result.seconds.update(train=train_seconds, record=recorded - recording)
    return result


def sae_load(db: Database, options: SAELoadOptions, progress: bool = True) -> SAEResult:
    """Encode the run's layer with a SAELens SAE (cfg.json + sae_weights.safetensors) and import the latents."""
    options.validate()
    model, record, _ = _torch()
    device = model.resolve_device(options.device)
    folder = Path(options.path)
    cfg = model.read_config(folder)  # a malformed cfg.json: one line, before the database is opened
    source = source_layer(db, options.run, options.layer)
    if cfg.d_in != source.n_units:
        raise SeldbError(
            f"{folder}: the SAE's d_in is {cfg.d_in}, layer {source.layer} of {source.run.name} has"
            f" {source.n_units} units"
        )
    sae = model.load_saelens(folder).to(device)
    stem = f"run{source.run.run_id}-{_safe(source.layer)}-{_safe(folder.resolve().name)}"
    started = time.perf_counter()
    with open_checked(source, progress) as afile:
        path = Path(options.out) / f"{stem}.h5"
        recording = time.perf_counter()
        file, quality = _record(record, sae, afile, source, path, options.rows_per_block, progress)
        recorded = time.perf_counter()
    details = {
        "sae": {
            "source": "SAELens folder",
            "device": str(device),
            "weights": str(folder.resolve()),
            "arch": cfg.arch,
            "d_in": cfg.d_in,
            "d_sae": cfg.d_sae,
            **({"k": cfg.k} if cfg.arch == "topk" else {}),
            "apply_b_dec_to_input": cfg.apply_b_dec_to_input,
            "normalize_activations": cfg.normalize_activations,
            "norm_scaling_factor": cfg.norm_scaling_factor,
        }
    }
    result = _import(db, source, file, folder, quality, details, options.on_duplicate, started, progress)
    result.seconds.update(record=recorded - recording)
    return result


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def latent_layer(layer: str) -> str:
    return f"{layer}.sae"


def _save_weights(model, sae, folder: Path, source: SourceLayer, hyper: dict) -> Path:
    """The SAE in SAELens's format, written to a temporary folder and renamed when complete."""
    partial = folder.with_name(folder.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        meta = {"model_name": source.run.model, "hook_name": source.layer, "seldb_run": source.run.run_id, **hyper}
        model.save_saelens(sae, partial, meta)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def _record(record, sae, afile, source: SourceLayer, path: Path, rows: int | None, progress: bool):
    """The latents' activation file, complete or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        quality = record.record_latents(
            sae, afile, source.layer, latent_layer(source.layer), partial, f"{source.run.model}+sae", rows, progress
        )
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path, quality


def _import(db, source: SourceLayer, file: Path, weights, quality, details, on_duplicate, started, progress):
    details["sae"]["quality"] = quality.as_json()
    provenance = {"source_run": source.run.run_id, "source_layer": source.layer, **details}
    options = ImportOptions(
        model=f"{source.run.model}+sae",
        dataset=source.run.dataset,
        all_images=source.all_images,
        on_duplicate=on_duplicate,
    )
    importing = time.perf_counter()
    try:
        imported = run_import(db, file, options, Provenance(SOURCE, provenance), progress=progress)
    except KeyboardInterrupt as exc:
        kept = f"the latents' activation file {file} is kept (seldb import-h5 {file} imports it)"
        if details["sae"]["source"] == "trained by seldb":
            kept += f" and the SAE's weights in {weights}"
        exc.kept = f"no run was written; {kept}"  # type: ignore[attr-defined]
        raise
    return SAEResult(
        imported.run_id,
        source.run.run_id,
        latent_layer(source.layer),
        file.resolve(),
        Path(weights).resolve() if weights else None,
        quality,
        imported.reused,
        {"total": time.perf_counter() - started, "import": time.perf_counter() - importing, **imported.timings},
    )
