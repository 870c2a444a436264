"""`seldb am` on a run made by `seldb ingest`: rows, files, reuse, the acceptance check, bad input, reports.

The run is a real ingest of a seeded random digit-CNN over 128 generated 28x28
images (vertical bars against small squares). Every number the command shows
is checked against an independent reading: the PNG run through the ingest's
own recorder (seldb.nets.hooks.LayerRecorder) and the run's activation file
read with seldb.h5.reader, never through the AM code.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from support import rows

from seldb.am import AMOptions
from seldb.demo import build_network
from seldb.h5.reader import ActivationFile
from seldb.nets.hooks import LayerRecorder

pytestmark = pytest.mark.db
FAST = dict(steps=48, device="cpu", threads=1)


@dataclass(frozen=True)
class TinyRun:
    run_id: int
    data: Path
    h5: Path
    weights: Path


def _images(root: Path) -> None:
    """64 bright vertical bars and 64 bright small squares, on dark noise (seeded)."""
    rng = np.random.default_rng(11)
    for klass in ("bar", "dot"):
        (root / klass).mkdir(parents=True)
        for i in range(64):
            image = rng.integers(0, 40, (28, 28), dtype=np.uint8)
            x, y = rng.integers(4, 20, 2)
            if klass == "bar":
                image[2:26, x : x + 3] = 255
            else:
                image[y : y + 4, x : x + 4] = 255
            Image.fromarray(image).save(root / klass / f"{i:03d}.png")


@pytest.fixture(scope="module")
def tiny_run(database_url, tmp_path_factory) -> TinyRun:
    import seldb
    from seldb.db import migrate
    from seldb.ingest.options import IngestOptions

    root = tmp_path_factory.mktemp("am_run")
    _images(root / "data")
    torch.manual_seed(5)
    torch.save(build_network().state_dict(), root / "net.pth")
    migrate.upgrade("head", database_url)
    opts = IngestOptions(
        data=root / "data",
        model_module="seldb.demo:build_network",
        weights=root / "net.pth",
        layers=("conv2", "fc1"),
        preprocess="plain",
        input_size=28,
        workers=0,
        device="cpu",
        out=root / "run.h5",
        progress=False,
        on_duplicate="new",
    )
    with seldb.connect(database_url) as db:
        run_id = db.ingest(opts, notify=lambda _: None).imported.run_id
    return TinyRun(run_id, root / "data", root / "run.h5", root / "net.pth")


def _net(run: TinyRun):
    net = build_network()
    net.load_state_dict(torch.load(run.weights))
    return net.eval()


def png_activation(run: TinyRun, layer: str, unit: int, path: Path, reduce: str) -> float:
    """The unit's value for the PNG as `seldb ingest` records it ('plain': [0, 255] -> [-1, 1])."""
    net = _net(run)
    pixels = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).float().div(255.0)
    with LayerRecorder(net, {layer: layer}, reduce) as recorder, torch.no_grad():
        net((pixels.permute(2, 0, 1)[None] - 0.5) / 0.5)
        return float(recorder.take()[layer][0, unit])


def dataset_max(run: TinyRun, layer: str, unit: int) -> float:
    with ActivationFile(run.h5) as afile:
        return float(afile.read_units(layer, unit, unit + 1)[:, 0].max())  # every image is analysed here


def test_provenance_records_preprocessing_and_input_size(tiny_run, db):
    options = rows("SELECT options FROM seldb.runs WHERE run_id = :r", r=tiny_run.run_id)[0]["options"]
    assert options["ingest"]["preprocess_kind"] == "plain" and options["ingest"]["input_size"] == 28
    assert options["ingest"]["preprocess"].startswith("resize 28")  # the old description is kept


def test_images_rows_and_numbers_against_independent_readings(tiny_run, db, tmp_path):
    made = db.activation_maximisation(
        AMOptions(run=tiny_run.run_id, units=("fc1.3", "conv2.5"), out=tmp_path, **FAST), progress=False
    )
    assert [m.unit_label for m in made] == ["fc1.3", "conv2.5"] and not any(m.reused for m in made)
    for m, reduce in zip(made, ("max", "max")):  # fc units record themselves; conv2 was recorded by its max
        assert m.path.parent == tmp_path.resolve() and m.sha256 == hashlib.sha256(m.path.read_bytes()).hexdigest()
        assert m.activation == pytest.approx(png_activation(tiny_run, m.layer, m.unit, m.path, reduce), rel=1e-5)
        assert m.dataset_max == pytest.approx(dataset_max(tiny_run, m.layer, m.unit), rel=1e-6)
        assert m.exceeds_dataset_max == (m.activation > m.dataset_max)
    view = rows("SELECT * FROM seldb.am_images WHERE run_id = :r ORDER BY layer", r=tiny_run.run_id)
    conv = next(v for v in view if v["layer"] == "conv2")
    assert (conv["reduction"], conv["activation"]) == ("max", conv["activation_max"])
    assert conv["activation_mean"] == pytest.approx(
        png_activation(tiny_run, "conv2", 5, made[1].path, "mean"), rel=1e-5
    )
    assert conv["unit_key"] == f"{tiny_run.run_id}:conv2.5" and conv["settings"]["threads"] == 1
    assert conv["reference_n_images"] == 128 and conv["reference_activation"] is not None


def test_reference_activation_is_the_mean_image_through_the_recorder(tiny_run, db, tmp_path):
    (m,) = db.activation_maximisation(
        AMOptions(run=tiny_run.run_id, units=("fc1.7",), out=tmp_path, **FAST), progress=False
    )
    files = sorted(tiny_run.data.rglob("*.png"))
    mean = np.mean([np.asarray(Image.open(f).convert("RGB"), dtype=np.float64) / 255.0 for f in files], axis=0)
    net = _net(tiny_run)
    with LayerRecorder(net, {"fc1": "fc1"}, "max") as recorder, torch.no_grad():
        net((torch.from_numpy(mean).float().permute(2, 0, 1)[None] - 0.5) / 0.5)
        expected = float(recorder.take()["fc1"][0, 7])
    assert m.reference_activation == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_rerun_reuses_force_replaces_row_and_file(tiny_run, db, tmp_path):
    options = AMOptions(run=tiny_run.run_id, units=("fc1.11",), out=tmp_path / "a", seed=4, **FAST)
    (first,) = db.activation_maximisation(options, progress=False)
    created = rows(
        "SELECT created_at FROM seldb.am_images WHERE unit_key = :k AND seed = 4", k=f"{tiny_run.run_id}:fc1.11"
    )
    (again,) = db.activation_maximisation(options, progress=False)
    assert again.reused and again.path == first.path and again.sha256 == first.sha256
    assert (
        rows("SELECT created_at FROM seldb.am_images WHERE unit_key = :k AND seed = 4", k=f"{tiny_run.run_id}:fc1.11")
        == created
    )
    moved = AMOptions(**{**options.__dict__, "out": tmp_path / "b", "force": True})
    (forced,) = db.activation_maximisation(moved, progress=False)
    assert not forced.reused and forced.path == (tmp_path / "b" / first.path.name).resolve()
    assert forced.sha256 == first.sha256  # the same seed on the CPU: the same bytes
    assert not first.path.exists()  # the replaced file, still seldb's, is removed
    stored = rows("SELECT path FROM seldb.am_images WHERE unit_key = :k AND seed = 4", k=f"{tiny_run.run_id}:fc1.11")
    assert stored == [{"path": str(forced.path)}]
    forced.path.write_bytes(b"edited")  # a changed file is not reused: it is made again
    (remade,) = db.activation_maximisation(
        AMOptions(**{**moved.__dict__, "force": False}), progress=False, notify=lambda _: None
    )
    assert not remade.reused and hashlib.sha256(remade.path.read_bytes()).hexdigest() == first.sha256


def test_acceptance_every_unit_beats_its_dataset_max_or_the_output_says_so(tiny_run, db, cli, tmp_path):
    result = cli(
        "am",
        "--run",
        tiny_run.run_id,
        "--top",
        6,
        "--by",
        "precision_60",
        "--layer",
        "fc1",
        "--steps",
        96,
        "--device",
        "cpu",
        "--threads",
        1,
        "--out",
        tmp_path,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    shown = rows(
        "SELECT unit_label, path FROM seldb.am_images WHERE run_id = :r AND layer = 'fc1' AND steps = 96",
        r=tiny_run.run_id,
    )
    assert len(shown) == 6
    below = []
    for row in shown:
        unit = int(row["unit_label"].split(".")[1])
        png = png_activation(tiny_run, "fc1", unit, Path(row["path"]), "max")
        if not png > dataset_max(tiny_run, "fc1", unit):
            below.append(row["unit_label"])
    assert below == []  # on this network the fc1 images all beat the data; the line below would list any that did not
    assert "not driven above" not in result.stdout
    conv = cli(
        "am",
        "--run",
        tiny_run.run_id,
        "--units",
        "conv2.0,conv2.1,conv2.2,conv2.3",
        "--steps",
        16,
        "--device",
        "cpu",
        "--threads",
        1,
        "--out",
        tmp_path,
        "--quiet",
    )
    assert conv.exit_code == 0, conv.output
    failed = []
    for unit in range(4):
        (row,) = rows(
            "SELECT path FROM seldb.am_images WHERE unit_key = :k AND steps = 16", k=f"{tiny_run.run_id}:conv2.{unit}"
        )
        if not png_activation(tiny_run, "conv2", unit, Path(row["path"]), "max") > dataset_max(tiny_run, "conv2", unit):
            failed.append(f"conv2.{unit}")
    words = " ".join(conv.stdout.split())
    assert failed, "16 steps should leave some conv2 channel below the data's best (the honest-report case)"
    assert f"not driven above their highest dataset activation: {', '.join(failed)}" in words


def _state(out: Path) -> tuple:
    files = sorted(out.rglob("*")) if out.exists() else []
    return rows("SELECT count(*) AS n FROM seldb_store.am_images")[0]["n"], files


@pytest.mark.parametrize(
    "args, message",
    [
        (["--units", "fc1.64"], "no unit 'fc1.64' in run {run}"),
        (["--units", "fc9.1"], "no unit 'fc9.1' in run {run}"),
        (["--units", "fc1.1", "--steps", 0], "steps must be a whole number from 1 to 1,000,000, got 0"),
        (["--units", "fc1.1", "--steps", 3000000000], "steps must be a whole number from 1 to 1,000,000, got 3000000"),
        (["--units", "fc1.1", "--objective", "middle"], "--objective must be one of channel, centre, got 'middle'"),
        (["--units", "fc1.1", "--samples", 0], "--samples must be a whole number from 1 to 1000, got 0"),
        (["--units", "fc1.1", "--samples", 1001], "--samples must be a whole number from 1 to 1000, got 1001"),
        (["--units", "fc1.1", "--samples", 2, "--diversity", -1], "--diversity must be a finite number of at least 0"),
        (["--units", "fc1.1", "--diversity", "nan"], "--diversity must be a finite number of at least 0, got nan"),
        (["--units", "fc1.1", "--batch", 0], "--batch must be a whole number of at least 1, got 0"),
        (["--units", "fc1.1", "--generator", "no colon"], "--generator must be MODULE:FUNCTION"),
        (["--units", "fc1.1", "--generator", "nowhere.at_all:gen"], "--generator nowhere.at_all:gen: cannot import"),
        (
            ["--units", "fc1.1", "--generator", "seldb.demo:nothing"],
            "--generator seldb.demo:nothing: seldb.demo has no",
        ),
        (["--units", "fc1.1", "--generator", "seldb.demo:load_digits"], "--generator seldb.demo:load_digits: load_di"),
        (
            ["--units", "fc1.1", "--generator", "am_generators:wrong_size_generator"],
            "--generator am_generators:wrong_size_generator makes images of shape (3, 16, 16); the network needs",
        ),
        (["--units", "fc1.1", "--generator", "a:b", "--method", "fft-gray"], "--method fft-gray makes a Fourier image"),
        (["--units", "fc1.1", "--generator", "a:b", "--diversity", 1], "--diversity weighs the Fourier images'"),
        (["--units", "fc1.1", "--top", 3], "give the units (--units) or the top N (--top), not both"),
        ([], "name the units: --units fc8.1,fc8.7 or --top N --by precision_60 [--layer L]"),
        (["--top", 3, "--by", "precision"], "--by must be a measure that ranks units, got 'precision'"),
        (["--units", "fc1.1", "--method", "ppgn"], "unknown AM method 'ppgn'; known: fft-decorrelated, fft-gray"),
        (["--units", "fc1.1", "--size", 20], "the model cannot run on 20x20 input"),
        (["--units", "fc1.1,conv2.64"], "no unit 'conv2.64' in run {run}"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tiny_run, db, cli, tmp_path, args, message):
    out = tmp_path / "out"
    before = _state(out)
    result = cli("am", "--run", tiny_run.run_id, *args, "--out", out, "--device", "cpu", "--quiet")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + message.format(run=tiny_run.run_id)), result.stderr
    assert _state(out) == before and not out.exists()


def test_a_run_without_a_model_is_one_line(db, cli, tmp_path):
    from support import import_file

    from seldb.h5.reader import write_activation_file

    rng = np.random.default_rng(1)
    path = write_activation_file(
        tmp_path / "plain.h5",
        class_names=["a", "b"],
        labels=rng.integers(0, 2, 80),
        layers={"fc1": rng.random((80, 4), dtype=np.float32)},
    )
    run_id = import_file(path, force=True).run_id
    before = rows("SELECT count(*) AS n FROM seldb_store.am_images")
    result = cli("am", "--run", run_id, "--units", "fc1.0", "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: run {run_id} (model on dataset) was imported from seldb import-h5 with"
        " no model; AM needs a run made by `seldb ingest`"
    )
    assert rows("SELECT count(*) AS n FROM seldb_store.am_images") == before and not (tmp_path / "out").exists()


def test_rating_sheet_and_import_of_a_raters_download(tiny_run, db, cli, tmp_path):
    db.activation_maximisation(
        AMOptions(run=tiny_run.run_id, units=("fc1.20", "fc1.21"), out=tmp_path, **FAST), progress=False
    )
    missing = cli("am", "sheet", "--run", tiny_run.run_id, "--units", "fc1.20,fc1.22", "--out", tmp_path / "s")
    assert missing.exit_code == 1 and "no AM image of fc1.22" in missing.stderr and not (tmp_path / "s").exists()
    made = cli(
        "am", "sheet", "--run", tiny_run.run_id, "--units", "fc1.20,fc1.21", "--out", tmp_path / "s", "--seed", 7
    )
    assert made.exit_code == 0, made.output
    page = (tmp_path / "s" / "index.html").read_text()
    assert "fc1" not in page and "bar" not in page and "dot" not in page  # no unit ids or class names
    key = json.loads((tmp_path / "s" / "key.json").read_text())
    assert key["seed"] == 7 and key["about"] == {"run_id": tiny_run.run_id}
    again = cli("am", "sheet", "--run", tiny_run.run_id, "--units", "fc1.20", "--out", tmp_path / "s")
    assert again.exit_code == 1 and "exists" in again.stderr  # the key is never overwritten
    answers = tmp_path / "ann.csv"
    with open(answers, "w", newline="") as handle:  # what the page's Download answers button writes
        writer = csv.writer(handle)
        writer.writerow(["sheet", "item", "rater", "judged_object", "label"])
        for entry, (judged, label) in zip(key["items"], [("yes", "Zebra"), ("no", "")]):
            writer.writerow([key["sheet"], entry["item"], "ann", judged, label])
    no_key = cli("import", "ratings", answers, "--run", tiny_run.run_id)
    assert no_key.exit_code == 1 and "give the sheet's key with --key" in no_key.stderr
    other = cli("import", "ratings", answers, "--run", tiny_run.run_id + 1000, "--key", tmp_path / "s" / "key.json")
    assert other.exit_code == 1 and f"a sheet of run {tiny_run.run_id}, not run" in other.stderr
    done = cli("import", "ratings", answers, "--run", tiny_run.run_id, "--key", tmp_path / "s" / "key.json")
    assert done.exit_code == 0, done.output
    got = rows(
        "SELECT unit_label, rater, judged_object, label FROM seldb.am_ratings WHERE run_id = :r ORDER BY unit_label",
        r=tiny_run.run_id,
    )
    want = sorted(
        [
            {"unit_label": e["unit"], "rater": "ann", "judged_object": j == "yes", "label": lab or None}
            for e, (j, lab) in zip(key["items"], [("yes", "Zebra"), ("no", "")])
        ],
        key=lambda r: r["unit_label"],
    )
    assert got == want


def test_unit_report_contact_sheet_plot_panel_and_detectors(tiny_run, db, cli, tmp_path):
    (claimed,) = rows(
        "SELECT unit_label FROM seldb.detector_claims WHERE run_id = :r AND layer = 'fc1'"
        " ORDER BY precision_60 DESC, unit LIMIT 1",
        r=tiny_run.run_id,
    )
    label = claimed["unit_label"]
    (am,) = db.activation_maximisation(
        AMOptions(run=tiny_run.run_id, units=(label,), out=tmp_path, **FAST), progress=False
    )
    result = cli(
        "report", "unit", label, "--run", tiny_run.run_id, "--top-images", 6, "--plot", "--out", tmp_path / "r"
    )
    assert result.exit_code == 0, result.output
    sheet = tmp_path / "r" / f"unit-run{tiny_run.run_id}-{label}-top6.png"
    assert sheet.is_file() and "not reachable" not in result.stdout
    (sidecar,) = (tmp_path / "r").glob(f"unit-run{tiny_run.run_id}-{label}-*.json")
    assert json.loads(sidecar.read_text())["am_image"]["sha256"] == am.sha256
    report = db.reports.unit(label, run=tiny_run.run_id)
    stored = rows(
        "SELECT path FROM seldb_store.am_images WHERE run_id = :r AND unit = :u AND layer_id ="
        " (SELECT layer_id FROM seldb_store.run_layers WHERE run_id = :r AND name = 'fc1')",
        r=tiny_run.run_id,
        u=int(label.split(".")[1]),
    )
    listed = report.section("am_images").frame["path"].to_list()
    assert listed[0] == str(am.path) and sorted(listed) == sorted(r["path"] for r in stored)  # newest first
    moved = tiny_run.data.with_name("data-away")
    tiny_run.data.rename(moved)
    try:
        gone = cli("report", "unit", label, "--run", tiny_run.run_id, "--top-images", 6, "--out", tmp_path / "g")
    finally:
        moved.rename(tiny_run.data)
    assert gone.exit_code == 0 and "top images are all not reachable from here" in " ".join(gone.stdout.split())
    assert not list((tmp_path / "g").glob("*top6.png"))
    detectors = cli("report", "detectors", "--run", tiny_run.run_id, "--out", tmp_path / "d")
    assert detectors.exit_code == 0, detectors.output
    assert (tmp_path / "d" / f"detectors-run{tiny_run.run_id}-am.png").is_file()
    claims = db.reports.detectors(tiny_run.run_id).section("am_images").frame
    assert label in claims["unit_label"].to_list() and (claims["precision_60"] > 0.75).all()
    assert claims.filter(claims["unit_label"] == label)["path"].to_list() == [str(am.path)]  # its newest image


def test_top_images_are_the_activation_files_most_active(tiny_run, db, tmp_path):
    """The contact sheet's order and captions: the activation file's six most active images of fc1.30."""
    from seldb.am.contact_sheet import top_images_sheet

    with ActivationFile(tiny_run.h5) as afile:
        values = afile.read_units("fc1", 30, 31)[:, 0]
        order = np.argsort(-values, kind="stable")[:6]
        expected = [str(tiny_run.data / afile.paths[i]) for i in order]
    with db.connect() as conn:
        sheet = top_images_sheet(conn, tiny_run.run_id, "fc1", 30, 6, tmp_path / "s.png")
        paths = [
            r.image_path
            for r in conn.execute(
                __import__("sqlalchemy").text(
                    "SELECT image_path FROM seldb.unit_top_images"
                    " WHERE run_id = :r AND unit_label = 'fc1.30' AND rank <= 6"
                    " ORDER BY rank"
                ),
                {"r": tiny_run.run_id},
            )
        ]
    assert [str(tiny_run.data / p) for p in paths] == expected
    assert sheet.n_images == 6 and sheet.missing == [] and Image.open(sheet.path).size[0] >= 4 * 128  # 4 columns
