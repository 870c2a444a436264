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
    device = sae.W_dec.device  # each block goes where the SAE is, its latents come back
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
            x = torch.from_numpy(block).to(device)
            acts, x_hat = _encode_decode(sae, x)
            # squared errors summed per row in float32 (d_in terms), over rows in float64
            sq_err += float(((x_hat - x) ** 2).sum(dim=1).double().sum())
            total += block.sum(axis=0, dtype=np.float64)
            total_sq += float(np.einsum("ij,ij->i", block, block).sum(dtype=np.float64))
            active = acts > 0
            l0 += int(active.sum())
            fires += active.sum(dim=0).cpu().numpy()
            writer.append(
                afile.labels[r0:r1],
                {out_layer: acts.cpu().numpy()},
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


def _encode_decode(sae: SparseAutoencoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The latents (dense, as written) and the reconstruction; TopK decodes its k latents per row sparsely."""
    if sae.cfg.arch != "topk":
        acts, state = sae.encode(x)
        return acts, sae.decode(acts, state)
    pre, state = sae.pre_activations(x)
    values, indices = sae.topk_of(pre)
    acts = torch.zeros_like(pre).scatter_(-1, indices, values)
    return acts, sae.decode_sparse(values, indices, state)
