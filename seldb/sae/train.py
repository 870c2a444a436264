"""Training an SAE on one layer of a run, streamed from its activation file in blocks of images.

Memory holds one block of rows (about BLOCK_VALUES activations) and the SAE,
whatever the number of images. Each epoch visits the blocks in a seeded
order and each block's rows in a seeded order; a fractional --epochs visits
that share of the blocks. The inputs are scaled so that their mean squared
norm is d_in (SAELens's "expected_average_only_in", Anthropic's April 2024
update), and the scale is folded into the weights afterwards, so the SAE
that is saved and recorded reads the raw activations.

Losses follow the architectures' papers: TopK (Gao et al. 2024, "Scaling and
evaluating sparse autoencoders") trains on the reconstruction error with
unit-norm decoder rows and the AuxK loss (k_aux = d_in / 2 of the dead
latents reconstruct the residual, weight 1/32), a latent being dead when it
has not fired for about an epoch; ReLU ("standard") adds an L1 penalty on
the activations times their decoder norms (Anthropic, April 2024);
JumpReLU (Rajamanoharan et al. 2024) learns log thresholds through
straight-through estimators with a rectangle kernel and penalises L0.
TopK's loss is computed on the chosen latents only (seldb.sae.topk).
Every random draw comes from the seed, and the CPU computes the same
weights for the same seed and thread count; on a GPU (`device`) the last
bits may vary from run to run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from seldb.engine.blocks import release_freed_memory
from seldb.h5.reader import ActivationFile
from seldb.progress import progress_bar
from seldb.sae.model import SAEConfig, SparseAutoencoder
from seldb.sae.options import SAETrainOptions
from seldb.sae.topk import topk_loss

BLOCK_VALUES = 16_000_000  # activations per block read (64 MB of float32)
# JumpReLU's straight-through kernel width, and its initial threshold (the inputs are scaled to unit mean square)
BANDWIDTH = 0.1


def rows_per_block(n_units: int, wanted: int | None = None) -> int:
    return max(1, wanted or max(1024, BLOCK_VALUES // max(1, n_units)))


def blocks(afile: ActivationFile, layer: str, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block as float32) over every image."""
    for r0, block in afile.row_blocks(layer, step):
        yield r0, np.asarray(block, dtype=np.float32)


@dataclass
class Moments:
    mean: np.ndarray  # (d_in,) float64
    mean_sq_norm: float
    n: int


def moments(afile: ActivationFile, layer: str, step: int) -> Moments:
    total, sq, n = None, 0.0, 0
    for _, block in blocks(afile, layer, step):
        # float64 sums without a float64 copy of the block; squares summed per row in float32 (4,096 terms)
        part = block.sum(axis=0, dtype=np.float64)
        total = part if total is None else total + part
        sq += float(np.einsum("ij,ij->i", block, block).sum(dtype=np.float64))
        n += len(block)
    assert total is not None
    return Moments(total / n, sq / n, n)


class _JumpReLU(torch.autograd.Function):
    """pre * (pre > t): the gradient reaches pre where it passes, and t through the rectangle kernel."""

    @staticmethod
    def forward(ctx, pre, threshold):
        ctx.save_for_backward(pre, threshold)
        return pre * (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        window = ((pre - threshold).abs() < BANDWIDTH / 2).to(pre.dtype) / BANDWIDTH
        return grad * (pre > threshold).to(pre.dtype), (-(threshold * window) * grad).sum(0)


class _Step(torch.autograd.Function):
    """H(pre - t), whose gradient reaches t through the rectangle kernel (for the L0 penalty)."""

    @staticmethod
    def forward(ctx, pre, threshold):
        ctx.save_for_backward(pre, threshold)
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        window = ((pre - threshold).abs() < BANDWIDTH / 2).to(pre.dtype) / BANDWIDTH
        return None, (-window * grad).sum(0)


def initial_sae(cfg: SAEConfig, mean_scaled: np.ndarray, generator: torch.Generator) -> SparseAutoencoder:
    sae = SparseAutoencoder(cfg)
    w_dec = torch.randn(cfg.d_sae, cfg.d_in, generator=generator)
    w_dec /= w_dec.norm(dim=1, keepdim=True)
    if cfg.arch != "topk":
        w_dec *= 0.1  # SAELens's decoder_init_norm
    with torch.no_grad():
        sae.W_dec.copy_(w_dec)
        sae.W_enc.copy_(w_dec.T)
        sae.b_dec.copy_(torch.from_numpy(mean_scaled.astype(np.float32)))
        if cfg.arch == "jumprelu":
            sae.threshold.fill_(BANDWIDTH)
    return sae


class _Trainer:
    def __init__(self, sae: SparseAutoencoder, opts: SAETrainOptions, batches_per_epoch: int):
        self.sae, self.opts, self.cfg = sae, opts, sae.cfg
        self.log_threshold = None
        params = [sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec]
        if self.cfg.arch == "jumprelu":
            self.log_threshold = torch.nn.Parameter(torch.log(sae.threshold.detach().clone()))
            params.append(self.log_threshold)
        # fused: one pass over each tensor; the default (foreach) took 10 times as long at 4,096 x 16,384
        self.optimizer = torch.optim.Adam(params, lr=opts.lr, fused=True)
        self.since_fired = torch.zeros(self.cfg.d_sae, dtype=torch.long, device=sae.W_dec.device)
        self.dead_after = max(1, batches_per_epoch)
        self.sparsity = opts.sparsity_value()

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The batch's loss, with autograd; counts the batches since each latent fired."""
        if self.cfg.arch == "topk":
            loss, self.since_fired = topk_loss(self.sae, x, self.since_fired, self.dead_after)
            return loss
        sae, cfg = self.sae, self.cfg
        pre, _ = sae.pre_activations(x)
        if cfg.arch == "jumprelu":
            assert self.log_threshold is not None
            threshold = self.log_threshold.exp()
            acts = _JumpReLU.apply(torch.relu(pre), threshold)
            penalty = self.sparsity * _Step.apply(pre, threshold).sum(-1).mean() / cfg.d_in
        else:
            acts = sae.activate(pre)
            penalty = self.sparsity * (acts * sae.W_dec.norm(dim=1)).sum(-1).mean() / cfg.d_in
        x_hat = acts @ sae.W_dec + sae.b_dec
        fired = (acts > 0).any(dim=0)
        self.since_fired = torch.where(fired, 0, self.since_fired + 1)
        return ((x_hat - x) ** 2).mean() + penalty

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One optimiser step; the loss stays on the device (reading it back each step would wait for it)."""
        loss = self.loss(x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.cfg.arch == "topk":
            with torch.no_grad():
                w = self.sae.W_dec
                w.div_(torch.linalg.vector_norm(w, dim=1, keepdim=True).clamp_min(1e-12))
        return loss.detach()

    def finish(self) -> None:
        # the last step's gradients and Adam's moments (three times the SAE) are not needed past training
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer.state.clear()
        if self.log_threshold is not None:
            with torch.no_grad():
                self.sae.threshold.copy_(self.log_threshold.exp())


def fold_scale(sae: SparseAutoencoder, scale: float) -> None:
    """Trained on x * scale: make the SAE read x (SAELens's fold_activation_norm_scaling_factor)."""
    with torch.no_grad():
        sae.W_enc.mul_(scale)
        sae.W_dec.div_(scale)
        sae.b_dec.div_(scale)  # the pre-activations, and so JumpReLU's thresholds, stay as they were


@dataclass
class Trained:
    sae: SparseAutoencoder
    scale: float
    steps: int
    loss_curve: list[float]  # mean loss per epoch (or per share of one)
    seconds: float


def train_sae(
    afile: ActivationFile,
    layer: str,
    opts: SAETrainOptions,
    d_sae: int,
    progress: bool = True,
    on_step: Callable[[], None] | None = None,
    device: str | torch.device = "cpu",
) -> Trained:
    """An SAE trained on the layer's activations of every image of the file, on `device` (the SAE stays there)."""
    started = time.perf_counter()
    d_in = afile.layers[layer].n_units
    step = rows_per_block(d_in, opts.rows_per_block)
    torch.manual_seed(opts.seed)
    generator = torch.Generator().manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    stats = moments(afile, layer, step)
    scale = math.sqrt(d_in / stats.mean_sq_norm) if stats.mean_sq_norm > 0 else 1.0
    cfg = SAEConfig(d_in, d_sae, opts.arch, opts.k if opts.arch == "topk" else 0)
    sae = initial_sae(cfg, stats.mean * scale, generator).to(device)  # drawn on the CPU whatever the device
    starts = list(range(0, stats.n, step))
    visits = max(1, math.ceil(opts.epochs * len(starts)))
    trainer = _Trainer(sae, opts, math.ceil(stats.n / opts.batch_size))
    curve, losses, steps = [], [], 0
    dataset = afile.dataset_of(layer)
    with progress_bar(progress, visits, f"training the SAE on {layer}", "blocks") as bar:
        order: list[int] = []
        for visit in range(visits):
            if not order:
                order = list(rng.permutation(len(starts)))
            r0 = starts[order.pop(0)]
            block = np.asarray(dataset[r0 : min(stats.n, r0 + step)], dtype=np.float32) * np.float32(scale)
            rows = torch.from_numpy(block[rng.permutation(len(block))]).to(device)
            for b0 in range(0, len(rows), opts.batch_size):
                losses.append(trainer.step(rows[b0 : b0 + opts.batch_size]))
                steps += 1
            if not order or visit == visits - 1:
                curve.append(float(torch.stack(losses).double().mean()))
                losses = []
            release_freed_memory()
            bar.advance()
            if on_step:
                on_step()
    trainer.finish()
    fold_scale(sae, scale)
    return Trained(sae, scale, steps, curve, time.perf_counter() - started)
