"""import-h5 --engine ray on a two-node Ray cluster (127.0.0.1, `ray start`): the same rows as the
local engine in every table, with the file read by the workers or shipped by the driver; a worker
killed mid-run is retried with the same result; an unreachable cluster or a missing Ray is one line.

The local engine is the reference here: its rows are checked against an independent brute-force
implementation by tests/test_import.py, so equality with it carries that check over.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import sqlalchemy as sa
from ray_cluster import free_port
from support import import_file, rows

from seldb.db import schema as s
from seldb.h5.reader import write_activation_file

NAMES = ["tabby", "beagle", "heron", "tram", "owl"]  # names and keys no other test file uses
KEYS = ["r9001", "r9002", "r9003", "r9004", "r9005"]
pytestmark = pytest.mark.ray
RUN_FIELDS_THAT_DIFFER = {"run_id", "created_at", "timings", "options"}


@pytest.fixture(scope="module")
def blocky_file(tmp_path_factory):
    """Two layers of several blocks each (blocks are at most 256 units): ties, zeros, negatives."""
    rng = np.random.default_rng(11)
    n = 300
    labels = rng.integers(0, 5, n)
    preds = np.where(rng.random(n) < 0.8, labels, (labels + 1) % 5)
    conv = np.maximum(rng.normal(size=(n, 600)), 0).astype(np.float32)
    conv[:, ::7] = np.round(conv[:, ::7])  # heavy ties
    fc = (rng.normal(size=(n, 300)) - 0.5).astype(np.float32)
    fc[labels == 2, 5] += 4.0  # a selective unit
    return write_activation_file(
        tmp_path_factory.mktemp("ray") / "blocky.h5",
        class_names=NAMES,
        class_keys=KEYS,
        labels=labels,
        preds=preds,
        layers={"conv5": conv, "fc6": fc},
        reductions={"conv5": "max"},
        paths=[f"img/{i}.jpg" for i in range(n)],
        model="tiny",
        dataset="gen",
    )


def run_tables(db, run_id: int, also_differ: set[str] = frozenset()) -> dict[str, list]:
    """Every row of every table that holds the run's data, without the run id, in a canonical order."""
    tables, differ = {}, RUN_FIELDS_THAT_DIFFER | set(also_differ)
    with db.connect() as conn:
        for table in s.metadata.sorted_tables:
            if "run_id" not in table.c or table.name.startswith(("uncertainty", "unit_measure_unc", "layer_measure_n")):
                continue
            keep = [c for c in table.c if c.name not in differ]
            found = conn.execute(sa.select(*keep).where(table.c.run_id == run_id)).all()
            tables[table.name] = sorted((_canonical(tuple(r)) for r in found), key=repr)
    return tables


def _canonical(value):
    """NaN (the padding of short top-image arrays) made equal to itself."""
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


def assert_same_rows(
    db, reference: int, other: int, also_differ: set[str] = frozenset(), concepts: bool = True
) -> None:
    want, got = run_tables(db, reference, also_differ), run_tables(db, other, also_differ)
    for name in (
        "unit_measures",
        "unit_precision_k",
        "unit_arrays",
        "layer_class_summary",
        "measure_correlations",
        "run_images",
        *(["concept_measures"] if concepts else []),
    ):
        assert want[name], f"{name}: the reference run has no rows to compare"
    for name in want:
        assert got[name] == want[name], name


@pytest.fixture
def concept(own_db, blocky_file):
    """A concept over the file's classes (a concept names classes some run has: one is imported first)."""
    import_file(blocky_file, force=True)
    own_db.add_concept("ray-test-animals", ["r9001", "r9002", "r9005"])  # by key: names may recur in other runs
    yield
    own_db.delete_concept("ray-test-animals")


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize("ship_blocks", [False, True], ids=["workers-read-the-file", "driver-ships-blocks"])
def test_ray_rows_equal_local_rows(own_db, concept, blocky_file, ray_cluster, ship_blocks):
    local = import_file(blocky_file, force=True, top_k=(5, 60, 100))
    remote = import_file(
        blocky_file, force=True, top_k=(5, 60, 100), engine="ray", address=ray_cluster.address, ship_blocks=ship_blocks
    )
    assert remote.n_units == local.n_units == 900
    assert_same_rows(own_db, local.run_id, remote.run_id)
    record = rows("SELECT options FROM seldb_store.runs WHERE run_id = :r", r=remote.run_id)[0]["options"]
    assert record["engine"] == {"name": "ray", "address": ray_cluster.address, "ship_blocks": ship_blocks}


def _dies_on_first_attempt(real_measurer, marker: str, victim_first_unit: int):
    """_block_measurer whose measure kills its own Ray worker process (os._exit) the first time it
    meets the block starting at `victim_first_unit`; the marker file says it already did."""

    def measurer(plan, run_id, concepts):
        measure = real_measurer(plan, run_id, concepts)

        def dying(block, values, labels):
            import os

            if block.layer_id == 0 and block.first == victim_first_unit and not os.path.exists(marker):
                with open(marker, "w") as handle:
                    handle.write(str(os.getpid()))
                os._exit(1)
            return measure(block, values, labels)

        return dying

    return measurer


@pytest.mark.db
@pytest.mark.slow
def test_killed_worker_is_retried_with_the_same_rows(own_db, concept, blocky_file, ray_cluster, tmp_path, monkeypatch):
    import seldb.load.import_h5

    local = import_file(blocky_file, force=True)
    marker = tmp_path / "killed-once"
    monkeypatch.setattr(
        seldb.load.import_h5,
        "_block_measurer",
        _dies_on_first_attempt(seldb.load.import_h5._block_measurer, str(marker), 256),
    )
    remote = import_file(blocky_file, force=True, engine="ray", address=ray_cluster.address)
    assert marker.exists(), "no worker was killed: the test did not test anything"
    assert int(marker.read_text()) != os.getpid()  # the worker died, not this driver
    assert_same_rows(own_db, local.run_id, remote.run_id)


@pytest.mark.db
def test_unreachable_cluster_is_one_line(migrated_db, blocky_file, cli):
    started = time.monotonic()
    result = cli("import-h5", blocky_file, "--engine", "ray", "--address", f"127.0.0.1:{free_port()}", "--quiet")
    assert result.exit_code == 1
    assert "error: cannot reach the Ray cluster at 127.0.0.1:" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


@pytest.mark.db
def test_missing_ray_is_one_line(monkeypatch, blocky_file, migrated_db, cli):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = cli("import-h5", blocky_file, "--engine", "ray", "--quiet")
    assert result.exit_code == 1
    assert (
        result.output.strip() == "error: --engine ray needs Ray, which is not installed here: pip install 'seldb[ray]'"
    )


@pytest.mark.unit
def test_import_seldb_does_not_import_ray():
    code = "import sys, seldb, seldb.load.import_h5, seldb.load.options, seldb_cli.main; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.unit
def test_a_worker_without_the_file_says_shared_storage_or_ship_blocks(blocky_file, tmp_path):
    from seldb.engine import ray_blocks as ray_engine
    from seldb.errors import InputError

    with pytest.raises(
        InputError,
        match=r"missing\.h5: No such file or directory on Ray node .*same path \(shared"
        r" storage\); --ship-blocks sends the blocks",
    ):
        ray_engine._open(str(tmp_path / "missing.h5"), 100)
    size = blocky_file.stat().st_size
    with pytest.raises(InputError, match=rf"has {size} bytes, on the driver {size + 1}: not the same file"):
        ray_engine._open(str(blocky_file), size + 1)
    assert list(ray_engine._open(str(blocky_file), size).layers) == ["conv5", "fc6"]  # the right file opens


@pytest.mark.unit
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(engine="spark"), "--engine is one of local, ray, got 'spark'"),
        (dict(address="10.0.0.5:6379"), "--address is an option of --engine ray"),
        (dict(ship_blocks=True), "--ship-blocks is an option of --engine ray"),
    ],
)
def test_engine_options_are_checked(options, message):
    from seldb.errors import InputError
    from seldb.load.options import ImportOptions

    with pytest.raises(InputError, match=message):
        ImportOptions(**options).validate()
