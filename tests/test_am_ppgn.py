"""PPGN's sampler (seldb.am.ppgn): one step of Eq. 11 worked out by hand, the published defaults, and
the generator's checks; the demo generator's samples are looked at in docs/am.md."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from am_generators import CODE, LinearGenerator
from torch import nn

from seldb.am.ppgn import PPGNSettings, check_generator, load_generator, sample_batch
from seldb.am.unit_probe import input_transform
from seldb.errors import InputError

pytestmark = pytest.mark.unit


def _net() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 28 * 28, 3)).eval()


@pytest.mark.parametrize("unit, seed", [(0, 0), (2, 5)])
def test_one_step_is_eq_11_worked_by_hand(unit, seed):
    net, gen = _net(), LinearGenerator()
    settings = PPGNSettings(epsilon1=0.3, epsilon2=1.0, epsilon3=0.05, lr=0.7, code_range=(0.0, 30.0))
    _, prep = input_transform("plain")
    result = sample_batch(
        net, net[1], [unit], [seed], gen, steps=1, size=28, prep=prep, device="cpu", settings=settings
    )
    # the same draws, in the same order: the starting code, then the step's noise
    draws = torch.Generator().manual_seed(seed)
    h0 = torch.randn(CODE, generator=draws).double().numpy()
    noise = torch.randn(CODE, generator=draws).double().numpy()
    A, C = gen.A.double().numpy(), gen.C.double().numpy()
    W, b = net[1].weight.double().detach().numpy(), net[1].bias.double().detach().numpy()
    x = 0.5 + A @ h0  # G(h0), flattened
    prior = C @ x - h0  # E(G(h)) - h
    a = W @ (2 * x - 1) + b  # the layer through "plain" preprocessing: (x - 0.5) / 0.5
    p = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    condition = (1 - p[unit]) * 2 * A.T @ W[unit]  # d a_unit / dh, weighted by 1 - p(unit) as sampler.py does
    d_h = 0.3 * prior + 1.0 * condition + 0.05 * noise
    h1 = np.clip(h0 + 0.7 / np.abs(d_h).mean() * d_h, 0, 30)
    expected = np.clip(np.rint(np.clip(0.5 + A @ h1, 0, 1) * 255), 0, 255).reshape(3, 28, 28).transpose(1, 2, 0)
    assert np.abs(result.images[0].astype(int) - expected.astype(int)).max() <= 1


def test_the_defaults_are_the_published_scripts():
    # Evolving-AI-Lab/ppgn, 3_hidden_conditional_sampling.sh and sampler.py
    assert PPGNSettings() == PPGNSettings(1e-5, 1.0, 1e-17, 1.0, (0.0, 30.0))


def test_samples_climb_and_differ_by_seed():
    net, gen = _net(), LinearGenerator()
    _, prep = input_transform("plain")
    start = sample_batch(net, net[1], [1, 1], [0, 1], gen, steps=1, size=28, prep=prep, device="cpu")
    later = sample_batch(net, net[1], [1, 1], [0, 1], gen, steps=30, size=28, prep=prep, device="cpu")
    assert min(later.objectives) > max(start.objectives)
    assert not np.array_equal(later.images[0], later.images[1])


def test_generators_are_checked_in_one_line():
    with pytest.raises(InputError, match="cannot import"):
        load_generator("no_such_module_here:g")
    with pytest.raises(InputError, match="has no function nothing"):
        load_generator("am_generators:nothing")
    with pytest.raises(InputError, match="must return a torch module with a code_shape"):
        load_generator("am_generators:_net_like")
    with pytest.raises(InputError, match=r"makes images of shape \(3, 16, 16\); the network needs \(3, 28, 28\)"):
        check_generator(load_generator("am_generators:wrong_size_generator"), 28, "cpu", "g")
