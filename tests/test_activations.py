"""The activation file: round trip, validation, and reading files chunked by rows."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from seldb.errors import InputError
from seldb.h5.reader import ActivationFile, ActivationWriter, write_activation_file

pytestmark = pytest.mark.unit


def test_round_trip_in_batches(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.random((50, 300)).astype(np.float32)
    labels = rng.integers(0, 3, 50)
    with ActivationWriter(
        tmp_path / "a.h5",
        model="m",
        dataset="d",
        class_names=["x", "y", "z"],
        class_keys=["k1", "k2", "k3"],
        layers={"fc6": (300, "none")},
        with_pred=True,
        with_path=True,
    ) as writer:
        for r0 in range(0, 50, 20):
            writer.append(
                labels[r0 : r0 + 20],
                {"fc6": values[r0 : r0 + 20]},
                preds=labels[r0 : r0 + 20],
                paths=[f"p{i}" for i in range(r0, min(50, r0 + 20))],
            )
        assert writer.n_written == 50
    with ActivationFile(tmp_path / "a.h5") as afile:
        assert (afile.model, afile.dataset, afile.class_keys) == ("m", "d", ["k1", "k2", "k3"])
        assert afile.paths[49] == "p49" and afile.layers["fc6"].chunks == (1024, 128)
        np.testing.assert_array_equal(afile.read_units("fc6", 100, 228), values[:, 100:228])
        np.testing.assert_array_equal(afile.labels, labels)


def test_truncate_drops_a_partial_batch(tmp_path):
    path = tmp_path / "t.h5"
    first = np.array([[1.0, 2.0]], np.float32)
    with ActivationWriter(
        path, model="m", dataset="d", class_names=["a", "b"], layers={"l": (2, "none")}, with_pred=True, with_path=True
    ) as writer:
        writer.append([1], {"l": first}, preds=[1], paths=["kept.jpg"])
        writer.append([0, 0], {"l": np.full((2, 2), 9.0, np.float32)}, preds=[0, 1], paths=["x.jpg", "y.jpg"])
        writer.truncate(1)
        assert writer.n_written == 1
    with h5py.File(path, "r") as h5:  # every row-indexed dataset lost the partial batch, nothing else
        assert {name: ds.shape[0] for name, ds in [*h5["images"].items(), *h5["layers"].items()]} == {
            "label": 1,
            "pred": 1,
            "path": 1,
            "l": 1,
        }
    with ActivationFile(path) as afile:
        np.testing.assert_array_equal(afile.read_units("l", 0, 2), first)
        assert afile.labels.tolist() == [1] and afile.preds.tolist() == [1] and afile.paths == ["kept.jpg"]


def test_row_chunked_layer_is_copied_units_first(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.random((300, 600)).astype(np.float32)
    path = tmp_path / "rows.h5"
    write_activation_file(path, class_names=["a", "b"], labels=rng.integers(0, 2, 300), layers={"x": values[:, :1]})
    with h5py.File(path, "a") as h5:
        del h5["/layers/x"]
        h5.create_dataset("/layers/x", data=values, chunks=(8, 600))  # a whole row per chunk
    with ActivationFile(path) as afile:
        afile.ensure_unit_readable("x", block_units=64)
        assert "x" in afile._unit_major
        np.testing.assert_array_equal(afile.read_units("x", 130, 200), values[:, 130:200])


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("layout", [{}, {"chunks": (8, 600)}, {"chunks": (64, 16), "compression": "gzip"}])
def test_unit_major_copy_reads_any_rows_in_any_order(tmp_path, layout, direct, monkeypatch):
    import os

    import seldb.h5.unitmajor

    if not direct:  # as on a filesystem without direct I/O: the same aligned layout, through the page cache
        monkeypatch.delattr(os, "O_DIRECT", raising=False)

    monkeypatch.setattr(seldb.h5.unitmajor, "PANEL_BYTES", 70 * 600 * 4)  # several panels, the last one short
    rng = np.random.default_rng(5)
    values = rng.random((300, 600)).astype(np.float32)
    values[17, 3] = np.nan
    path = write_activation_file(
        tmp_path / "u.h5", class_names=["a"], labels=np.zeros(300, int), layers={"x": values[:, :1]}
    )
    with h5py.File(path, "a") as h5:
        del h5["/layers/x"]
        h5.create_dataset("/layers/x", data=values, **layout)
    with ActivationFile(path) as afile:
        assert afile.nonfinite_rows(["x"], copy=True)["x"].tolist() == [17]
        copy = afile._unit_major["x"]
        assert (
            copy.rows_per_panel < 300
            and 300 % copy.rows_per_panel
            and copy.direct == (direct and hasattr(os, "O_DIRECT"))
        )
        rows = rng.permutation(300)[:250]
        for u0, u1 in [(0, 1), (5, 77), (590, 600)]:
            got = afile.read_unit_rows("x", u0, u1, rows)
            np.testing.assert_array_equal(got, values[rows, u0:u1])
        np.testing.assert_array_equal(afile.read_units("x", 0, 600), values)
        from seldb.h5.unitmajor import Buffers

        buffers = Buffers()
        for u0 in range(0, 600, 5):  # one thread's blocks, read into the same memory
            got = afile.read_unit_rows("x", u0, u0 + 5, rows, buffers)
            np.testing.assert_array_equal(got, values[rows, u0 : u0 + 5])
        assert np.shares_memory(got, buffers.take("values", 1, np.float32))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_types_are_accepted(tmp_path, dtype):
    path = write_activation_file(
        tmp_path / "f.h5", class_names=["a"], labels=np.zeros(4, int), layers={"l": np.ones((4, 2), dtype)}
    )
    with ActivationFile(path) as afile:
        assert afile.layers["l"].dtype == dtype


def test_integer_layer_is_refused(tmp_path):
    path = write_activation_file(
        tmp_path / "i.h5", class_names=["a"], labels=np.zeros(4, int), layers={"l": np.ones((4, 2), np.float32)}
    )
    with h5py.File(path, "a") as h5:
        del h5["/layers/l"]
        h5["/layers/l"] = np.ones((4, 2), np.int32)
    with pytest.raises(InputError, match="/layers/l.*float16, float32 or float64"):
        ActivationFile(path)


def test_tiles_wider_than_blocks_stay_in_the_chunk_cache(tmp_path):
    rng = np.random.default_rng(2)
    values = rng.random((3000, 256)).astype(np.float32)
    path = write_activation_file(
        tmp_path / "z.h5", class_names=["a"], labels=np.zeros(3000, int), layers={"l": np.zeros((3000, 1), np.float32)}
    )
    with h5py.File(path, "a") as h5:
        del h5["/layers/l"]
        h5.create_dataset("/layers/l", data=values, chunks=(1024, 128), compression="gzip")
    with ActivationFile(path) as afile:
        afile.ensure_unit_readable("l", block_units=32)
        slots, nbytes, _ = afile.dataset_of("l").id.get_access_plist().get_chunk_cache()
        assert nbytes >= 2 * 3 * 1024 * 128 * 4  # two columns of three tiles each
        for u0 in range(0, 256, 32):
            np.testing.assert_array_equal(afile.read_units("l", u0, u0 + 32), values[:, u0 : u0 + 32])


def test_blocks_bound_memory_and_divide_the_tiles():
    from seldb.h5.reader import ELEMENTS_PER_BLOCK, block_size

    assert block_size(100_000, 1000 * 32) == ELEMENTS_PER_BLOCK // 100_000
    assert block_size(721_536, 1000 * 32, chunk_units=128) == 32  # divides 128: no block straddles two tiles
    assert block_size(1000, 21_841 * 32) * 21_841 * 32 <= ELEMENTS_PER_BLOCK  # ImageNet-21k: histograms bound it
    assert block_size(10, 2 * 32) == 256
    assert block_size(90_000, 1000 * 32, chunk_units=128) == 256  # whole tiles
    assert block_size(200_000, 1000 * 32, chunk_units=128) == 64  # half a tile
