"""Batched AM, the centre objective and its receptive field, diverse samples, and their distance measure.

Reference values are independent of the code under test: generate() (the
one-image loop the batch must reproduce), the receptive field worked out by
hand from the demo network's kernel sizes, strides and padding, and
hand-worked distances of stripe patterns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seldb.am.batch import optimise_batch
from seldb.am.dataset_images import RunRecord, grey_images
from seldb.am.maximise import generate
from seldb.am.receptive_field import Box, centre_receptive_field
from seldb.am.sample_distance import aligned_distance, mean_pairwise, mean_pixel_difference
from seldb.am.unit_probe import input_transform
from seldb.demo import build_network

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(3)
    return build_network().eval()


def _batch(net, layer, units, seeds, steps=24, **kw):
    _, prep = input_transform("plain")
    module = dict(net.named_modules())[layer]
    kw = {"method": "fft-gray", "lr": 0.05, "prep": prep, "device": "cpu", **kw}
    return optimise_batch(net, module, units, seeds, steps=steps, size=28, layer_name=layer, **kw)


def test_a_batch_of_one_is_generate_byte_for_byte(net):
    torch.set_num_threads(1)
    module = dict(net.named_modules())["fc1"]
    alone = generate(net, module, 5, steps=24, size=28, seed=7, preprocess="plain", method="fft-gray", threads=1)
    batched = _batch(net, "fc1", [5], [7])
    assert np.array_equal(alone.image, batched.images[0])
    assert batched.means[0] == pytest.approx(alone.activation.mean, rel=1e-6)


def test_a_batch_of_many_units_and_seeds_gives_each_its_own_image(net):
    torch.set_num_threads(1)
    module = dict(net.named_modules())["fc1"]
    pairs = [(5, 7), (9, 7), (5, 8), (30, 1)]
    batched = _batch(net, "fc1", [u for u, _ in pairs], [s for _, s in pairs])
    for (unit, seed), image in zip(pairs, batched.images):
        alone = generate(net, module, unit, steps=24, size=28, seed=seed, preprocess="plain", method="fft-gray")
        # the same optimisation; only the float rounding of batched kernels differs
        assert np.abs(alone.image.astype(int) - image.astype(int)).mean() < 1.0
    assert not np.array_equal(batched.images[0], batched.images[2])  # another seed, another image


def test_centre_receptive_field_matches_the_arithmetic_by_hand(net):
    _, prep = input_transform("plain")
    modules = dict(net.named_modules())
    # conv1 (3x3, pad 1) at 28 px: output 28x28, centre (14, 14) sees input rows/columns 13..15
    assert centre_receptive_field(net, modules["conv1"], 28, prep) == Box(13, 13, 16, 16)
    # conv2 after a 2x2 pool: output 14x14, centre (7, 7) covers pool rows 6..8 -> conv1 rows 12..17
    # -> input rows 11..18 (8 pixels: 3 + 1 + 2 * 2)
    assert centre_receptive_field(net, modules["conv2"], 28, prep) == Box(11, 11, 19, 19)
    assert centre_receptive_field(net, modules["fc1"], 28, prep) is None  # no space, nothing to crop


def test_the_centre_objective_makes_another_image_that_drives_the_centre_harder(net):
    torch.set_num_threads(1)
    channel = _batch(net, "conv2", [3], [0], steps=48)
    centre = _batch(net, "conv2", [3], [0], steps=48, objective="centre")
    assert np.abs(channel.images[0].astype(int) - centre.images[0].astype(int)).mean() > 5
    # read both final PNGs at the centre neuron of conv2's channel 3, independently of the probe
    x = torch.from_numpy(np.stack([channel.images[0], centre.images[0]])).float().div(255).permute(0, 3, 1, 2)
    with torch.no_grad():
        maps = net[:3]((x - 0.5) / 0.5)[:, 3]
    assert maps[1, 7, 7] > maps[0, 7, 7]
    assert centre.objectives[0] == pytest.approx(float(maps[1, 7, 7]), rel=1e-5)


def _stripes(vertical: bool, size: int = 16) -> np.ndarray:
    line = np.tile([0, 255], size // 2).astype(np.uint8)
    grid = np.tile(line, (size, 1))
    return np.repeat((grid if vertical else grid.T)[:, :, None], 3, axis=2)


def test_aligned_distance_is_not_fooled_by_a_shift():
    rng = np.random.default_rng(0)
    texture = np.repeat(rng.integers(0, 256, (40, 40, 1), dtype=np.uint8), 3, axis=2)
    a, b = texture[:32, :32], texture[3:35, 5:37]  # the same texture seen 3 rows and 5 columns further
    assert mean_pixel_difference([a, b]) > 0.3  # unaligned: two uniform noises, E|U - V| = 1/3 apart
    assert aligned_distance(a, b) == 0.0
    # vertical against horizontal 16-pixel stripes: pixel (r, c) differs where r and c have different
    # parity, half of an even overlap; the least is an odd 13 x 13 overlap (shift 3, 3): 84 of 169
    assert aligned_distance(_stripes(True), _stripes(False)) == pytest.approx(84 / 169)
    assert np.isnan(mean_pairwise([a]))


def test_samples_with_the_diversity_term_differ_more(net):
    torch.set_num_threads(1)
    plain = _batch(net, "fc1", [5] * 3, [0, 1, 2], steps=64)
    diverse = _batch(net, "fc1", [5] * 3, [0, 1, 2], steps=64, diversity=5.0)  # random weights: a weak term at 1
    assert mean_pairwise(diverse.images) > mean_pairwise(plain.images) + 0.03
    assert min(diverse.means) > 0  # still images of the unit


def _tree(root, colour: bool):
    for i in range(3):
        pixels = np.full((8, 8, 3), 40 * i, dtype=np.uint8)
        if colour and i == 2:
            pixels[..., 0] = 200
        Image.fromarray(pixels).save(root / f"{i}.png")
    return [f"{i}.png" for i in range(3)]


def test_grey_images_follow_the_runs_data(tmp_path):
    (tmp_path / "grey").mkdir()
    (tmp_path / "colour").mkdir()
    grey = RunRecord(1, {"ingest": {"data": str(tmp_path / "grey")}}, None)
    colour = RunRecord(1, {"ingest": {"data": str(tmp_path / "colour")}}, None)
    assert grey_images(grey, _tree(tmp_path / "grey", False)) is True
    assert grey_images(colour, _tree(tmp_path / "colour", True)) is False
    assert grey_images(RunRecord(1, {}, None), ["nowhere/0.png"]) is None


@pytest.mark.parametrize("size", [28, 64, 224])
def test_batch_transform_is_each_images_random_transform(size):
    from seldb.am.transforms import TransformSpec, batch_transform, random_transform

    spec = TransformSpec.for_size(size)
    x = torch.rand(12, 3, size, size, generator=torch.Generator().manual_seed(size))
    together = batch_transform(x, spec, [torch.Generator().manual_seed(i) for i in range(12)])
    alone = [random_transform(x[i : i + 1], spec, torch.Generator().manual_seed(i)) for i in range(12)]
    assert torch.equal(together, torch.cat(alone))


@pytest.mark.parametrize("size", [28, 224])
def test_batch_transform_passes_each_image_its_own_gradient(size):
    """The backward pass too: image i's gradient through the batch is its gradient alone, bit for bit."""
    from seldb.am.transforms import TransformSpec, batch_transform, random_transform

    spec = TransformSpec.for_size(size)
    x = torch.rand(12, 3, size, size, generator=torch.Generator().manual_seed(size))
    weights = torch.rand(12, 3, size, size, generator=torch.Generator().manual_seed(size + 1))
    batch_x = x.clone().requires_grad_(True)
    moved = batch_transform(batch_x, spec, [torch.Generator().manual_seed(i) for i in range(12)])
    (together,) = torch.autograd.grad((moved * weights).sum(), [batch_x])
    for i in range(12):
        one = x[i : i + 1].clone().requires_grad_(True)
        moved_one = random_transform(one, spec, torch.Generator().manual_seed(i))
        (alone,) = torch.autograd.grad((moved_one * weights[i : i + 1]).sum(), [one])
        assert torch.equal(together[i : i + 1], alone), i
