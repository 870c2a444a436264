"""Rebuilding a run's network from the provenance `seldb ingest` records, or refusing in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from seldb.am import generate, png_bytes
from seldb.am.model_source import preprocessing, rebuild_model
from seldb.demo import build_network
from seldb.errors import InputError
from seldb.ingest.command import IngestOptions, _provenance, prepare
from seldb.ingest.runner import Recording

pytestmark = pytest.mark.unit


@pytest.fixture
def demo_provenance(tmp_path):
    """The provenance a real `seldb ingest` of the demo network makes (prepared, not run)."""
    rng = np.random.default_rng(2)
    for klass in ("a", "b"):
        (tmp_path / "data" / klass).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "data" / klass / f"{i}.png")
    torch.manual_seed(3)
    weights = tmp_path / "digits.pth"
    torch.save(build_network().state_dict(), weights)
    opts = IngestOptions(
        data=tmp_path / "data",
        model_module="seldb.demo:build_network",
        weights=weights,
        layers=("conv2", "fc1"),
        preprocess="plain",
        input_size=28,
        workers=0,
        device="cpu",
        out=tmp_path / "run.h5",
        progress=False,
    )
    prepared = prepare(opts)
    provenance = _provenance(prepared, Recording(tmp_path / "run.h5", 4, 0, [], 0))
    return provenance.as_json(), weights


def test_rebuilt_network_gives_the_same_am_image_as_the_original(demo_provenance):
    provenance, weights = demo_provenance
    rebuilt = rebuild_model(provenance, "run 7")
    assert (rebuilt.preprocess, rebuilt.input_size) == ("plain", 28)
    assert rebuilt.layer_modules == {"conv2": "conv2", "fc1": "fc1"}
    original = build_network()
    original.load_state_dict(torch.load(weights))
    options = dict(steps=16, size=28, seed=0, preprocess="plain", threads=1)
    assert png_bytes(generate(rebuilt.net, rebuilt.module("fc1"), 3, **options).image) == png_bytes(
        generate(original.eval(), original.fc1, 3, **options).image
    )
    with pytest.raises(InputError, match=r"layer 'fc2' is not in this run \(layers: conv2, fc1\)"):
        rebuilt.module("fc2")


def test_runs_without_a_usable_model_are_refused_in_one_line(demo_provenance):
    provenance, weights = demo_provenance
    cases = [
        (None, "run 7 was imported from an activation file with no model; AM needs a run made by `seldb ingest`"),
        ({"skipped_images": []}, "run 7 was imported from an activation file with no model"),
    ]
    for given, message in cases:
        with pytest.raises(InputError) as error:
            rebuild_model(given, "run 7")
        assert str(error.value).startswith(message) and "\n" not in str(error.value)
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(InputError, match="has changed since the run was recorded"):
        rebuild_model(provenance, "run 7")
    weights.unlink()
    with pytest.raises(InputError, match="is gone"):
        rebuild_model(provenance, "run 7")


@pytest.mark.parametrize("kind, size", [("plain", 28), ("torchvision", 224), ("caffe", 227)])
def test_preprocessing_is_read_back_from_the_ingest_description(kind, size):
    from seldb.nets.preprocess import describe

    assert preprocessing({"preprocess": describe(kind, size)}) == (kind, size)
    assert preprocessing({"preprocess": "?", "preprocess_kind": kind, "input_size": size}) == (kind, size)
