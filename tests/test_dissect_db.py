"""`seldb dissect` through the real CLI into PostgreSQL: the views against the brute force, the planted unit,
tally.csv round trips, joining a class-selectivity run, and bad input (one line, nothing written)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from support import rows
from test_dissect_bruteforce import LITE_COLUMNS, brute_force
from test_dissect_core import _edit_index, _png
from test_ingest_support import make_tree
from typer.testing import CliRunner

from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.planted_net import PlantedNet

pytestmark = pytest.mark.db

PLANTED = ["--model-module", "seldb.dissect.planted_net:PlantedNet"]
QUANTILE = 0.1  # above red-c's share of the mini dataset's pixels, so the planted unit's threshold is 0
TABLES = ("runs", "run_layers", "dissections", "dissection_labels", "dissection_iou", "netdissect")
# the two modules of a network whose last unit never fires (a dead unit: top label '' with score 0)
DEAD_UNIT_MODULE = """
import torch
from seldb.dissect.planted_net import PlantedNet


class WithDeadUnit(torch.nn.Module):
    seldb_preprocess = "netdissect"  # the planted unit undoes NetDissect-Lite's normalisation

    def __init__(self):
        super().__init__()
        self.planted = PlantedNet().planted
        self.maps = torch.nn.Identity()

    def forward(self, x):
        maps = self.planted(x)
        return self.maps(torch.cat([maps, torch.zeros_like(maps[:, :1])], dim=1)).mean(dim=(2, 3))


def build():
    return WithDeadUnit()
"""


def _invoke(*args):
    from seldb_cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _run_id(stdout: str) -> int:
    return int(stdout.split()[1])


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return make_mini_broden(tmp_path_factory.mktemp("mini") / "mini", n_images=14, image_size=32, seed=11)


@pytest.fixture(scope="module")
def dissected(database_url, mini, tmp_path_factory) -> int:
    """The planted network's two conv layers dissected once, in a run of their own."""
    import seldb

    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        result = _invoke(
            "dissect",
            *PLANTED,
            "--broden",
            mini.directory,
            "--layers",
            "planted,pooled",
            "--quantile",
            QUANTILE,
            "--quiet",
            "--workdir",
            tmp_path_factory.mktemp("work"),
        )
        assert result.exit_code == 0, result.output
        yield _run_id(result.stdout)


def _counts() -> dict[str, int]:
    return {t: rows(f"SELECT count(*) AS n FROM seldb_store.{t}")[0]["n"] for t in TABLES}


def test_view_iou_matches_brute_force(migrated_db, dissected, mini):
    net = PlantedNet()  # what --model-module seldb.dissect.planted_net:PlantedNet builds
    for layer in ("planted", "pooled"):
        expected = brute_force(net, layer, mini.directory, QUANTILE)
        got = rows(
            "SELECT unit, label_number, category, iou, intersection, activation, truth, union_pixels,"
            " threshold FROM seldb.unit_label_iou WHERE run_id = :r AND layer = :l",
            r=dissected,
            l=layer,
        )
        assert len(got) == expected["iou"].shape[0] * 16  # every unit with every label of label.csv
        for row in got:
            u, lab = row["unit"], row["label_number"]
            assert abs(row["iou"] - expected["iou"][u, lab]) <= 1e-9
            assert row["intersection"] == expected["intersection"][u, lab]
            assert row["activation"] == expected["activation"][u, lab]
            assert row["truth"] == expected["truth"][lab]
            assert row["union_pixels"] == expected["activation"][u, lab] + expected["truth"][lab] - row["intersection"]
            assert row["threshold"] == expected["threshold"][u]
            assert row["category"] == expected["cats"][expected["primary"][lab]]
        assert sum(r["intersection"] > 0 for r in got) > 10  # not vacuous


def test_planted_unit_has_iou_one_in_the_views(migrated_db, dissected, mini):
    red = rows(
        "SELECT iou FROM seldb.unit_label_iou WHERE run_id = :r AND unit_label = 'planted.0' AND label = 'red-c'",
        r=dissected,
    )
    assert red[0]["iou"] == pytest.approx(1.0, abs=1e-9)
    top = rows(
        "SELECT category, label, score, is_detector, source, quantile, dataset, precision_60"
        " FROM seldb.netdissect WHERE run_id = :r AND unit_label = 'planted.0' AND is_top",
        r=dissected,
    )
    assert top == [
        {
            "category": "color",
            "label": "red-c",
            "score": pytest.approx(1.0, abs=1e-9),
            "is_detector": True,
            "source": "computed",
            "quantile": QUANTILE,
            "dataset": str(mini.directory.resolve()),
            "precision_60": None,
        }
    ]


def test_a_run_of_its_own_behaves_in_every_view_and_report(migrated_db, dissected, cli):
    run = rows(
        "SELECT source, n_images_total, n_images_analysed, layers, n_units FROM seldb.runs WHERE run_id = :r",
        r=dissected,
    )
    assert run == [
        {
            "source": "seldb dissect",
            "n_images_total": 14,
            "n_images_analysed": 0,
            "layers": "planted,pooled",
            "n_units": 10,
        }
    ]
    assert rows("SELECT count(*) AS n FROM seldb.unit_measures WHERE run_id = :r", r=dissected)[0]["n"] == 0
    from seldb.db.views import VIEW_NAMES

    for view in VIEW_NAMES:  # every view answers for the run (no measures: empty or NULL, never an error)
        rows(
            f"SELECT * FROM seldb.{view} WHERE run_id = :r" if view != "runs" else "SELECT * FROM seldb.runs",
            r=dissected,
        )
    for args in (["layers"], ["top"], ["correlations"], ["unit", "planted.0"], ["detectors"]):
        result = cli("report", *args, "--run", dissected)
        assert result.exit_code == 0, (args, result.output)
    assert "red-c" in cli("report", "unit", "planted.0", "--run", dissected).stdout
    detectors = cli("report", "detectors", "--run", dissected, "--format", "csv").stdout
    assert "planted.0,color,red-c" in detectors
    shown = cli("runs", "show", dissected)
    assert shown.exit_code == 0 and "seldb dissect" in shown.stdout
    ratings = cli("report", "ratings", "--run", dissected)
    assert ratings.exit_code == 1 and len(ratings.stderr.strip().splitlines()) == 1


def _netdissect(run_id: int, layer: str) -> list[dict]:
    return rows(
        "SELECT unit_label, category, label, is_top, score, iou, is_detector, source FROM seldb.netdissect"
        " WHERE run_id = :r AND layer = :l ORDER BY unit, label",
        r=run_id,
        l=layer,
    )


def test_tally_csv_is_netdissect_lite_and_imports_to_the_same_rows(migrated_db, mini, cli, tmp_path):
    module = tmp_path / "dead_unit.py"
    module.write_text(DEAD_UNIT_MODULE)
    tally = tmp_path / "tally.csv"
    done = cli(
        "dissect",
        "--model-module",
        f"{module}:build",
        "--broden",
        mini.directory,
        "--layers",
        "maps",
        "--quantile",
        QUANTILE,
        "--tally-csv",
        tally,
        "--quiet",
    )
    assert done.exit_code == 0, done.output
    run_id = _run_id(done.stdout)
    with open(tally, newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == LITE_COLUMNS and len(lines) == 1 + 5
    assert lines[-1][:4] == ["5", "texture", "", "0.0"]  # the dead unit, last: every IoU 0, label 0 named ''
    computed = _netdissect(run_id, "maps")
    dead = [r for r in computed if r["unit_label"] == "maps.4"]
    assert dead == [
        {
            "unit_label": "maps.4",
            "category": "texture",
            "label": None,
            "is_top": True,
            "score": 0.0,
            "iou": 0.0,
            "is_detector": False,
            "source": "computed",
        }
    ]
    imported = cli("import", "netdissect", tally, "--run", run_id, "--layer", "maps")
    assert imported.exit_code == 0, imported.output
    again = _netdissect(run_id, "maps")
    assert {r["source"] for r in again} == {"imported"}

    def strip(rs):
        return [{k: v for k, v in r.items() if k != "source"} for r in rs]

    assert strip(again) == strip(computed) and len(computed) > 5
    # the dissection's every-label IoUs stay: only its tally rows were replaced
    assert rows("SELECT count(*) AS n FROM seldb.unit_label_iou WHERE run_id = :r", r=run_id)[0]["n"] == 5 * 16


# ---------------------------------------------------------------- joining a class-selectivity run


@pytest.fixture(scope="module")
def ingested(database_url, tmp_path_factory) -> int:
    """A class-selectivity run of the planted network (seldb ingest), with concept red-c = class reds."""
    import seldb

    # class names no other test uses: concepts resolve class names over every run of the session database
    tree = make_tree(
        tmp_path_factory.mktemp("tree") / "tree", classes=("reds", "greens", "blues"), per_class=3, size=32
    )
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        result = _invoke(
            "ingest",
            *PLANTED,
            "--data",
            tree,
            "--layers",
            "planted,pooled",
            "--all-images",
            "--workers",
            0,
            "--input-size",
            32,
            "--out",
            tree.parent / "planted.h5",
        )
        assert result.exit_code == 0, result.output
        run_id = rows("SELECT max(run_id) AS r FROM seldb.runs")[0]["r"]
        db.add_concept("red-c", ["reds"], replace=True)  # a concept names classes some run has
        db.compute_concept("red-c", run_id, progress=False)
        try:
            yield run_id
        finally:  # later imports in the session would each report it skipped
            db.execute("DELETE FROM seldb_store.concepts WHERE name = 'red-c'", write=True)


def test_dissect_joins_the_run_unit_for_unit(migrated_db, ingested, mini, cli):
    done = cli(
        "dissect",
        *PLANTED,
        "--broden",
        mini.directory,
        "--layers",
        "planted",
        "--run",
        ingested,
        "--quantile",
        QUANTILE,
        "--quiet",
        # the ingest fed the planted network torchvision input (its registry default); the planted
        # unit reads NetDissect-Lite's, so the dissection asks for it against the run's record
        "--preprocess",
        "netdissect",
        "--force",
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"run {ingested} (joined unit for unit)")
    joined = rows(
        "SELECT i.unit, i.iou, i.precision_60, i.max_informedness, m.precision_60 AS p60,"
        " m.max_informedness AS mi FROM seldb.unit_label_iou AS i JOIN seldb.unit_measures AS m"
        " USING (run_id, layer, unit) WHERE run_id = :r AND i.label = 'red-c' ORDER BY unit",
        r=ingested,
    )
    assert [r["unit"] for r in joined] == [0, 1, 2, 3]
    assert all(r["precision_60"] == r["p60"] is not None and r["max_informedness"] == r["mi"] for r in joined)
    assert joined[0]["iou"] == pytest.approx(1.0, abs=1e-9)
    # the concept named like a label gets the computed IoU, in the view and in `report concept`
    concept = rows(
        "SELECT unit, iou FROM seldb.concept_measures WHERE run_id = :r AND concept = 'red-c'"
        " AND layer = 'planted' ORDER BY unit",
        r=ingested,
    )
    assert [c["iou"] for c in concept] == [r["iou"] for r in joined]
    report = cli("report", "concept", "red-c", "--run", ingested, "--format", "csv")
    assert report.exit_code == 0, report.output
    shown = {r["unit_label"]: r for r in csv.DictReader(report.stdout.splitlines())}
    assert float(shown["planted.0"]["iou"]) == pytest.approx(1.0, abs=1e-9)
    assert shown["planted.0"]["recall_p1"] and shown["planted.0"]["max_informedness"]  # beside the measures
    detectors = cli("report", "detectors", "--run", ingested, "--format", "json")
    assert detectors.exit_code == 0 and '"netdissect"' in detectors.stdout
    assert "Network Dissection calls" in detectors.stdout


def _refused(cli, args, fragment) -> None:
    before = _counts()
    result = cli("dissect", *args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and fragment in lines[0], (args, result.output)
    assert _counts() == before


def _write(sql: str) -> None:
    import seldb

    with seldb.connect() as db:
        db.execute(sql, write=True)


def test_a_run_that_is_not_this_network_is_refused(migrated_db, ingested, mini, cli):
    base = [*PLANTED, "--broden", mini.directory, "--quiet"]
    _refused(cli, [*base, "--layers", "planted", "--run", 10**6], f"no run {10**6}")
    base += ["--run", ingested]
    _refused(cli, [*base, "--layers", "fc"], "layer 'fc'")  # refused on one image, before the pass
    where = f"WHERE run_id = {ingested}"
    options = rows(f"SELECT options::text AS o FROM seldb_store.runs {where}")[0]["o"].replace("'", "''")
    restore = (
        f"UPDATE seldb_store.runs SET options = '{options}'::jsonb {where};"
        f" UPDATE seldb_store.run_layers SET n_units = 4 {where} AND name = 'planted'"
    )
    cases = {  # what the run records -> the one line that refuses it
        f"UPDATE seldb_store.run_layers SET n_units = 5 {where} AND name = 'planted'": (
            "layer planted has 5 units, this network's has 4"
        ),
        f"UPDATE seldb_store.runs SET options = jsonb_set(options, '{{ingest,layer_modules,planted}}', '\"features\"')"
        f" {where}": "layer planted is module features, this network's planted is module planted",
        f"UPDATE seldb_store.runs SET options = jsonb_set(options, '{{ingest,weights}}', '{{\"sha256\": \"abc\"}}')"
        f" {where}": "other weights (sha256 abc)",
        f"UPDATE seldb_store.runs SET options = options - 'ingest' {where}": "records no network",
    }
    for change, fragment in cases.items():
        _write(change)
        try:
            _refused(cli, [*base, "--layers", "planted"], fragment)
        finally:
            _write(restore)
    _refused(cli, [*base, "--layers", "pooled", "--quantile", 2], "--quantile must be in [0, 1)")


# ---------------------------------------------------------------- bad input: one line each, nothing written


@pytest.fixture
def small(tmp_path):
    return make_mini_broden(tmp_path / "small", n_images=4, image_size=16, seed=3)


def _bad_input(cli, small, tmp_path, layers: str, *fragments: str) -> None:
    work, tally = tmp_path / "work", tmp_path / "tally.csv"
    work.mkdir()
    before = _counts()
    result = cli(
        "dissect",
        *PLANTED,
        "--broden",
        small.directory,
        "--layers",
        layers,
        "--tally-csv",
        tally,
        "--workdir",
        work,
        "--quiet",
    )
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), lines[0]
    assert _counts() == before and not tally.exists() and not any(work.iterdir())


def test_missing_index_csv(migrated_db, cli, small, tmp_path):
    (small.directory / "index.csv").unlink()
    _bad_input(cli, small, tmp_path, "pooled", "no index.csv", "not a Broden-format dataset")


def test_missing_png(migrated_db, cli, small, tmp_path):
    (small.directory / "images" / "mini" / "0002_color.png").unlink()
    _bad_input(cli, small, tmp_path, "pooled", "index.csv line 4", "images/mini/0002_color.png does not exist")


def test_pixel_label_absent_from_label_csv(migrated_db, cli, small, tmp_path):
    _png(small.directory / "images" / "mini" / "0003_color.png", np.full((16, 16), 300))  # R 44 + 256 G 1
    _bad_input(cli, small, tmp_path, "pooled", "0003_color.png", "pixel label 300", "not in label.csv")


def test_whole_image_label_absent_from_label_csv(migrated_db, cli, small, tmp_path):
    _edit_index(small.directory, "scene", "99")
    _bad_input(cli, small, tmp_path, "pooled", "index.csv line 3", "scene label 99 is not in label.csv")


def test_layer_without_spatial_map(migrated_db, cli, small, tmp_path):
    _bad_input(cli, small, tmp_path, "pooled,fc", "layer 'fc'", "no spatial map")


def test_bad_options(migrated_db, cli, small, tmp_path):
    _bad_input(cli, small, tmp_path, "pooled,conv9", "layer 'conv9' is not in the model")
    before = _counts()
    for args, fragment in (
        (["--quantile", "1.5"], "--quantile must be in [0, 1)"),
        (["--preprocess", "bgr"], "--preprocess must be one of"),
        (["--tally-csv", tmp_path / "nowhere" / "t.csv"], "no such directory"),
        (["--categories", "colour"], "no category colour"),
        (["--rules", "netdissect"], "--rules must be one of lite, netdissect2017, got 'netdissect'"),
        (["--union", "any"], "--union must be one of lite, annotated, all"),
        (["--upsample", "nearest"], "--upsample must be one of bilinear, receptive-field"),
        (["--threshold", "approximate"], "--threshold must be one of exact, sketch"),
        (["--rules", "netdissect2017", "--layers", "fc"], "layer 'fc'"),
    ):
        result = cli("dissect", *PLANTED, "--broden", small.directory, "--layers", "pooled", *args)
        assert result.exit_code == 1 and fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _counts() == before


def test_rules_are_stored_with_the_run_and_beside_tally_csv(migrated_db, cli, small, tmp_path):
    import json

    tally = tmp_path / "tally.csv"
    args = [*PLANTED, "--broden", small.directory, "--layers", "pooled", "--quiet", "--quantile", QUANTILE]
    done = cli("dissect", *args, "--rules", "netdissect2017", "--upsample", "bilinear", "--tally-csv", tally)
    assert done.exit_code == 0, done.output
    assert "(union annotated, upsample bilinear, threshold sketch)" in done.stdout
    run_id = _run_id(done.stdout)
    rules = {"union": "annotated", "upsample": "bilinear", "threshold": "sketch"}
    stored = rows("SELECT rules FROM seldb_store.dissections WHERE run_id = :r", r=run_id)
    assert [r["rules"] for r in stored] == [rules]
    for view in ("netdissect", "unit_label_iou"):  # beside every IoU a query reads
        shown = rows(f"SELECT DISTINCT rules FROM seldb.{view} WHERE run_id = :r", r=run_id)
        assert [r["rules"] for r in shown] == [rules]
    record = rows("SELECT options FROM seldb_store.runs WHERE run_id = :r", r=run_id)[0]["options"]
    assert record["dissect"]["rules"] == rules
    provenance = json.loads((tmp_path / "tally.csv.provenance.json").read_text())
    assert provenance["rules"] == {**rules, "preset": "custom"} and provenance["run_id"] == run_id
    assert provenance["layer"] == "pooled" and provenance["preprocess"] == "netdissect"
    assert provenance["quantile"] == QUANTILE and provenance["categories"] == [
        "color",
        "object",
        "part",
        "scene",
        "texture",
    ]
    lite = cli("dissect", *args, "--categories", "lite", "--tally-csv", tmp_path / "lite.csv")
    assert lite.exit_code == 0, lite.output
    again = rows("SELECT rules, categories FROM seldb_store.dissections WHERE run_id = :r", r=_run_id(lite.stdout))
    assert again[0]["rules"] == {"union": "lite", "upsample": "bilinear", "threshold": "exact"}
    assert sorted(again[0]["categories"]) == sorted(["object", "part", "scene", "texture", "color"])
    assert json.loads((tmp_path / "lite.csv.provenance.json").read_text())["rules"]["preset"] == "lite"
    preset = cli("dissect", *args, "--rules", "netdissect2017")  # receptive fields through the CLI
    assert preset.exit_code == 0, preset.output
    assert "(union annotated, upsample receptive-field, threshold sketch)" in preset.stdout
