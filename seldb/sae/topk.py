"""TopK's training loss computed sparsely: only the chosen latents' encoder columns and decoder rows work.

A TopK SAE picks k of d_sae latents per image (and AuxK up to d_in / 2 of the
dead ones). The dense formulation multiplies a (batch, d_sae) matrix that is
almost all zeros by W_dec, and its backward pass makes three more products of
that size; at 4,096 units and 16,384 latents that is about 170 GFLOP a step
of 256 images where the non-zeros need under 1 GFLOP. Here the encoder's
product is computed once without autograd (it must be: it chooses the
latents), the chosen pre-activations are gathered from it, and:

- decoding is `embedding_bag` over the chosen rows of W_dec (model.sparse_decode);
- the gradient of the gathered pre-activations reaches W_enc through a sparse
  (batch x d_sae) matrix times the batch, b_enc by index_add, and b_dec (the
  input is x - b_dec) as -W_enc @ grad(b_enc), since every row's input shares b_dec.

The loss and every gradient equal the dense ones up to float rounding
(tests/test_sae_sparse.py checks both on random data).
"""

from __future__ import annotations

import math
import warnings

import torch

from seldb.sae.model import SparseAutoencoder, sparse_decode

AUX_WEIGHT = 1 / 32
# Above this share of the latents per row, the dense product is the faster one on the CPU (AuxK's d_in / 2
# of 16,384 latents, 12.5%, took 3 s a step sparse against 1.4 s dense; TopK's 32, 0.2%, is 10 times faster sparse)
DENSE_SHARE = 1 / 32


def _dense(per_row: int, d_sae: int) -> bool:
    return per_row > DENSE_SHARE * d_sae


def _decode(values: torch.Tensor, idx: torch.Tensor, w_dec: torch.Tensor) -> torch.Tensor:
    if _dense(idx.shape[1], w_dec.shape[0]):
        return (
            torch.zeros(len(values), w_dec.shape[0], dtype=values.dtype, device=values.device).scatter(-1, idx, values)
            @ w_dec
        )
    return sparse_decode(values, idx, w_dec)


class _SelectedPre(torch.autograd.Function):
    """pre[i, idx[i, s]] of pre = (x - b_dec) @ W_enc + b_enc, with `pre` already computed (no autograd)."""

    @staticmethod
    def forward(ctx, x_in, w_enc, b_enc, b_dec, pre, idx):
        ctx.save_for_backward(x_in, w_enc, idx)
        return pre.gather(-1, idx)

    @staticmethod
    def backward(ctx, grad):
        x_in, w_enc, idx = ctx.saved_tensors
        n, kk = idx.shape
        d_sae = w_enc.shape[1]
        rows = torch.arange(n, device=idx.device).repeat_interleave(kk)
        cols, values = idx.reshape(-1), grad.reshape(-1)
        if _dense(kk, d_sae):
            g = torch.zeros(n, d_sae, dtype=grad.dtype, device=grad.device).index_put_((rows, cols), values, True)
            grad_w, grad_b = x_in.t() @ g, g.sum(dim=0)
        else:
            grad_w = _sparse_grad(x_in, rows, cols, values, d_sae)
            grad_b = torch.zeros(d_sae, dtype=grad.dtype, device=grad.device).index_add_(0, cols, values)
        return None, grad_w, grad_b, -(w_enc @ grad_b), None, None


def _sparse_grad(x_in: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, d_sae: int):
    """x_in^T @ G for G (batch x d_sae) zero but at (rows, cols): W_enc's gradient, laid out as W_enc."""
    if x_in.device.type == "cpu":
        # dense @ CSR writes (d_in, d_sae) directly, twice as fast as transposing (G^T @ x_in) on the CPU
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            g = torch.sparse_coo_tensor(
                torch.stack([rows, cols]), values, (len(x_in), d_sae), check_invariants=False
            ).to_sparse_csr()
            return torch.mm(x_in.t(), g)
    g_t = torch.sparse_coo_tensor(torch.stack([cols, rows]), values, (d_sae, len(x_in)), check_invariants=False)
    return torch.sparse.mm(g_t, x_in).t().contiguous()


def topk_loss(
    sae: SparseAutoencoder, x: torch.Tensor, since_fired: torch.Tensor, dead_after: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """TopK's loss on a batch (MSE plus AuxK) and the latents' batches since they last fired, this one counted.

    A latent is dead when it has not fired for more than `dead_after` batches,
    this one included (one that fires here is not dead)."""
    k = sae.cfg.k
    x_in = x - sae.b_dec.detach()
    with torch.no_grad():
        pre = torch.addmm(sae.b_enc, x_in, sae.W_enc)
        idx = pre.topk(k, dim=-1).indices
        fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool, device=x.device)
        fired[idx[pre.gather(-1, idx) > 0]] = True
        since_fired = torch.where(fired, 0, since_fired + 1)
        idx_all, k_aux = _with_aux(pre, idx, since_fired > dead_after, sae.cfg.d_in)
    values = torch.relu(_SelectedPre.apply(x_in, sae.W_enc, sae.b_enc, sae.b_dec, pre, idx_all))
    x_hat = _decode(values[:, :k], idx_all[:, :k], sae.W_dec) + sae.b_dec
    loss = ((x_hat - x) ** 2).mean()
    if k_aux:
        aux = _decode(values[:, k:], idx_all[:, k:], sae.W_dec)
        loss = loss + AUX_WEIGHT * ((aux - (x - x_hat.detach())) ** 2).mean()
    return loss, since_fired


def _with_aux(pre: torch.Tensor, idx: torch.Tensor, dead: torch.Tensor, d_in: int) -> tuple[torch.Tensor, int]:
    """The TopK indices followed, per row, by AuxK's: the k_aux = d_in / 2 largest among the dead latents."""
    n_dead = int(dead.sum())
    if n_dead == 0:
        return idx, 0
    k_aux = min(max(1, d_in // 2), n_dead)
    masked = torch.where(dead, pre, torch.full_like(pre, -math.inf))
    return torch.cat([idx, masked.topk(k_aux, dim=-1).indices], dim=1), k_aux
