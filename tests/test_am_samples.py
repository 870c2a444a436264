"""`seldb am` toward PPGN on a run made by `seldb ingest`: the default method, the centre objective,
samples, the rating panel of N samples, and hostile input (interrupts, a corrupt cache, bad options).

The run is test_am_db's tiny ingest of grey generated digits; numbers are
checked against the ingest's own recorder and the receptive field worked out
by hand, never through the AM code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import rows
from test_am_db import FAST, _state, png_activation, tiny_run  # noqa: F401 (tiny_run is a fixture)

from seldb.am import AMOptions
from seldb.am.sample_distance import mean_pairwise

pytestmark = pytest.mark.db


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_the_default_method_follows_the_runs_grey_images(tiny_run, db, cli, tmp_path):  # noqa: F811
    result = cli("am", "--run", tiny_run.run_id, "--units", "fc1.2", "--steps", 16, "--out", tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    (row,) = rows("SELECT method, path FROM seldb.am_images WHERE unit_key = :k", k=f"{tiny_run.run_id}:fc1.2")
    pixels = _pixels(Path(row["path"]))
    assert row["method"] == "fft-gray"
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


def test_centre_images_are_cropped_to_the_receptive_field_and_differ_from_channel_ones(
    tiny_run,  # noqa: F811
    db,
    tmp_path,
):
    run = tiny_run.run_id
    (channel,) = db.activation_maximisation(
        AMOptions(run=run, units=("conv2.4",), out=tmp_path, **FAST), progress=False
    )
    (centre,) = db.activation_maximisation(
        AMOptions(run=run, units=("conv2.4",), objective="centre", out=tmp_path, **FAST), progress=False
    )
    # conv2's centre neuron (7, 7) of 14 x 14 sees input rows and columns 11..18 (worked out in test_am_batch)
    assert _pixels(centre.path).shape == (8, 8, 3) and _pixels(channel.path).shape == (28, 28, 3)
    assert np.abs(_pixels(channel.path)[11:19, 11:19].astype(int) - _pixels(centre.path).astype(int)).mean() > 5
    assert centre.objective_kind == "centre" and channel.objective_kind == "channel"
    stored = rows(
        "SELECT objective_kind, settings->'crop' AS crop FROM seldb.am_images WHERE unit_key = :k"
        " ORDER BY objective_kind",
        k=f"{run}:conv2.4",
    )
    assert stored == [
        {"objective_kind": "centre", "crop": [11, 11, 19, 19]},
        {"objective_kind": "channel", "crop": None},
    ]


def test_samples_are_rows_and_files_of_their_own_and_the_sheet_takes_a_panel_of_them(
    tiny_run,  # noqa: F811
    db,
    cli,
    tmp_path,
):
    run = tiny_run.run_id
    options = AMOptions(run=run, units=("fc1.30", "fc1.31"), samples=3, seed=5, out=tmp_path, **FAST)
    made = db.activation_maximisation(options, progress=False)
    assert [(m.unit_label, m.seed) for m in made] == [(f"fc1.{u}", s) for u in (30, 31) for s in (5, 6, 7)]
    assert len({m.path for m in made}) == 6 and all(m.samples == 3 and m.diversity == 1.0 for m in made)
    for m in made:
        assert m.activation == pytest.approx(png_activation(tiny_run, "fc1", m.unit, m.path, "max"), rel=1e-5)
    again = db.activation_maximisation(options, progress=False)
    assert all(m.reused for m in again)
    sheet = cli("am", "sheet", "--run", run, "--units", "fc1.30,fc1.31", "--out", tmp_path / "s", "--samples", 2)
    assert sheet.exit_code == 0, sheet.output
    key = json.loads((tmp_path / "s" / "key.json").read_text())
    panels = {item["unit"]: item["images"] for item in key["items"]}
    assert panels == {u: [str(m.path) for m in made if m.unit_label == u][:2] for u in ("fc1.30", "fc1.31")}
    short = cli("am", "sheet", "--run", run, "--units", "fc1.30", "--out", tmp_path / "t", "--samples", 4)
    assert short.exit_code == 1 and "fewer than 4 samples in the newest AM set of fc1.30 (3)" in short.stderr
    assert not (tmp_path / "t").exists()
    assert mean_pairwise([_pixels(m.path) for m in made[:3]]) > 0


def test_an_interrupted_call_says_what_it_kept(tiny_run, db, cli, tmp_path, monkeypatch):  # noqa: F811
    import seldb.am.command as command

    real, calls = command._make_batch, []

    def once_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(command, "_make_batch", once_then_ctrl_c)
    out = tmp_path / "out"
    result = cli(
        "am", "--run", tiny_run.run_id, "--units", "fc1.40,fc1.41", "--batch", 1, "--steps", 8, "--out", out, "--quiet"
    )
    assert result.exit_code == 130
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"interrupted: kept 1 finished image(s), each a row of seldb.am_images and a PNG in {out}: fc1.40 (seed 0);"
    ), line
    kept = rows("SELECT unit, path FROM seldb.am_images WHERE run_id = :r AND unit IN (40, 41)", r=tiny_run.run_id)
    assert [r["unit"] for r in kept] == [40] and Path(kept[0]["path"]).is_file()
    assert sorted(p.name for p in out.glob("fc1.*.png")) == [Path(kept[0]["path"]).name]


def test_a_corrupt_mean_image_cache_is_made_again(tiny_run, db, cli, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    cache = out / f"run{tiny_run.run_id}-mean-image-plain-28px.npz"
    cache.write_bytes(b"PK\x03\x04 not a zip")
    result = cli("am", "--run", tiny_run.run_id, "--units", "fc1.50", "--steps", 8, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert f"warning: {cache} was unreadable or not a mean image; computed it again" in " ".join(result.stderr.split())
    with np.load(cache) as stored:
        assert stored["image"].shape == (28, 28, 3) and int(stored["n_images"]) == 128
    again = cli("am", "--run", tiny_run.run_id, "--units", "fc1.51", "--steps", 8, "--out", out, "--quiet")
    assert again.exit_code == 0 and "warning" not in again.stderr


@pytest.mark.parametrize("device", ["cuda:x", "gpu"])
def test_a_bad_device_is_one_plain_line(tiny_run, db, cli, tmp_path, device):  # noqa: F811
    out = tmp_path / "out"
    before = _state(out)
    result = cli("am", "--run", tiny_run.run_id, "--units", "fc1.1", "--device", device, "--out", out, "--quiet")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: --device must be cpu, cuda or cuda:N (N a GPU number), got '{device}'"
    assert _state(out) == before and not out.exists()


def test_generator_samples_are_stored_with_their_generator(tiny_run, db, cli, tmp_path):  # noqa: F811
    spec = "am_generators:tiny_generator"
    result = cli(
        "am", "--run", tiny_run.run_id, "--units", "fc1.60,conv2.6", "--generator", spec, "--samples", 2,
        "--steps", 8, "--out", tmp_path, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = rows(
        "SELECT unit_label, layer, unit, method, generator, seed, samples, diversity, activation, path"
        " FROM seldb.am_images WHERE run_id = :r AND generator = :g ORDER BY layer DESC, seed",
        r=tiny_run.run_id,
        g=spec,
    )
    assert [(r["unit_label"], r["seed"]) for r in stored] == [
        ("fc1.60", 0),
        ("fc1.60", 1),
        ("conv2.6", 0),
        ("conv2.6", 1),
    ]
    assert {(r["method"], r["samples"], r["diversity"]) for r in stored} == {("ppgn", 2, 0.0)}
    for r in stored:
        assert r["activation"] == pytest.approx(
            png_activation(tiny_run, r["layer"], r["unit"], Path(r["path"]), "max"), rel=1e-5
        )
    assert stored[0]["path"] != stored[1]["path"] and "ppgn" in Path(stored[0]["path"]).name


def test_a_sheet_with_a_bad_sample_count_is_one_line(tiny_run, db, cli, tmp_path):  # noqa: F811
    result = cli("am", "sheet", "--run", tiny_run.run_id, "--units", "fc1.1", "--out", tmp_path / "s", "--samples", 0)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --samples must be a whole number of at least 1, got 0"
    assert not (tmp_path / "s").exists()
