"""Recording an SAE's latents for every image of a run, and measuring its quality in the same pass.

The latents file is an ordinary activation file: the run's classes, labels,
predictions and paths, and one layer `<layer>.sae` with one column per
latent, so `import-h5` measures latents as it measures neurons. Quality is
measured on the raw activations, over every image: fraction of variance
explained (1 - sum of squared errors / sum of squared deviations from the
layer's mean), MSE per activation, mean L0 (latents above 0 per image), dead
latents (above 0 on no image) and dense ones (on more than DENSE_FREQUENCY of
the images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seldb.h5.reader import ActivationFile
from seldb.h5.writer import ActivationWriter
from seldb.progress import progress_bar
from seldb.sae.model import SparseAutoencoder
from seldb.sae.options import DENSE_FREQUENCY, SAEQuality
from seldb.sae.train import blocks, rows_per_block


def record_latents(
    sae: SparseAutoencoder,
    afile: ActivationFile,
    layer: str,
    out_layer: str,
    path: Path,
    model: str,
    wanted_rows: int | None = None,
    progress: bool = True,
) -> SAEQuality:
    """Write the latents of every image to `path` and return the SAE's quality on the layer."""
    d_in, d_sae = sae.cfg.d_in, sae.cfg.d_sae
    step = rows_per_block(max(d_in, d_sae), wanted_rows)
    sq_err, total, total_sq, l0 = 0.0, np.zeros(d_in), 0.0, 0
    fires = np.zeros(d_sae, dtype=np.int64)
    with (
        ActivationWriter(
            path,
            model=model,
            dataset=afile.dataset,
            class_names=afile.class_names,
            class_keys=afile.class_keys,
            layers={out_layer: (d_sae, "none")},
            with_pred=afile.preds is not None,
            with_path=afile.paths is not None,
        ) as writer,
        progress_bar(progress, afile.n_images, f"recording the latents of {layer}", "images") as bar,
        torch.no_grad(),
    ):
        for r0, block in blocks(afile, layer, step):
            r1 = r0 + len(block)
            x = torch.from_numpy(block)
            acts, state = sae.encode(x)
            x_hat = sae.decode(acts, state)
            sq_err += float(((x_hat - x).double() ** 2).sum())
            b = block.astype(np.float64)
            total += b.sum(axis=0)
            total_sq += float((b * b).sum())
            active = (acts > 0).numpy()
            l0 += int(active.sum())
            fires += active.sum(axis=0)
            writer.append(
                afile.labels[r0:r1],
                {out_layer: acts.numpy()},
                preds=None if afile.preds is None else afile.preds[r0:r1],
                paths=None if afile.paths is None else afile.paths[r0:r1],
            )
            bar.advance(r1 - r0)
    n = afile.n_images
    deviations = total_sq - float((total * total).sum()) / n
    return SAEQuality(
        fraction_variance_explained=1.0 - sq_err / deviations if deviations > 0 else None,
        mse=sq_err / (n * d_in),
        mean_l0=l0 / n,
        n_dead=int((fires == 0).sum()),
        n_dense=int((fires > DENSE_FREQUENCY * n).sum()),
        n_latents=d_sae,
    )
