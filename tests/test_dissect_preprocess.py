"""`seldb dissect` feeds a network the input its weights expect: the model's own preprocessing by default,
the joined run's with --run, and a --preprocess other than the run's only with --force.

The regression: dissect used NetDissect-Lite's normalisation (RGB, / 57) for every model, so a Caffe
model of the registry (BGR 0-255 minus the mean) saw the wrong input without a word."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import rows
from typer.testing import CliRunner

from seldb.dissect.minibroden import make_mini_broden
from seldb.nets import registry
from seldb.nets.registry import ModelSpec

pytestmark = pytest.mark.db

SEEN: list[np.ndarray] = []  # every batch the probe network received


class InputProbe(torch.nn.Module):
    """Records its input; one conv layer gives dissect a spatial map."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)

    def forward(self, x):
        SEEN.append(x.detach().numpy().copy())
        return self.conv(x).mean(dim=(2, 3))


def build_probe():
    return InputProbe()


@pytest.fixture
def caffe_model(monkeypatch):
    """A registry entry whose weights expect Caffe's input, as vgg16-places and googlenet-places do."""
    spec = ModelSpec("caffe-probe", "custom", 0, preprocess="caffe", module_file="test_dissect_preprocess:build_probe")
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    SEEN.clear()
    return spec.name


@pytest.fixture
def mini(tmp_path):
    return make_mini_broden(tmp_path / "mini", n_images=3, image_size=16, seed=5)


def _dissect(*args):
    from seldb_cli.main import app

    return CliRunner().invoke(app, ["dissect", *[str(a) for a in args], "--quiet", "--layers", "conv"])


def _runs() -> int:
    return rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"]


def test_a_caffe_model_receives_bgr_0_255_minus_the_mean(migrated_db, caffe_model, mini):
    result = _dissect("--model", caffe_model, "--broden", mini.directory)
    assert result.exit_code == 0, result.output
    first = mini.directory / "images" / "mini" / "0000.png"
    from PIL import Image

    rgb = np.asarray(Image.open(first).convert("RGB"), dtype=np.float64)
    expected = rgb[:, :, ::-1] - np.array([103.939, 116.779, 123.68])  # Caffe's BGR mean, by hand
    assert np.abs(SEEN[0][0].transpose(1, 2, 0) - expected).max() < 1e-3
    run_id = int(result.stdout.split()[1])
    stored = rows("SELECT DISTINCT preprocess FROM seldb_store.dissections WHERE run_id = :r", r=run_id)
    assert [r["preprocess"] for r in stored] == ["caffe"]


def test_with_a_run_the_runs_preprocessing_is_the_default_and_another_is_refused(migrated_db, caffe_model, mini):
    made = _dissect("--model", caffe_model, "--broden", mini.directory)
    assert made.exit_code == 0, made.output
    run_id = int(made.stdout.split()[1])
    SEEN.clear()
    again = _dissect("--model", caffe_model, "--broden", mini.directory, "--run", run_id)
    assert again.exit_code == 0, again.output
    assert np.abs(SEEN[0]).max() > 20  # still 0-255 minus a mean, not RGB / 57
    before = _runs(), rows("SELECT count(*) AS n FROM seldb_store.dissections")[0]["n"]
    SEEN.clear()
    refused = _dissect(
        "--model", caffe_model, "--broden", mini.directory, "--run", run_id, "--preprocess", "netdissect"
    )
    lines = refused.stderr.strip().splitlines()
    assert refused.exit_code == 1 and len(lines) == 1, refused.output
    assert "--preprocess netdissect differs from run" in lines[0] and "caffe" in lines[0] and "--force" in lines[0]
    assert not SEEN and (_runs(), rows("SELECT count(*) AS n FROM seldb_store.dissections")[0]["n"]) == before
    forced = _dissect(
        "--model", caffe_model, "--broden", mini.directory, "--run", run_id, "--preprocess", "netdissect", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert np.abs(SEEN[0]).max() < 5  # NetDissect-Lite's scale: (RGB - mean) / 57
