"""TopK's sparse loss and decode against the dense formulation they replace, on random data."""

from __future__ import annotations

import math

import pytest
import torch

from seldb.sae import topk
from seldb.sae.model import SAEConfig, SparseAutoencoder
from seldb.sae.topk import AUX_WEIGHT, topk_loss

pytestmark = pytest.mark.unit


def _sae(d_in: int, d_sae: int, k: int, seed: int) -> SparseAutoencoder:
    g = torch.Generator().manual_seed(seed)
    sae = SparseAutoencoder(SAEConfig(d_in, d_sae, "topk", k))
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return sae


def _dense_loss(sae: SparseAutoencoder, x: torch.Tensor, since_fired: torch.Tensor, dead_after: int):
    """The dense formulation, written out: acts (batch x d_sae, k non-zeros a row) @ W_dec, AuxK likewise."""
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    top = pre.topk(sae.cfg.k, dim=-1)
    acts = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
    x_hat = acts @ sae.W_dec + sae.b_dec
    loss = ((x_hat - x) ** 2).mean()
    since = torch.where((acts > 0).any(dim=0), 0, since_fired + 1)
    dead = since > dead_after
    if int(dead.sum()):
        k_aux = min(sae.cfg.d_in // 2, int(dead.sum()))
        aux = torch.where(dead, pre, torch.full_like(pre, -math.inf)).topk(k_aux, dim=-1)
        aux_acts = torch.zeros_like(pre).scatter(-1, aux.indices, torch.relu(aux.values))
        loss = loss + AUX_WEIGHT * ((aux_acts @ sae.W_dec - (x - x_hat.detach())) ** 2).mean()
    return loss, since


def _grads(sae: SparseAutoencoder, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    sae.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in sae.named_parameters()}


@pytest.mark.parametrize("dense_share", [1.0, 0.0, 0.1])  # all sparse, all dense, TopK sparse and AuxK dense
@pytest.mark.parametrize("n_dead", [0, 5, 40])
def test_sparse_topk_loss_and_gradients_equal_the_dense_ones(n_dead, dense_share, monkeypatch):
    monkeypatch.setattr(topk, "DENSE_SHARE", dense_share)
    d_in, d_sae, k = 12, 48, 4
    sae = _sae(d_in, d_sae, k, seed=n_dead)
    x = torch.randn(32, d_in, generator=torch.Generator().manual_seed(1))
    since_fired = torch.zeros(d_sae, dtype=torch.long)
    since_fired[torch.randperm(d_sae, generator=torch.Generator().manual_seed(2))[:n_dead]] = 100
    sparse, since_sparse = topk_loss(sae, x, since_fired, dead_after=50)
    g_sparse = _grads(sae, sparse)
    dense, since_dense = _dense_loss(sae, x, since_fired, dead_after=50)
    g_dense = _grads(sae, dense)
    assert torch.equal(since_sparse, since_dense)
    assert n_dead == 0 or int((since_dense > 50).sum()) > 0  # AuxK is exercised
    torch.testing.assert_close(sparse, dense, rtol=1e-5, atol=1e-6)
    for name in g_dense:
        torch.testing.assert_close(g_sparse[name], g_dense[name], rtol=1e-4, atol=1e-6, msg=name)


def test_sparse_decode_equals_the_dense_product():
    sae = _sae(16, 64, 5, seed=3)
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(4))
    pre, state = sae.pre_activations(x)
    values, indices = sae.topk_of(pre)
    acts = sae.activate(pre)
    assert int((acts != 0).sum(dim=1).max()) <= 5
    torch.testing.assert_close(sae.decode_sparse(values, indices, state), sae.decode(acts, state))
