"""The ingest runner without a database: what the hooks record (post-ReLU,
equal to a separate forward pass), corrupt images, kill-and-resume (bit for
bit on CPU), refused option changes, and the CLI's surface."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from test_ingest_support import corrupt_jpeg, csail_layout, make_tree, random_state_dict, save
from typer.testing import CliRunner

from seldb.errors import InputError
from seldb.ingest.command import IngestOptions, record
from seldb.nets.preprocess import make_transform
from seldb.nets.registry import REGISTRY, build_network
from seldb.nets.weights import load_weights

pytestmark = pytest.mark.unit


class Killed(Exception):
    """Stands in for SIGKILL between two chunks."""


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    state = random_state_dict("alexnet", 365)
    return save(csail_layout(state, wrap_features_only=True), tmp_path_factory.mktemp("w") / "alexnet.pth.tar")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("images") / "data", per_class=7)
    corrupt_jpeg(root / "dog" / "img003.jpg")
    return root


def options(data: Path, weights: Path, out: Path, **extra) -> IngestOptions:
    base = dict(
        data=data,
        model="alexnet-places",
        weights=weights,
        out=out,
        input_size=64,
        batch_size=4,
        workers=0,
        device="cpu",
        progress=False,
        chunk_images=4,
    )
    return IngestOptions(**{**base, **extra})


def read_file(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in ("images/label", "images/path", *(f"layers/{k}" for k in f["layers"]))}


def test_recorded_values_equal_a_separate_forward_pass(tree, weights, tmp_path):
    layers = ["conv5", "features.10", "fc6", "classifier.1", "fc7"]
    prepared, result = record(options(tree, weights, tmp_path / "a.h5", layers=layers, reduce="mean"))
    assert result.rows == 20 and [s["path"] for s in result.skipped] == ["dog/img003.jpg"]
    stored = read_file(result.out)
    spec = REGISTRY["alexnet-places"]
    net = build_network(spec)
    load_weights(net, weights, spec)
    transform = make_transform("torchvision", 64)
    paths = [p.decode() for p in stored["images/path"]]
    x = torch.stack([transform(Image.open(tree / p).convert("RGB")) for p in paths])
    with torch.no_grad():
        pre5 = net.features[:11](x)  # conv5 before its in-place ReLU
        fc6_pre = net.classifier[:2](torch.flatten(net.avgpool(net.features(x)), 1))
        fc7 = net.classifier[:6](torch.flatten(net.avgpool(net.features(x)), 1))
    expected = {
        "conv5": pre5.clamp(min=0).mean(dim=(2, 3)),
        "features.10": pre5.mean(dim=(2, 3)),
        "fc6": fc6_pre.clamp(min=0),
        "classifier.1": fc6_pre,
        "fc7": fc7,
    }
    for name, values in expected.items():
        np.testing.assert_allclose(stored[f"layers/{name}"], values.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    for post_relu in ("conv5", "fc6", "fc7"):
        assert (stored[f"layers/{post_relu}"] >= 0).all()
    assert (stored["layers/features.10"] < 0).any() and (stored["layers/classifier.1"] < 0).any()


def test_default_layers_and_unit_counts(tree, weights, tmp_path):
    prepared, result = record(options(tree, weights, tmp_path / "b.h5", limit_per_class=1))
    assert prepared.layer_spec == {"conv5": (256, "max"), "fc6": (4096, "none"), "fc7": (4096, "none")}


def test_kill_and_resume_is_bit_for_bit(tree, weights, tmp_path):
    _, whole = record(options(tree, weights, tmp_path / "whole.h5"))
    calls = []

    def kill_after_two(state):
        calls.append(state.rows)
        if len(calls) == 2:
            raise Killed

    with pytest.raises(Killed):
        record(options(tree, weights, tmp_path / "resumed.h5"), on_chunk=kill_after_two)
    _, resumed = record(options(tree, weights, tmp_path / "resumed.h5"))
    assert resumed.resumed_at == calls[-1] > 0
    first, second = read_file(whole.out), read_file(resumed.out)
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key
    assert resumed.skipped == whole.skipped
    _, again = record(options(tree, weights, tmp_path / "resumed.h5"))
    assert again.reused  # the recording was complete: no inference ran


def test_resume_with_other_options_is_refused(tree, weights, tmp_path):
    with pytest.raises(Killed):
        record(options(tree, weights, tmp_path / "c.h5"), on_chunk=lambda state: (_ for _ in ()).throw(Killed()))
    with pytest.raises(InputError, match=r"batch_size: 4 -> 8.*reduce: max -> mean|reduce: max -> mean.*batch_size"):
        record(options(tree, weights, tmp_path / "c.h5", batch_size=8, reduce="mean"))
    _, fresh = record(options(tree, weights, tmp_path / "c.h5", batch_size=8, force=True))
    assert fresh.resumed_at == 0 and fresh.rows == 20


def test_a_foreign_file_is_not_overwritten(tree, weights, tmp_path):
    (tmp_path / "x.h5").write_bytes(b"someone's data")
    with pytest.raises(InputError, match="not a partial ingest"):
        record(options(tree, weights, tmp_path / "x.h5"))


def test_wrong_layer_name_lists_valid_ones(tree, weights, tmp_path):
    with pytest.raises(InputError, match=r"layer 'conv9' is not in the model; valid names: conv1, .*features.10"):
        record(options(tree, weights, tmp_path / "d.h5", layers=["conv9"]))


# -- CLI ------------------------------------------------------------------------


def cli():
    from seldb_cli.main import app

    return app


def test_cli_models_and_help():
    runner = CliRunner()
    listing = runner.invoke(cli(), ["models"])
    assert listing.exit_code == 0 and "vgg16-places" in listing.output and "conv5_3" in listing.output
    helped = runner.invoke(cli(), ["ingest", "--help"])
    assert helped.exit_code == 0 and "--limit-per-class" in helped.output and "Examples" in helped.output


def test_cli_missing_data_is_one_line(tmp_path):
    result = CliRunner().invoke(cli(), ["ingest", "--model", "alexnet-places", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "data directory not found" in result.output
    assert "Traceback" not in result.output


KILLED_RUN = """
import sys, time
from pathlib import Path
from seldb.ingest.command import IngestOptions, record
opts = IngestOptions(data=Path(sys.argv[1]), model="alexnet-places", weights=Path(sys.argv[2]), out=Path(sys.argv[3]),
                     input_size=64, batch_size=4, chunk_images=4, workers=0, device="cpu", progress=False)
record(opts, on_chunk=lambda state: time.sleep(0.3))  # slow enough to be killed mid-run
"""


@pytest.mark.slow
def test_sigkill_and_resume_is_bit_for_bit(tree, weights, tmp_path):
    """A real kill -9 between (or during) chunks, then the same command again."""
    import json
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed.h5"
    state_file = out.with_name(out.name + ".ingest.json")
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tree), str(weights), str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        if state_file.is_file() and json.loads(state_file.read_text())["rows"] >= 8:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert child.wait() == -signal.SIGKILL
    _, resumed = record(options(tree, weights, out))
    _, whole = record(options(tree, weights, tmp_path / "whole.h5"))
    assert resumed.resumed_at >= 8
    first, second = read_file(whole.out), read_file(resumed.out)
    for key in first:
        assert np.array_equal(first[key], second[key]), key


@pytest.mark.gpu
def test_cuda_matches_cpu_and_resumes(tree, weights, tmp_path):
    """On CUDA: recorded values agree with the CPU's, and a resumed run with an uninterrupted one (1e-6)."""
    _, cpu = record(options(tree, weights, tmp_path / "cpu.h5"))
    _, gpu = record(options(tree, weights, tmp_path / "gpu.h5", device="cuda"))
    with pytest.raises(Killed):
        record(
            options(tree, weights, tmp_path / "gpu2.h5", device="cuda"),
            on_chunk=lambda state: (_ for _ in ()).throw(Killed()),
        )
    _, resumed = record(options(tree, weights, tmp_path / "gpu2.h5", device="cuda"))
    assert resumed.resumed_at > 0
    on_cpu, on_gpu, again = read_file(cpu.out), read_file(gpu.out), read_file(resumed.out)
    for key in on_cpu:
        if key.startswith("layers/"):
            np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=1e-2, atol=1e-3)  # TF32 convolutions
            np.testing.assert_allclose(again[key], on_gpu[key], rtol=1e-6, atol=1e-7)
