"""`seldb sae train/load` on bad input: one line, exit 1, nothing written (no run, no file); an
interruption says what was kept; `sae load` records SAELens's encoding of the run's layer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from seldb.h5.reader import ActivationFile  # noqa: E402
from tests.support import import_file, rows  # noqa: E402
from tests.test_sae import _direct, _saelens_folder, planted_file  # noqa: E402

pytestmark = pytest.mark.db


@pytest.fixture
def source(db, tmp_path):
    """A run of the planted activations (24 units in layer 'mix'), from a file of this test's own."""
    path = planted_file(tmp_path / "planted.h5")
    return import_file(path, force=True).run_id, path


def n_runs() -> int:
    return rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"]


def refused(cli, tmp_path, args, message):
    before = n_runs()
    out = tmp_path / "out"
    result = cli("sae", *args, "--out", out, "--quiet")
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert n_runs() == before
    assert not out.exists() or not any(out.iterdir())


def test_unknown_run_layer_and_k_above_the_latents(cli, tmp_path, source):
    run, _ = source
    refused(cli, tmp_path, ["train", "--run", "999999", "--layer", "mix"], "no run 999999")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "nope"], "no layer 'nope'")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix", "--latents", "4", "--k", "8"], "--k 8 is larger")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix", "--arch", "gated"], "--arch is one of")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix", "--latents", "lots"], "--latents takes")


def test_activation_file_gone_or_changed(cli, tmp_path, source):
    _, path = source
    copy = tmp_path / "copy.h5"
    shutil.copy(path, copy)
    run = import_file(copy, force=True).run_id
    with open(copy, "ab") as f:
        f.write(b"\0")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix"], "has changed since the import")
    copy.unlink()
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix"], "is gone")


def test_load_refuses_another_width_and_a_malformed_cfg(cli, tmp_path, source):
    run, _ = source
    _saelens_folder(tmp_path / "wide", "standard", 10, 20, seed=0)
    refused(cli, tmp_path, ["load", tmp_path / "wide", "--run", run, "--layer", "mix"], "the SAE's d_in is 10")
    _saelens_folder(tmp_path / "bad", "standard", 24, 20, seed=0)
    (tmp_path / "bad" / "cfg.json").write_text("{not json")
    refused(cli, tmp_path, ["load", tmp_path / "bad", "--run", run, "--layer", "mix"], "not valid JSON")
    _saelens_folder(tmp_path / "topk", "topk", 24, 20, seed=0, k=30)
    refused(cli, tmp_path, ["load", tmp_path / "topk", "--run", run, "--layer", "mix"], "k 30 is larger than")


def test_load_records_saelens_encoding_of_the_layer(cli, tmp_path, source):
    run, path = source
    t = _saelens_folder(tmp_path / "sae", "jumprelu", 24, 40, seed=5, apply_b_dec_to_input=False)
    result = cli("sae", "load", tmp_path / "sae", "--run", run, "--layer", "mix", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    new_run = int(result.output.split()[1].rstrip(":"))
    (latents,) = (tmp_path / "out").glob("*.h5")
    with ActivationFile(path) as src, ActivationFile(latents) as lat:
        x = torch.from_numpy(src.read_units("mix", 0, 24))
        got = lat.read_units("mix.sae", 0, 40)
    expected = _direct(t, x, "jumprelu", b_dec_in=False).numpy()
    assert np.allclose(got, expected, atol=1e-5)
    record = rows("SELECT options FROM seldb.runs WHERE run_id = :r", r=new_run)[0]["options"]
    assert record["source_run"] == run and record["sae"]["arch"] == "jumprelu"
    assert record["sae"]["quality"]["n_latents"] == 40


def test_interruptions_say_what_was_kept(cli, tmp_path, source, monkeypatch):
    run, _ = source
    from seldb.sae import command, record

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    args = ["sae", "train", "--run", run, "--layer", "mix", "--latents", "8", "--k", "2", "--epochs", "1", "-q"]
    before = n_runs()
    original = record.record_latents
    monkeypatch.setattr(record, "record_latents", stop)
    result = cli(*args, "--out", tmp_path / "a")
    assert result.exit_code == 130 and "interrupted: nothing was written" in result.output
    assert not any((tmp_path / "a").iterdir())
    monkeypatch.setattr(record, "record_latents", original)  # (undo() would also drop the database's URL)
    monkeypatch.setattr(command, "run_import", stop)
    result = cli(*args, "--out", tmp_path / "b")
    assert result.exit_code == 130, result.output
    assert "no run was written; the latents' activation file" in result.output and "weights" in result.output
    assert sorted(p.suffix for p in (tmp_path / "b").iterdir()) == [".h5", ".sae"]
    assert n_runs() == before
    saved = json.loads(next((tmp_path / "b").glob("*.sae/cfg.json")).read_text())
    assert saved["architecture"] == "topk" and saved["k"] == 2 and saved["d_in"] == 24


def test_a_run_without_an_activation_file_says_so(cli, tmp_path, db, source):
    """A run `seldb dissect` stored has no activation file: the line says so, not 'None is gone'."""
    import sqlalchemy as sa

    _, path = source
    copy = tmp_path / "copy.h5"
    shutil.copy(path, copy)
    run = import_file(copy, force=True).run_id
    with db.engine.begin() as conn:  # what a dissect run looks like: no file, made by seldb dissect
        conn.execute(
            sa.text(
                "UPDATE seldb_store.runs SET source_file = NULL,"
                ' options = options || \'{"source": "seldb dissect"}\'::jsonb WHERE run_id = :r'
            ),
            {"r": run},
        )
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix"], "was not loaded from an activation file")


def test_device_cuda_without_cuda_and_an_unknown_device_are_one_line(cli, tmp_path, source, monkeypatch):
    run, _ = source
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without a GPU
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix", "--device", "cuda"], "sees no CUDA GPU")
    _saelens_folder(tmp_path / "sae", "topk", 24, 20, seed=0, k=3)
    refused(cli, tmp_path, ["load", tmp_path / "sae", "--run", run, "--layer", "mix", "--device", "cuda"], "no CUDA")
    refused(cli, tmp_path, ["train", "--run", run, "--layer", "mix", "--device", "tpu"], "--device is one of")


@pytest.mark.gpu
def test_cuda_trains_and_records_what_the_cpu_does(cli, tmp_path, source):
    """On the GPU: the same SAE file format, latents within float tolerance of the CPU's for the same weights."""
    run, path = source
    args = ["--run", run, "--layer", "mix", "--latents", "16", "--k", "3", "--epochs", "5", "-q"]
    trained = cli("sae", "train", *args, "--device", "cuda", "--out", tmp_path / "gpu")
    assert trained.exit_code == 0, trained.output
    (folder,) = (tmp_path / "gpu").glob("*.sae")
    assert json.loads((folder / "cfg.json").read_text())["device"] == "cpu"  # saved as the CPU would save it
    loaded = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"load-{device}"
        result = cli("sae", "load", folder, "--run", run, "--layer", "mix", "--device", device, "--out", out, "-q")
        assert result.exit_code == 0, result.output
        (latents,) = out.glob("*.h5")
        with ActivationFile(latents) as lat:
            loaded[device] = lat.read_units("mix.sae", 0, 16)
    assert np.allclose(loaded["cuda"], loaded["cpu"], atol=1e-4)
    assert (loaded["cuda"] > 0).sum(axis=1).max() <= 3
