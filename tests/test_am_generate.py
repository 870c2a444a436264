"""Activation maximisation on a tiny seeded CNN: reproducible bytes, real maxima, clear refusals.

Activations are checked with the ingest's own recorder (seldb.nets.hooks),
not with the AM code's probe, and the Fourier parameterisation against numpy's
FFT and hand-worked frequencies.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from seldb.am import generate, measure, png_bytes, reference_activation, resolve_layer, write_png
from seldb.am.dataset_images import mean_image
from seldb.am.parameterisation import COLOR_CORRELATION_SVD_SQRT, FourierImage, spectrum_scale
from seldb.am.transforms import TransformSpec, random_transform, rotate
from seldb.errors import InputError
from seldb.nets.hooks import LayerRecorder

pytestmark = pytest.mark.unit
SIZE, STEPS = 16, 64


def tiny_net() -> nn.Module:
    """Seeded random weights; fc ends in a ReLU, out does not."""
    torch.manual_seed(1234)
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU()),
            pool=nn.MaxPool2d(2),
            conv2=nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True)),
            flatten=nn.Flatten(),
            fc=nn.Sequential(nn.Linear(8 * 8 * 8, 6), nn.ReLU()),
            out=nn.Linear(6, 3),
        )
    ).eval()


def dataset(n: int = 200) -> np.ndarray:
    """uint8 (n, SIZE, SIZE, 3): half pixel noise, half smooth blobs (upsampled 4x4 noise)."""
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (n // 2, SIZE, SIZE, 3), dtype=np.uint8)
    coarse = rng.integers(0, 256, (n - n // 2, 4, 4, 3), dtype=np.uint8)
    smooth = np.stack([np.asarray(Image.fromarray(c).resize((SIZE, SIZE), Image.BILINEAR)) for c in coarse])
    return np.concatenate([noise, smooth])


def recorded(net: nn.Module, layer: str, images: np.ndarray, reduce: str) -> torch.Tensor:
    """(N, units) as `seldb ingest` records the layer, inputs in [-1, 1] ('plain')."""
    recorder = LayerRecorder(net, {layer: layer}, reduce)
    x = torch.from_numpy(images).float().div(255.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        net((x - 0.5) / 0.5)
    values = recorder.take()[layer]
    recorder.close()
    return values


def am(net, layer, unit, **kw):
    options = dict(steps=STEPS, size=SIZE, seed=0, preprocess="plain", layer_name=layer, threads=1)
    return generate(net, resolve_layer(net, layer), unit, **{**options, **kw})


def test_same_seed_gives_identical_png_bytes_and_another_seed_does_not():
    first = png_bytes(am(tiny_net(), "fc", 1).image)
    assert png_bytes(am(tiny_net(), "fc", 1).image) == first
    assert png_bytes(am(tiny_net(), "fc", 1, seed=1).image) != first
    colour = png_bytes(am(tiny_net(), "conv2", 2, method="fft-decorrelated").image)
    assert png_bytes(am(tiny_net(), "conv2", 2, method="fft-decorrelated").image) == colour


def test_a_fresh_process_gives_the_same_bytes():
    script = (
        f"import hashlib, sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
        " from test_am_generate import am, tiny_net;"
        " from seldb.am import png_bytes;"
        " print(hashlib.sha256(png_bytes(am(tiny_net(), 'fc', 1).image)).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(png_bytes(am(tiny_net(), "fc", 1).image)).hexdigest()


@pytest.mark.parametrize("layer, reduce, steps", [("fc", "none", STEPS), ("conv2", "mean", 256)])
def test_am_image_beats_every_dataset_image_on_live_units(layer, reduce, steps):
    # conv2 unit 5 barely fires on the data (max 0.0026): it needs the redirected gradient and 256 steps
    net, images = tiny_net(), dataset()
    dataset_max = recorded(net, layer, images, "mean").amax(dim=0)
    live = [u for u in range(len(dataset_max)) if dataset_max[u] > 0]
    assert len(live) >= 5, "the fixture network should have live units to test"
    for unit in live:
        result = am(net, layer, unit, steps=steps)
        assert result.exceeds(float(dataset_max[unit]), reduce), (unit, result.activation, float(dataset_max[unit]))


def test_reported_activation_is_the_png_through_the_ingest_recorder():
    net = tiny_net()
    result = am(net, "conv2", 3)
    pixels = np.array(Image.open(io.BytesIO(png_bytes(result.image))).convert("RGB"))[None]
    assert result.activation.mean == pytest.approx(float(recorded(net, "conv2", pixels, "mean")[0, 3]), rel=1e-6)
    assert result.activation.max == pytest.approx(float(recorded(net, "conv2", pixels, "max")[0, 3]), rel=1e-6)
    assert result.objective == result.activation.mean  # post-ReLU objective: the same quantity


def test_a_dead_unit_is_reported_as_not_driven_and_pre_relu_still_climbs():
    net = tiny_net()
    with torch.no_grad():
        net.fc[0].bias[4] = -1e4  # no image in [0, 1] can switch it on
    result = am(net, "fc", 4)
    assert result.activation.mean == 0.0 and not result.exceeds(0.0, "none")
    grey = measure(net, net.fc, 4, np.full((SIZE, SIZE, 3), 128, np.uint8), "plain", pre_relu=True)[0].mean
    pre = am(net, "fc", 4, pre_relu=True)
    assert pre.objective > grey  # the pre-ReLU objective had a gradient and improved
    assert pre.activation.mean == 0.0  # what the PNG does at the recorded (post-ReLU) output


def test_pre_relu_reads_the_input_of_an_in_place_relu():
    net = tiny_net()
    images = dataset(20)
    x = torch.from_numpy(images).float().div(255.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        conv = net.conv2[0](net.pool(net.conv1((x - 0.5) / 0.5)))  # by hand, no hooks
    got = measure(net, net.conv2, 5, images, "plain", pre_relu=True)
    expected = conv[:, 5].flatten(1)
    assert [a.mean for a in got] == pytest.approx(expected.mean(1).double().tolist(), rel=1e-6)
    assert [a.max for a in got] == pytest.approx(expected.amax(1).double().tolist(), rel=1e-6)
    assert (expected < 0).any()  # so a post-ReLU reading would have differed


def test_reference_activation_of_the_mean_image(tmp_path):
    net, images = tiny_net(), dataset(12)
    paths = []
    for i, im in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(im).save(paths[-1])
    mean, n = mean_image(paths, SIZE, "plain")
    assert n == 12 and mean == pytest.approx(images.astype(np.float64).mean(0) / 255.0, abs=1e-6)
    ref = reference_activation(net, net.fc, 0, mean, "plain")
    x = torch.from_numpy(mean).float().permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = net.fc((net.conv2(net.pool(net.conv1((x - 0.5) / 0.5)))).flatten(1))[0, 0]
    assert ref.mean == ref.max == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "steps must be a whole number from 1 to 1,000,000, got 0"),
        ({"steps": -3}, "steps must be a whole number from 1 to 1,000,000, got -3"),
        ({"steps": 2.5}, "steps must be a whole number from 1 to 1,000,000, got 2.5"),
        ({"steps": 3_000_000_000}, "steps must be a whole number from 1 to 1,000,000, got 3000000000"),
        ({"unit": 6}, "no unit 6 in fc (it has units 0..5)"),
        ({"unit": -1}, "a unit is a whole number of at least 0, got -1 for fc"),
        ({"method": "ppgn"}, "unknown AM method 'ppgn'; known: fft-decorrelated, fft-gray"),
        ({"seed": -2}, "seed must be a whole number of at least 0, got -2"),
        ({"threads": 0}, "threads must be a whole number of at least 1, got 0"),
        ({"size": 4}, "size must be a whole number of at least 8 pixels, got 4"),
        ({"size": 20}, "the model cannot run on 20x20 input: "),
        ({"preprocess": "bgr"}, "preprocess must be one of torchvision, caffe, plain or a function, got 'bgr'"),
        ({"layer": "out", "unit": 0, "pre_relu": True}, "out (Linear) does not end in a ReLU"),
    ],
)
def test_bad_input_is_one_line(kwargs, message):
    net = tiny_net()
    layer, unit = kwargs.pop("layer", "fc"), kwargs.pop("unit", 0)
    with pytest.raises(InputError) as error:
        am(net, layer, unit, **kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_unknown_layer_name_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"layer 'fc9' is not in the model; valid names: .*conv1"):
        resolve_layer(tiny_net(), "fc9")


def test_write_png_returns_the_file_sha256_and_keeps_pixels(tmp_path):
    image = np.random.default_rng(3).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    digest = write_png(image, tmp_path / "a" / "unit.png")
    assert digest == hashlib.sha256((tmp_path / "a" / "unit.png").read_bytes()).hexdigest()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / "unit.png")), image)
    assert not list(tmp_path.glob("a/*.tmp"))


def test_spectrum_scale_by_hand():
    # 4x4: fy = 0, 1/4, -1/2, -1/4 and fx = 0, 1/4, 1/2; |f| floored at 1/4, scale = 1/|f|
    scale = spectrum_scale(4, 4)
    assert scale.shape == (4, 3)
    assert scale[0, 0] == pytest.approx(4.0) and scale[0, 1] == pytest.approx(4.0)
    assert scale[1, 1] == pytest.approx(1 / np.sqrt(1 / 8)) and scale[2, 2] == pytest.approx(1 / np.sqrt(1 / 2))
    assert scale[3, 2] == pytest.approx(1 / np.sqrt(1 / 16 + 1 / 4))


def test_fourier_image_matches_numpy_irfft_and_lucid_colour_matrix():
    image = FourierImage(10, 3, torch.Generator().manual_seed(5))
    spectrum = image.spectrum.detach().double().numpy()[0]
    complex_spectrum = (spectrum[..., 0] + 1j * spectrum[..., 1]) * spectrum_scale(10, 10)
    spatial = np.fft.irfft2(complex_spectrum, s=(10, 10), norm="ortho") / 4.0
    assert image.spatial().detach().double().numpy()[0] == pytest.approx(spatial, abs=1e-6)
    normalised = COLOR_CORRELATION_SVD_SQRT / np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0).max()
    rgb = 1 / (1 + np.exp(-np.einsum("dc,chw->dhw", normalised, spatial)))
    assert image.rgb().detach().double().numpy()[0] == pytest.approx(rgb, abs=1e-6)


def test_transforms_keep_the_size_follow_the_seed_and_rotate_correctly():
    x = torch.rand(1, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    spec = TransformSpec.for_size(28)
    assert (spec.pad, spec.jitter, spec.jitter_after) == (2, 1, 1)
    assert TransformSpec.for_size(224) == TransformSpec(12, 8, spec.scales, spec.angles, 4)
    a = random_transform(x, spec, torch.Generator().manual_seed(9))
    assert a.shape == x.shape and torch.equal(a, random_transform(x, spec, torch.Generator().manual_seed(9)))
    square = torch.arange(16.0).view(1, 1, 4, 4)
    quarter = rotate(square, 90.0)[0, 0].numpy()
    assert quarter == pytest.approx(np.rot90(square[0, 0].numpy(), k=1), abs=1e-5)
    assert torch.equal(rotate(square, 0), square)
