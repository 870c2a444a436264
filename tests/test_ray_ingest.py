"""ingest --engine ray (Ray Data: decoding tasks, a model actor pool) on a two-node Ray cluster:
the activation file equals the local runner's (values, labels, predictions, paths, order, skipped
images), an interrupted run resumes to that same file, and a whole ingest (uninterrupted) loads the same rows.

The local runner is the reference: tests/test_ingest_runner.py checks its values against a separate
forward pass.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from test_ingest_support import corrupt_jpeg, make_tree, random_state_dict, save

from seldb.ingest.command import IngestOptions, record

pytestmark = [pytest.mark.ray, pytest.mark.slow]


class Killed(Exception):
    """Stands in for a kill between two chunks."""


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save(random_state_dict("resnet18", 3), tmp_path_factory.mktemp("w") / "resnet18.pth")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("images") / "data", per_class=9)
    corrupt_jpeg(root / "dog" / "img004.jpg")
    return root


def options(data: Path, weights: Path, out: Path, **extra) -> IngestOptions:
    base = dict(
        data=data,
        arch="resnet18",
        num_classes=3,
        weights=weights,
        out=out,
        input_size=64,
        batch_size=4,
        workers=0,
        device="cpu",
        progress=False,
        chunk_images=8,
        layers=["layer3", "layer4", "fc"],
    )
    return IngestOptions(**{**base, **extra})


def read_file(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        names = ["images/label", "images/path", "classes/name", *(f"layers/{k}" for k in f["layers"])]
        found = {name: f[name][()] for name in names}
        found.update({f"pred:{k}": f[k][()] for k in ("images/pred",) if k in f})
        return found


def assert_same_file(want: Path, got: Path) -> None:
    first, second = read_file(want), read_file(got)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].dtype == second[key].dtype and np.array_equal(first[key], second[key]), key


def test_ray_recording_equals_local_and_resumes(tree, weights, tmp_path, ray_cluster):
    _, local = record(options(tree, weights, tmp_path / "local.h5"))
    calls = []

    def stop_after_two(state):
        calls.append(state.rows)
        if len(calls) == 2:
            raise Killed

    on_ray = options(tree, weights, tmp_path / "ray.h5", engine="ray", address=ray_cluster.address)
    with pytest.raises(Killed):
        record(on_ray, on_chunk=stop_after_two)
    _, resumed = record(on_ray)
    assert resumed.resumed_at == calls[-1] > 0 and resumed.rows == local.rows == 26
    assert resumed.skipped == local.skipped == [{"path": "dog/img004.jpg", "reason": local.skipped[0]["reason"]}]
    assert_same_file(local.out, resumed.out)
    _, again = record(on_ray)
    assert again.reused  # complete: nothing runs


@pytest.mark.db
def test_ray_ingest_loads_the_local_rows(db, tree, weights, tmp_path, ray_cluster):
    from test_ray_engine import assert_same_rows

    local = db.ingest(options(tree, weights, tmp_path / "local.h5", limit_per_class=5))
    remote = db.ingest(
        options(
            tree,
            weights,
            tmp_path / "ray.h5",
            limit_per_class=5,
            engine="ray",
            address=ray_cluster.address,
            on_duplicate="new",
        )
    )
    assert remote.run_id != local.run_id and not remote.recording_reused
    assert_same_rows(db, local.run_id, remote.run_id, also_differ={"source_file"}, concepts=False)


def test_images_missing_on_the_nodes_is_one_error_not_skipped_images(weights, tmp_path, ray_cluster):
    """A data directory the nodes cannot see would make every image 'unreadable': it stops the run instead."""
    from seldb.errors import InputError
    from seldb.ingest.command import _record_on_ray, prepare

    data = make_tree(tmp_path / "data", per_class=2)
    opts = options(data, weights, tmp_path / "gone.h5", engine="ray", address=ray_cluster.address)
    prepared = prepare(opts)
    data.rename(tmp_path / "elsewhere")  # what the nodes see: no such directory
    with pytest.raises(InputError, match=r"/data: no such directory on Ray node .* \(shared storage\)"):
        _record_on_ray(opts, prepared, None)


@pytest.mark.db
def test_cli_unreachable_cluster_is_one_line(migrated_db, tree, weights, tmp_path, cli):
    from ray_cluster import free_port

    result = cli(
        "ingest",
        "--data",
        tree,
        "--arch",
        "resnet18",
        "--num-classes",
        3,
        "--weights",
        weights,
        "--out",
        tmp_path / "x.h5",
        "--engine",
        "ray",
        "--address",
        f"127.0.0.1:{free_port()}",
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: cannot reach the Ray cluster at 127.0.0.1:")
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.unit
def test_actors_need_the_ray_engine(tree, weights, tmp_path):
    from seldb.errors import InputError

    with pytest.raises(InputError, match="--actors is a positive number of model replicas with --engine ray"):
        record(options(tree, weights, tmp_path / "a.h5", actors=2))


@pytest.mark.unit
def test_gpu_decoding_is_a_local_engine_option(tree, weights, tmp_path):
    from seldb.errors import InputError

    with pytest.raises(InputError, match="--decode-on cuda is an option of the local engine"):
        record(options(tree, weights, tmp_path / "a.h5", engine="ray", decode_on="cuda"))
