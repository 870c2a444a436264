"""seldb.dissect's parts: exact percentiles, PIL's resize, the Broden reader, a hand-worked tally, bad input."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seldb.dissect import dissect
from seldb.dissect.broden import open_broden
from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.planted_net import PlantedNet
from seldb.dissect.saving import computed_labels
from seldb.dissect.tallycsv import read_tally, tally_rows, write_tally_csv
from seldb.dissect.thresholds import ExactPercentile, key_values, sortable_keys
from seldb.dissect.upsample import resize_maps
from seldb.errors import InputError

pytestmark = pytest.mark.unit


# ---------------------------------------------------------------- exact percentiles


@pytest.mark.parametrize("trial", range(24))
def test_exact_percentile_equals_numpy_bit_for_bit(trial):
    rng = np.random.default_rng(trial)
    n, units, h, w = (
        int(rng.integers(1, 30)),
        int(rng.integers(1, 12)),
        int(rng.integers(1, 5)),
        int(rng.integers(1, 5)),
    )
    maps = rng.standard_normal((n, units, h, w)).astype(np.float32) * 10 ** rng.uniform(-3, 3)
    if trial % 3 == 1:
        maps = np.maximum(maps, 0)  # mostly-zero units, as after a ReLU: the threshold is often exactly 0
    elif trial % 3 == 2:
        maps = np.round(maps).astype(np.float32)  # heavy ties, -0.0 among them
    quantile = (0.005, 0.04, 0.2, 0.5, 0.0, 0.999)[trial % 6]
    exact = ExactPercentile(units, 100 * (1 - quantile), unit_block=int(rng.integers(1, 6)))
    cuts = sorted({0, n, *rng.integers(0, n, 3).tolist()})
    for a, b in zip(cuts, cuts[1:]):
        exact.first(maps[a:b])
    for a, b in reversed(list(zip(cuts, cuts[1:]))):  # pass 2 in another order
        exact.second(maps[a:b])
    expected = np.percentile(maps.astype(np.float64), 100 * (1 - quantile), axis=(0, 2, 3))
    assert np.array_equal(exact.values(), expected)


def test_sortable_keys_order_floats_and_round_trip():
    values = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-45, 2.0, 7e30, np.inf], np.float32)
    keys = sortable_keys(values)
    assert (np.diff(keys.astype(np.int64)) > 0).all()
    assert np.array_equal(key_values(keys), values.astype(np.float64))


# ---------------------------------------------------------------- resizing as PIL does


@pytest.mark.parametrize("shape", [(13, 13, 113, 113), (7, 5, 112, 57), (4, 4, 8, 8), (32, 32, 16, 16), (6, 9, 6, 9)])
def test_resize_is_pil_bilinear_on_float_images(shape):
    h, w, sh, sw = shape
    m = np.random.default_rng(1).standard_normal((h, w)).astype(np.float32)
    pil = np.asarray(Image.fromarray(m, mode="F").resize((sw, sh), resample=Image.BILINEAR))  # scipy's imresize 'F'
    ours = resize_maps(m[None], sh, sw)[0]
    np.testing.assert_allclose(ours, pil, rtol=0, atol=1e-6)  # PIL rounds to float32, we keep float64
    if (h, w) == (sh, sw):
        assert np.array_equal(ours, m.astype(np.float64))


# ---------------------------------------------------------------- the Broden reader


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _png(path: Path, labels: np.ndarray) -> None:
    rgb = np.zeros(labels.shape + (3,), np.uint8)
    rgb[..., 0], rgb[..., 1] = labels % 256, labels // 256
    Image.fromarray(rgb, "RGB").save(path)


def write_broden(
    root: Path, images: list[dict], labels: dict[int, str], coverage: dict[str, dict[int, float]], categories: list[str]
) -> Path:
    """A hand-made Broden directory: images are {name: (rgb, {category: [PNG label arrays or ints]})}."""
    (root / "images").mkdir(parents=True)
    index = []
    for k, (rgb, cells) in enumerate(images):
        Image.fromarray(rgb, "RGB").save(root / "images" / f"{k}.png")
        row = [f"{k}.png", "train", rgb.shape[0], rgb.shape[1], rgb.shape[0], rgb.shape[1]]
        for cat in categories:
            items = []
            for j, item in enumerate(cells.get(cat, [])):
                if isinstance(item, int):
                    items.append(str(item))
                else:
                    _png(root / "images" / f"{k}_{cat}_{j}.png", item)
                    items.append(f"{k}_{cat}_{j}.png")
            row.append(";".join(items))
        index.append(row)
    _write(root / "index.csv", ["image", "split", "ih", "iw", "sh", "sw", *categories], index)
    _write(
        root / "label.csv",
        ["number", "name", "category", "frequency", "coverage", "syns"],
        [[n, name, "", 0, 0, ""] for n, name in labels.items()],
    )
    _write(
        root / "category.csv", ["name", "first", "last", "count", "frequency"], [[c, 0, 0, 0, 0] for c in categories]
    )
    for cat in categories:
        rows = [[code, n, labels[n], 0, cov] for code, (n, cov) in enumerate(coverage.get(cat, {}).items(), start=1)]
        _write(root / f"c_{cat}.csv", ["code", "number", "name", "frequency", "coverage"], rows)
    return root


def test_primary_category_is_largest_coverage_later_on_ties(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    labels = {1: "a", 2: "b", 3: "c", 4: "d"}
    coverage = {"object": {1: 5.0, 2: 1.0, 3: 2.0}, "part": {1: 2.0, 2: 3.0, 3: 2.0}, "material": {4: 0.0}}
    root = write_broden(tmp_path / "b", [(rgb, {"object": [1]})], labels, coverage, ["object", "part", "material"])
    broden = open_broden(root)
    # a: object (5 > 2); b: part (3 > 1); c: tie 2 = 2 -> the later category, part;
    # d: coverage 0 everywhere -> the last category, as max over (coverage, index) gives
    assert broden.primary[1:].tolist() == [0, 1, 1, 2]
    assert open_broden(root, categories=["object"]).primary[1:].tolist() == [0, 0, 0, 0]


def test_images_without_labels_in_the_chosen_categories_are_left_out(tmp_path):
    mini = make_mini_broden(tmp_path / "m", n_images=10, seed=2)
    every = open_broden(mini.directory)
    with open(mini.directory / "index.csv", newline="") as handle:
        with_objects = sum(1 for row in csv.DictReader(handle) if row["object"])
    assert len(every.images) == 10
    assert 0 < len(open_broden(mini.directory, categories=["object"]).images) == with_objects < 10


def test_mini_broden_is_deterministic(tmp_path):
    def digest(directory: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                h.update(path.relative_to(directory).as_posix().encode() + path.read_bytes())
        return h.hexdigest()

    a = make_mini_broden(tmp_path / "a", n_images=6, seed=4).directory
    b = make_mini_broden(tmp_path / "b", n_images=6, seed=4).directory
    c = make_mini_broden(tmp_path / "c", n_images=6, seed=5).directory
    assert digest(a) == digest(b) != digest(c)


# ---------------------------------------------------------------- a tally worked by hand


class LookupNet(torch.nn.Module):
    """Outputs a fixed (1, 4, 4) map per image, chosen by the image's top-left red value (0, 1, ...)."""

    def __init__(self, maps: np.ndarray):
        super().__init__()
        self.maps = torch.nn.Identity()
        self.register_buffer("table", torch.tensor(maps, dtype=torch.float32))

    def forward(self, x):
        which = torch.round(x[:, 0, 0, 0] * 57.12 + 124.6901).long()
        return self.maps(self.table[which])


def test_hand_worked_tally(tmp_path):
    # image 0: colour red (1) left half, blue (2) right half; circle (3) top-left 2x2; scene 5.
    # image 1: all blue; a circle at the bottom-left pixel only; no scene.
    # The unit fires on column 0 of image 0 (4 px) and on (0,3), (1,3) of image 1 (2 px); quantile 0.25 of
    # 32 values with 6 ones puts the threshold at 0, so exactly those pixels are above it.
    colour0 = np.array([[1, 1, 2, 2]] * 4)
    circle0 = np.zeros((4, 4), int)
    circle0[:2, :2] = 3
    circle1 = np.zeros((4, 4), int)
    circle1[3, 0] = 3
    rgb = [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)]
    rgb[1][0, 0, 0] = 1
    images = [
        (rgb[0], {"color": [colour0], "object": [circle0], "scene": [5]}),
        (rgb[1], {"color": [np.full((4, 4), 2)], "object": [circle1]}),
    ]
    labels = {1: "red-c", 2: "blue-c", 3: "circle", 5: "street"}
    coverage = {"color": {1: 0.5, 2: 1.5}, "object": {3: 0.3}, "scene": {5: 1.0}}
    root = write_broden(tmp_path / "hand", images, labels, coverage, ["color", "object", "scene"])
    maps = np.zeros((2, 1, 4, 4))
    maps[0, 0, :, 0] = 1
    maps[1, 0, :2, 3] = 1
    result = dissect(LookupNet(maps), ["maps"], root, quantile=0.25, batch_size=2)
    d = result.layers["maps"]
    assert d.thresholds.tolist() == [0.0]
    assert d.scores.truth[[1, 2, 3, 5]].tolist() == [8, 24, 5, 16]
    assert d.scores.intersection[0, [1, 2, 3, 5]].tolist() == [4, 2, 2, 4]
    # colour is under the unit's pixels in both images (6 px); object only in image 0 (image 1's circle is
    # not under the unit's pixels, so its 2 px do not count); scene only in image 0
    assert d.scores.activation[0, [1, 2, 3, 5]].tolist() == [6, 6, 4, 4]
    expected = [4 / (6 + 8 - 4), 2 / (6 + 24 - 2), 2 / (4 + 5 - 2), 4 / (4 + 16 - 4)]
    np.testing.assert_allclose(d.scores.iou[0, [1, 2, 3, 5]], expected, rtol=0, atol=1e-9)
    top = result.top_frame().row(0, named=True)
    assert (top["category"], top["label"]) == ("color", "red-c")


def test_a_unit_with_no_iou_gets_label_zero_in_tally_csv(tmp_path):
    # NetDissect-Lite's argmax over all-zero IoUs picks label 0, whose name is '' here; the frames say null
    rgb = np.zeros((4, 4, 3), np.uint8)
    root = write_broden(
        tmp_path / "dead", [(rgb, {"color": [np.full((4, 4), 1)]})], {1: "red-c"}, {"color": {1: 1.0}}, ["color"]
    )
    maps = np.zeros((1, 2, 4, 4))
    maps[0, 0, 0, 0] = 1  # unit 0 fires on one pixel, unit 1 never
    result = dissect(LookupNet(maps), ["maps"], root, quantile=0.1)
    rows = tally_rows(result, "maps")
    assert [r[:4] for r in rows] == [[1, "color", "red-c", pytest.approx(1 / 16)], [2, "color", "", 0.0]]
    assert result.best_frame().filter(unit=1)["label"].to_list() == [None]


def test_a_dead_units_empty_label_round_trips_through_read_tally(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    root = write_broden(
        tmp_path / "dead", [(rgb, {"color": [np.full((4, 4), 1)]})], {1: "red-c"}, {"color": {1: 1.0}}, ["color"]
    )
    maps = np.zeros((1, 2, 4, 4))
    maps[0, 0, 0, 0] = 1
    result = dissect(LookupNet(maps), ["maps"], root, quantile=0.1)
    path = write_tally_csv(result, "maps", tmp_path / "tally.csv")
    read = read_tally(path)
    assert [(t.unit, t.category, t.label, t.score) for t in read] == [
        (0, "color", "red-c", pytest.approx(1 / 16)),
        (1, "color", "", 0.0),
    ]
    assert computed_labels(result, "maps") == read  # what `seldb dissect` stores is what the import stores


def test_an_empty_label_with_a_score_is_refused(tmp_path):
    path = tmp_path / "tally.csv"
    path.write_text(
        "unit,category,label,score,color-label,color-truth,color-activation,color-intersect,color-iou\n"
        "1,color,,0.25,,16.0,4.0,1.0,0.25\n"
    )
    with pytest.raises(InputError, match="line 2: label is empty but score is 0.25"):
        read_tally(path)


# ---------------------------------------------------------------- bad input: one line each, nothing left behind


@pytest.fixture
def small(tmp_path):
    return make_mini_broden(tmp_path / "small", n_images=4, image_size=16, seed=3)


def _one_line_error(call, *fragments) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def _edit_index(directory: Path, column: str, value: str) -> None:
    with open(directory / "index.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[1][column] = value
    with open(directory / "index.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_missing_index_csv(small, tmp_path):
    (small.directory / "index.csv").unlink()
    _one_line_error(lambda: dissect(PlantedNet(), ["pooled"], small.directory, workdir=tmp_path), "no index.csv")


def test_missing_png(small, tmp_path):
    (small.directory / "images" / "mini" / "0002_color.png").unlink()
    work = tmp_path / "work"
    work.mkdir()
    _one_line_error(
        lambda: dissect(PlantedNet(), ["pooled"], small.directory, workdir=work),
        "index.csv line 4",
        "images/mini/0002_color.png does not exist",
    )
    assert not any(work.iterdir())


def test_pixel_label_absent_from_label_csv(small, tmp_path):
    _png(small.directory / "images" / "mini" / "0001_color.png", np.full((16, 16), 300))  # 300 = R 44 + 256 G 1
    work = tmp_path / "work"
    work.mkdir()
    _one_line_error(
        lambda: dissect(PlantedNet(), ["pooled"], small.directory, workdir=work),
        "0001_color.png",
        "pixel label 300",
        "not in label.csv",
    )
    assert not any(work.iterdir())  # the temporary map store went with the error


def test_whole_image_label_absent_from_label_csv(small):
    _edit_index(small.directory, "scene", "99")
    _one_line_error(lambda: open_broden(small.directory), "index.csv line 3", "scene label 99 is not in label.csv")


def test_layer_without_spatial_map(small, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    message = _one_line_error(
        lambda: dissect(PlantedNet(), ["pooled", "fc"], small.directory, workdir=work), "layer 'fc'", "no spatial map"
    )
    assert "(1, 5)" in message or "(4, 5)" in message
    assert not any(work.iterdir())


def test_unknown_layer_and_category(small):
    _one_line_error(lambda: dissect(PlantedNet(), ["conv9"], small.directory), "layer 'conv9' is not in the model")
    _one_line_error(
        lambda: dissect(PlantedNet(), ["pooled"], small.directory, categories=["colour"]), "no category colour"
    )
