"""`seldb ingest` end to end into PostgreSQL: AlexNet, VGG16 and GoogLeNet
(random weights written to files in the published layouts and loaded with
--weights) land in the views with the right unit counts; a killed and resumed
ingest gives identical measures; a corrupt JPEG is skipped and listed in the
run's record; a set with nothing to analyse is refused before the database."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_ingest_support import (
    corrupt_jpeg,
    csail_layout,
    make_tree,
    random_state_dict,
    save,
    vgg16_research_names,
)
from typer.testing import CliRunner

from seldb.ingest.command import IngestOptions

pytestmark = pytest.mark.db


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("images") / "tree", per_class=3)
    corrupt_jpeg(root / "fish" / "img001.jpg")
    return root


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    return {
        "alexnet": save(csail_layout(random_state_dict("alexnet", 365), True), folder / "alexnet_places365.pth.tar"),
        "vgg16": save(vgg16_research_names(random_state_dict("vgg16", 365)), folder / "vgg16_places365.pth"),
        "googlenet": save(
            random_state_dict("googlenet", 1000, aux_logits=True, init_weights=True), folder / "googlenet.pth"
        ),
    }


def sql(query: str) -> list[tuple]:
    import seldb

    with seldb.connect() as db:
        return db.execute(query)[1]


def ingest(options: IngestOptions, **kwargs):
    import seldb
    from seldb.ingest.command import ingest

    with seldb.connect() as db:
        return ingest(db, options, **kwargs)


CASES = {
    "alexnet": ("alexnet-places", {"conv5": 256, "fc6": 4096, "fc7": 4096}),
    "vgg16": ("vgg16-places", {"conv5_3": 512}),
    "googlenet": ("googlenet-imagenet", {"inception4e": 832}),
}


@pytest.mark.parametrize("arch", list(CASES))
def test_architectures_land_in_the_views(arch, tree, weight_files, tmp_path, migrated_db):
    from seldb_cli.main import app

    model, units = CASES[arch]
    args = [
        "ingest",
        "--model",
        model,
        "--weights",
        str(weight_files[arch]),
        "--data",
        str(tree),
        "--input-size",
        "64",
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / f"{arch}.h5"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run_id = int(re.search(r"run (\d+) imported", result.output).group(1))
    assert dict(sql(f"SELECT layer, n_units FROM seldb.layers WHERE run_id = {run_id}")) == units
    assert sql(f"SELECT count(*) FROM seldb.unit_measures WHERE run_id = {run_id}")[0][0] == sum(units.values())
    ((model_name, n_total, n_analysed, only_correct, skipped),) = sql(
        "SELECT model, n_images_total, n_images_analysed, only_correct, options->'skipped_images'"
        f" FROM seldb.runs WHERE run_id = {run_id}"
    )
    assert (model_name, n_total, n_analysed, only_correct) == (model, 8, 8, False)
    assert [s["path"] for s in skipped] == ["fish/img001.jpg"] and "cannot identify" in skipped[0]["reason"]
    assert "unreadable" in result.output or "skipped" in result.output
    _views_hold_the_files_measures(run_id, tmp_path / f"{arch}.h5", units)


def _views_hold_the_files_measures(run_id: int, path: Path, units: dict[str, int]) -> None:
    """Three units per layer of the view against the reference computed from the activation file itself."""
    from reference import reference_unit

    from seldb.h5.reader import ActivationFile

    names = ("precision_60", "ccmas", "recall_p1", "max_informedness", "mi_false_discovery_rate", "localist_margin")
    with ActivationFile(path) as afile:
        for layer, n_units in units.items():
            for unit in (0, n_units // 2, n_units - 1):
                values = afile.read_units(layer, unit, unit + 1)[:, 0].astype(np.float64)
                want = reference_unit(values, afile.labels, afile.n_classes)
                got = sql(
                    f"SELECT {', '.join(names)} FROM seldb.unit_measures WHERE run_id = {run_id}"
                    f" AND layer = '{layer}' AND unit = {unit}"
                )[0]
                for name, value in zip(names, got):
                    expected = want[name]
                    assert (value is None and expected is None) or math.isclose(
                        value, expected, rel_tol=1e-9, abs_tol=1e-12
                    ), (layer, unit, name, value, expected)


def test_kill_and_resume_gives_identical_measures(tree, weight_files, tmp_path, migrated_db):
    def opts(out: str) -> IngestOptions:
        return IngestOptions(
            data=tree,
            model="alexnet-places",
            weights=weight_files["alexnet"],
            out=tmp_path / out,
            input_size=64,
            batch_size=2,
            chunk_images=2,
            workers=0,
            device="cpu",
            progress=False,
            layers=["conv5", "fc7"],
            on_duplicate="new",
        )

    whole = ingest(opts("whole.h5"))
    seen = []

    def kill_after_two(state):
        seen.append(state.rows)
        if len(seen) == 2:
            raise Killed

    runs_before = sql("SELECT count(*) FROM seldb.runs")[0][0]
    with pytest.raises(Killed):
        ingest(opts("killed.h5"), on_chunk=kill_after_two)
    assert sql("SELECT count(*) FROM seldb.runs")[0][0] == runs_before  # nothing half-written
    resumed = ingest(opts("killed.h5"))
    assert resumed.resumed_at == seen[-1] > 0
    query = (
        "SELECT layer, unit, precision_60, ccmas, recall_p1, max_informedness, mi_false_discovery_rate,"
        " localist_margin FROM seldb.unit_measures WHERE run_id = {} ORDER BY layer, unit"
    )
    assert resumed.run_id != whole.run_id  # two runs, compared
    first, second = sql(query.format(whole.run_id)), sql(query.format(resumed.run_id))
    assert len(first) == 256 + 4096 and first == second


def test_nothing_correct_is_refused_before_the_database(tmp_path, weight_files, migrated_db):
    root = make_tree(tmp_path / "val", classes=("n01440764", "n01443537"), per_class=2)
    opts = dict(
        data=root,
        model="googlenet-imagenet",
        weights=weight_files["googlenet"],
        input_size=64,
        batch_size=4,
        workers=0,
        device="cpu",
        progress=False,
        out=tmp_path / "g.h5",
    )
    runs_before = sql("SELECT count(*) FROM seldb.runs")[0][0]
    from seldb.errors import InputError

    with pytest.raises(InputError, match="--all-images"):
        ingest(IngestOptions(**opts))
    assert sql("SELECT count(*) FROM seldb.runs")[0][0] == runs_before
    result = ingest(IngestOptions(**opts, all_images=True))
    assert result.recording_reused  # the activation file was kept: no second inference
    ((only_correct, n_classes),) = sql(
        f"SELECT only_correct, (SELECT count(*) FROM seldb_store.run_classes c WHERE c.run_id = r.run_id)"
        f" FROM seldb.runs r WHERE run_id = {result.run_id}"
    )
    assert only_correct is False and n_classes == 1000  # the model's classes: predictions were compared
