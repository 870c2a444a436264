"""The dissection rules where NetDissect-Lite, the 2017 NetDissect code and davidbau/dissect differ:
each on a planted Broden-format case where the rules give different IoUs, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_dissect_bruteforce import brute_force
from test_dissect_core import LookupNet, write_broden

from seldb.dissect import dissect
from seldb.dissect.fieldmap import FieldMap, layer_fieldmaps
from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.planted_net import PlantedNet
from seldb.dissect.rules import LITE_CATEGORIES, PRESETS, DissectRules, resolve_categories, resolve_rules
from seldb.dissect.tallycsv import write_tally_csv
from seldb.dissect.upsample import centre_matrix, reduction
from seldb.errors import InputError

pytestmark = pytest.mark.unit

RED, BLUE, CIRCLE, STREET = 1, 2, 3, 5


def _image(k: int, size: int = 4) -> np.ndarray:
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[0, 0, 0] = k  # LookupNet picks map k by the top-left red value
    return rgb


@pytest.fixture
def three_images(tmp_path):
    """image 0: red left half, blue right; a circle top-left 2x2; scene street. The unit fires on column 0.
    image 1: all blue; a circle at the bottom-left pixel only. The unit fires on (0, 3), (1, 3).
    image 2: all red; no object annotated. The unit fires on (3, 0), (3, 1), (3, 2)."""
    colour0 = np.array([[RED, RED, BLUE, BLUE]] * 4)
    circle0 = np.zeros((4, 4), int)
    circle0[:2, :2] = CIRCLE
    circle1 = np.zeros((4, 4), int)
    circle1[3, 0] = CIRCLE
    images = [
        (_image(0), {"color": [colour0], "object": [circle0], "scene": [STREET]}),
        (_image(1), {"color": [np.full((4, 4), BLUE)], "object": [circle1]}),
        (_image(2), {"color": [np.full((4, 4), RED)]}),
    ]
    labels = {RED: "red-c", BLUE: "blue-c", CIRCLE: "circle", STREET: "street"}
    coverage = {"color": {RED: 0.5, BLUE: 1.5}, "object": {CIRCLE: 0.3}, "scene": {STREET: 1.0}}
    root = write_broden(tmp_path / "three", images, labels, coverage, ["color", "object", "scene"])
    maps = np.zeros((3, 1, 4, 4))
    maps[0, 0, :, 0] = 1
    maps[1, 0, :2, 3] = 1
    maps[2, 0, 3, :3] = 1
    return root, LookupNet(maps)


@pytest.mark.parametrize(
    "union, circle_union, street_union",
    [
        # circle: intersection 2 (image 0's top-left), truth 4 + 1 = 5. The unit's pixels: 4, 2 and 3.
        ("lite", 4 + 5 - 2, 4 + 16 - 4),  # object under the unit's pixels in image 0 only; scene in image 0
        ("annotated", 4 + 2 + 5 - 2, 4 + 16 - 4),  # object annotated in images 0 and 1; scene in image 0
        ("all", 4 + 2 + 3 + 5 - 2, 4 + 2 + 3 + 16 - 4),  # every image
    ],
)
def test_union_rules(three_images, union, circle_union, street_union):
    root, net = three_images
    # 48 values, 9 of them 1: the 0.75 percentile (exact or the sketch's 749/999) is 0
    result = dissect(net, ["maps"], root, quantile=0.25, rules=DissectRules(union=union))
    d = result.layers["maps"]
    assert d.thresholds.tolist() == [0.0]
    assert d.scores.intersection[0, [RED, CIRCLE, STREET]].tolist() == [4 + 3, 2, 4]
    assert d.scores.truth[[RED, CIRCLE, STREET]].tolist() == [8 + 16, 5, 16]
    # colour is under the unit's pixels in every image, so every rule counts all 9 of them
    np.testing.assert_allclose(d.scores.iou[0, RED], 7 / (9 + 24 - 7), rtol=0, atol=1e-9)
    np.testing.assert_allclose(d.scores.iou[0, CIRCLE], 2 / circle_union, rtol=0, atol=1e-9)
    np.testing.assert_allclose(d.scores.iou[0, STREET], 4 / street_union, rtol=0, atol=1e-9)
    assert result.rules.union == union


class PooledLookup(LookupNet):
    """LookupNet's 4 x 4 map averaged over 2 x 2 blocks: a 2 x 2 map whose receptive fields are the blocks."""

    def __init__(self, maps):
        super().__init__(maps)
        self.pool = torch.nn.AvgPool2d(2)

    def forward(self, x):
        return self.pool(super().forward(x))


def test_upsampling_rules(tmp_path):
    # the pooled map is [[1, 0], [1, 0]]; the threshold, the 0.6 percentile of {0, 0, 1, 1} (index 1.8), is 0.8.
    # bilinear (PIL, half-pixel centres): each row becomes [1, .75, .25, 0] -> column 0 above (4 px).
    # receptive field: the centres of the 2 x 2 blocks sit at pixels 1 and 3 (offset 0 + size 2 // 2,
    # step 2), so a row becomes [1, 1, .5, 0] (held at 1 left of the first centre) -> columns 0, 1 (8 px).
    left = np.zeros((4, 4), int)
    left[:, :2] = CIRCLE
    images = [(_image(0), {"color": [np.full((4, 4), RED)], "object": [left]})]
    root = write_broden(
        tmp_path / "up",
        images,
        {RED: "red-c", CIRCLE: "left"},
        {"color": {RED: 1.0}, "object": {CIRCLE: 1.0}},
        ["color", "object"],
    )
    maps = np.zeros((1, 1, 4, 4))
    maps[0, 0, :, :2] = 1
    net = PooledLookup(maps)
    bilinear = dissect(net, ["pool"], root, quantile=0.4, rules=DissectRules(upsample="bilinear"))
    centred = dissect(net, ["pool"], root, quantile=0.4, rules=DissectRules(upsample="receptive-field"))
    for result, inside in ((bilinear, 4), (centred, 8)):
        d = result.layers["pool"]
        np.testing.assert_allclose(d.thresholds, [0.8], rtol=0, atol=1e-9)
        assert d.scores.intersection[0, CIRCLE] == inside and d.scores.activation[0, CIRCLE] == inside
        np.testing.assert_allclose(d.scores.iou[0, CIRCLE], inside / (inside + 8 - inside), rtol=0, atol=1e-9)


def test_threshold_rules(tmp_path):
    # one 4 x 4 map holding 0 .. 15; quantile 0.2. exact: the 0.8 percentile of 16 values is value 12, and
    # only 13, 14, 15 exceed it. sketch: read-out round(1000 x 0.2) = 200 of 1000, largest first, is the
    # 799/999 quantile: index 15 x 799/999 = 11.997, threshold 11.997 -> 12 .. 15 exceed it.
    values = np.arange(16).reshape(4, 4)
    hot = np.where(values >= 12, CIRCLE, 0)
    images = [(_image(0), {"color": [np.full((4, 4), RED)], "object": [hot]})]
    root = write_broden(
        tmp_path / "th",
        images,
        {RED: "red-c", CIRCLE: "hot"},
        {"color": {RED: 1.0}, "object": {CIRCLE: 1.0}},
        ["color", "object"],
    )
    net = LookupNet(values[None, None].astype(float))
    exact = dissect(net, ["maps"], root, quantile=0.2, rules=DissectRules(threshold="exact"))
    sketch = dissect(net, ["maps"], root, quantile=0.2, rules=DissectRules(threshold="sketch"))
    assert exact.layers["maps"].thresholds.tolist() == [12.0]
    np.testing.assert_allclose(sketch.layers["maps"].thresholds, [15 * 799 / 999], rtol=0, atol=1e-9)
    np.testing.assert_allclose(exact.layers["maps"].scores.iou[0, CIRCLE], 3 / (3 + 4 - 3), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sketch.layers["maps"].scores.iou[0, CIRCLE], 4 / (4 + 4 - 4), rtol=0, atol=1e-9)


def test_sketch_reads_994_of_999_at_the_default_quantile():
    assert DissectRules(threshold="sketch").percentile(0.005) == pytest.approx(100 * 994 / 999, abs=1e-12)
    assert DissectRules(threshold="exact").percentile(0.005) == 100 * (1 - 0.005)
    assert DissectRules(threshold="sketch").percentile(0.0025) == pytest.approx(100 * 996 / 999, abs=1e-12)  # 2.5 up


def test_lite_rules_are_the_netdissect_lite_port(tmp_path):
    """--rules lite is today's dissection: the brute-force NetDissect-Lite port, and the same tally.csv bytes."""
    mini = make_mini_broden(tmp_path / "mini", n_images=10, image_size=32, seed=3)
    net = PlantedNet(seed=7)
    default = dissect(net, ["pooled"], mini.directory, quantile=0.1)
    lite = dissect(net, ["pooled"], mini.directory, quantile=0.1, rules=resolve_rules("lite"))
    expected = brute_force(net, "pooled", mini.directory, 0.1)
    np.testing.assert_allclose(lite.layers["pooled"].scores.iou, expected["iou"], rtol=0, atol=1e-12)
    a, b = write_tally_csv(default, "pooled", tmp_path / "a.csv"), write_tally_csv(lite, "pooled", tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    moved = dissect(net, ["pooled"], mini.directory, quantile=0.1, rules=PRESETS["netdissect2017"])
    assert not np.array_equal(moved.layers["pooled"].scores.iou, lite.layers["pooled"].scores.iou)


def test_alexnet_conv5_field_map_by_hand():
    # torchvision AlexNet: conv1 11/4 pad 2, pool 3/2, conv2 5 pad 2, pool 3/2, conv3-5 3 pad 1.
    # sizes 11, 19, 51, 67, 99, 131, 163; offsets -2, -2, -18, -18, -34, -50, -66; steps 4, 8, 8, 16, 16, 16, 16
    import torchvision

    net = torchvision.models.alexnet(weights=None).eval()
    maps = layer_fieldmaps(net, {"conv5": "features.11", "conv1": "features.1"}, torch.zeros(1, 3, 227, 227))
    assert maps["conv5"] == FieldMap((-66, -66), (163, 163), (16, 16))
    assert maps["conv1"] == FieldMap((-2, -2), (11, 11), (4, 4))


def test_receptive_field_upsampling_is_a_linear_spline_through_the_centres():
    # scipy's degree-1 RectBivariateSpline through the centres, as 2017's upsampleL evaluates it
    from scipy.interpolate import RectBivariateSpline

    rng = np.random.default_rng(0)
    first, step, n, out, r = 15, 16, 13, 113, reduction(227, 113)
    assert r == 2
    grid = (first // r + np.arange(n) * (step // r)).astype(float)
    values = rng.normal(size=(n, n))
    spline = RectBivariateSpline(grid, grid, values, kx=1, ky=1)
    expected = spline(np.arange(out), np.arange(out), grid=True)
    matrix = centre_matrix(first, step, n, out, r)
    np.testing.assert_allclose(matrix @ values @ matrix.T, expected, rtol=0, atol=1e-12)


def test_bad_rule_names_and_category_preset():
    for call, fragment in (
        (lambda: resolve_rules("netdissect2018"), "--rules must be one of lite, netdissect2017"),
        (lambda: resolve_rules(union="some"), "--union must be one of lite, annotated, all"),
        (lambda: resolve_rules(upsample="nearest"), "--upsample must be one of bilinear, receptive-field"),
        (lambda: resolve_rules(threshold="approx"), "--threshold must be one of exact, sketch"),
    ):
        with pytest.raises(InputError, match=fragment) as error:
            call()
        assert "\n" not in str(error.value)
    assert resolve_rules("netdissect2017", upsample="bilinear") == DissectRules("annotated", "bilinear", "sketch")
    assert resolve_rules() == PRESETS["lite"] and PRESETS["lite"].name() == "lite"
    assert resolve_categories(["lite"]) == list(LITE_CATEGORIES) and resolve_categories(None) is None


def test_a_receptive_field_that_cannot_be_derived_is_one_line():
    import torchvision

    net = torchvision.models.resnet18(weights=None).eval()
    with pytest.raises(InputError, match="avgpool, a AdaptiveAvgPool2d, resizes the map") as error:
        layer_fieldmaps(net, {"pool5": "avgpool"}, torch.zeros(1, 3, 64, 64))
    assert "use --upsample bilinear" in str(error.value) and "\n" not in str(error.value)
    # ResNet's shortcuts (1x1, stride 2) run beside the main path and are not composed twice
    assert layer_fieldmaps(net, {"layer2": "layer2"}, torch.zeros(1, 3, 64, 64))["layer2"].step == (8, 8)
