"""seldb.dissect against an independent brute-force Network Dissection, the planted unit and tally.csv.

The brute force below is written from the definitions (NetDissect-Lite's
feature_operation.py, restated in docs/dissect.md), not from seldb.dissect:
it parses the CSVs with the csv module, takes np.percentile over all float64
activations, upsamples pixel by pixel with half-pixel-centred bilinear
interpolation clamped at the borders, and counts label by label in loops.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seldb.dissect import dissect
from seldb.dissect.minibroden import make_mini_broden
from seldb.dissect.planted_net import PlantedNet
from seldb.dissect.tallycsv import read_tally, write_tally_csv

pytestmark = pytest.mark.unit

MEAN = np.array([124.6901, 118.6897, 109.5388], dtype=np.float32)  # NetDissect-Lite's, RGB order
SCALE = np.float32(255 * 0.224)


# ---------------------------------------------------------------- the brute force


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _primary(directory: Path, cats: list[str], n_labels: int) -> list[int]:
    """Category of largest coverage; ties and all-zero go to the later category (max over (coverage, index))."""
    coverage = {}
    for ci, cat in enumerate(cats):
        for row in _rows(directory / f"c_{cat}.csv"):
            if int(row["code"]) != 0:
                coverage[ci, int(row["number"])] = float(row["coverage"])
    return [max((coverage.get((ci, n), 0.0), ci) for ci in range(len(cats)))[1] for n in range(n_labels)]


def _planes(directory: Path, row: dict, cats: list[str]) -> tuple[list[np.ndarray], list[int]]:
    planes, scalars = [], []
    for cat in cats:
        items = [item for item in row[cat].split(";") if item]
        if all(item.isdigit() for item in items):
            scalars += [int(item) for item in items]
            continue
        for item in items:
            rgb = np.asarray(Image.open(directory / "images" / item).convert("RGB"), dtype=np.int64)
            planes.append(rgb[:, :, 0] + 256 * rgb[:, :, 1])
    return planes, scalars


def _bilinear(m: np.ndarray, sh: int, sw: int) -> np.ndarray:
    h, w = m.shape
    out = np.empty((sh, sw))
    for i in range(sh):
        sy = min(max((i + 0.5) * h / sh - 0.5, 0.0), h - 1.0)
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for j in range(sw):
            sx = min(max((j + 0.5) * w / sw - 0.5, 0.0), w - 1.0)
            x0 = int(np.floor(sx))
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = (1 - fx) * m[y0, x0] + fx * m[y0, x1]
            bottom = (1 - fx) * m[y1, x0] + fx * m[y1, x1]
            out[i, j] = (1 - fy) * top + fy * bottom
    return out


def _activations(net: torch.nn.Module, module: str, directory: Path, rows: list[dict]) -> np.ndarray:
    images = [np.asarray(Image.open(directory / "images" / r["image"]).convert("RGB")) for r in rows]
    x = (np.stack(images).astype(np.float32) - MEAN) / SCALE
    kept = {}
    handle = dict(net.named_modules())[module].register_forward_hook(lambda m, i, o: kept.update(out=o.clone()))
    with torch.no_grad():
        net.eval()(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    handle.remove()
    return kept["out"].numpy().astype(np.float64)


def brute_force(net, module: str, directory: Path, quantile: float) -> dict:
    cats = [r["name"] for r in _rows(directory / "category.csv")]
    n_labels = max(int(r["number"]) for r in _rows(directory / "label.csv")) + 1
    primary = _primary(directory, cats, n_labels)
    rows = [r for r in _rows(directory / "index.csv") if any(r[c] for c in cats)]
    acts = _activations(net, module, directory, rows)
    n_units = acts.shape[1]
    threshold = np.percentile(acts, 100 * (1 - quantile), axis=(0, 2, 3))
    inter = np.zeros((n_units, n_labels))
    act = np.zeros((n_units, len(cats)))
    truth = np.zeros(n_labels)
    for k, row in enumerate(rows):
        sh, sw = int(row["sh"]), int(row["sw"])
        planes, scalars = _planes(directory, row, cats)
        for plane in planes:
            for lab in plane[plane > 0]:
                truth[lab] += 1
        for s in scalars:
            truth[s] += sh * sw
        for u in range(n_units):
            if acts[k, u].max() <= threshold[u]:
                continue
            mask = _bilinear(acts[k, u], sh, sw) > threshold[u]
            n = mask.sum()
            present = set()
            for plane in planes:
                for lab in plane[mask]:
                    if lab > 0:
                        inter[u, lab] += 1
                        present.add(primary[lab])
            for s in scalars:
                inter[u, s] += n
                present.add(primary[s])
            for c in present:
                act[u, c] += n
    union_act = act[:, primary]
    iou = inter / (union_act + truth[None, :] - inter + 1e-10)
    return {
        "threshold": threshold,
        "intersection": inter,
        "activation": union_act,
        "truth": truth,
        "iou": iou,
        "primary": np.array(primary),
        "cats": cats,
    }


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def net() -> PlantedNet:
    torch.manual_seed(0)
    return PlantedNet(seed=7)


@pytest.fixture(scope="module", params=[32, 16], ids=["seg-full", "seg-half"])
def mini(request, tmp_path_factory):
    return make_mini_broden(
        tmp_path_factory.mktemp(f"mini{request.param}"), n_images=14, image_size=32, seg_size=request.param, seed=11
    )


@pytest.mark.parametrize("quantile", [0.005, 0.1])
def test_every_unit_label_iou_matches_brute_force(net, mini, quantile):
    # the planted layer (32 x 32) is only compared where the segmentation is as large (identity resize);
    # the pooled layer (8 x 8) is upsampled in both cases
    layers = ["pooled", "planted"] if mini.seg_size == 32 else ["pooled"]
    result = dissect(net, layers, mini.directory, quantile=quantile, batch_size=64, chunk_images=3)
    for layer in layers:
        expected = brute_force(net, layer, mini.directory, quantile)
        got = result.layers[layer]
        assert np.array_equal(got.thresholds, expected["threshold"])  # np.percentile, bit for bit
        assert np.array_equal(got.scores.truth, expected["truth"])
        assert np.array_equal(got.scores.intersection, expected["intersection"])
        assert np.array_equal(got.scores.activation, expected["activation"])
        np.testing.assert_allclose(got.scores.iou, expected["iou"], rtol=0, atol=1e-9)
        assert (expected["intersection"] > 0).sum() > 10  # the comparison is not vacuous


def test_best_labels_match_brute_force(net, mini):
    result = dissect(net, ["pooled"], mini.directory, quantile=0.1, batch_size=64)
    expected = brute_force(net, "pooled", mini.directory, 0.1)
    best = result.best_frame()
    for row in best.iter_rows(named=True):
        ci = expected["cats"].index(row["category"])
        ious = np.where(expected["primary"] == ci, expected["iou"][row["unit"]], 0.0)
        if ious.max() == 0:
            assert row["label"] is None and row["iou"] == 0
            continue
        assert row["label_number"] == int(np.argmax(ious))  # lowest label number among equal maxima
        assert row["iou"] == pytest.approx(ious.max(), abs=1e-12)


def test_labels_frame_rows_match_the_arrays(net, mini):
    result = dissect(net, ["pooled"], mini.directory, quantile=0.1)
    frame = result.labels_frame()
    expected = brute_force(net, "pooled", mini.directory, 0.1)
    assert frame.height == 6 * 16  # 6 units x the 16 labels of label.csv
    for row in frame.iter_rows(named=True):
        u, lab = row["unit"], row["label_number"]
        assert row["iou"] == pytest.approx(expected["iou"][u, lab], abs=1e-9)
        assert (
            row["union"] == expected["activation"][u, lab] + expected["truth"][lab] - expected["intersection"][u, lab]
        )
        assert row["category"] == expected["cats"][expected["primary"][lab]]


def test_planted_unit_has_iou_one_with_its_concept(net, tmp_path):
    mini = make_mini_broden(tmp_path / "mini", n_images=20, image_size=32, seed=5)
    red = mini.labels["red-c"]
    share = _label_share(mini.directory, red)
    assert 0 < share < 0.1  # the quantile below must exceed red's share of all pixels
    result = dissect(net, ["planted"], mini.directory, quantile=0.1, batch_size=7)
    planted = result.layers["planted"]
    assert planted.thresholds[0] == 0.0
    assert planted.scores.iou[0, red] == pytest.approx(1.0, abs=1e-9)
    top = result.top_frame().filter(unit=0).row(0, named=True)
    assert (top["category"], top["label"]) == ("color", "red-c")
    others = np.delete(planted.scores.iou[0], red)
    assert others.max() < 0.9


def _label_share(directory: Path, number: int) -> float:
    hits = total = 0
    for row in _rows(directory / "index.csv"):
        rgb = np.asarray(Image.open(directory / "images" / row["color"]).convert("RGB"), dtype=np.int64)
        labels = rgb[:, :, 0] + 256 * rgb[:, :, 1]
        hits, total = hits + (labels == number).sum(), total + labels.size
    return hits / total


LITE_COLUMNS = ["unit", "category", "label", "score"] + [
    f"{cat}-{part}"
    for cat in ("color", "object", "part", "scene", "texture")
    for part in ("label", "truth", "activation", "intersect", "iou")
]


def test_tally_csv_has_netdissect_lite_columns_and_round_trips(net, mini, tmp_path):
    result = dissect(net, ["pooled"], mini.directory, quantile=0.1)
    path = write_tally_csv(result, "pooled", tmp_path / "tally.csv")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == LITE_COLUMNS
    assert [float(r[3]) for r in rows[1:]] == sorted((float(r[3]) for r in rows[1:]), reverse=True)
    best = result.best_frame()
    assert best.filter("is_top")["label"].null_count() == 0  # every unit has a top label (else see docs)
    expected = []
    for unit in [int(r[0]) - 1 for r in rows[1:]]:
        unit_rows = best.filter(unit=unit)
        top = unit_rows.filter("is_top").row(0, named=True)
        seen = [(unit, top["category"], top["label"], top["iou"], top["iou"])]
        for row in unit_rows.iter_rows(named=True):
            if row["label"] and all(row["label"].lower() != s[2].lower() for s in seen):
                seen.append((unit, row["category"], row["label"], None, row["iou"]))
        expected += seen
    got = [(t.unit, t.category, t.label, t.score, t.iou) for t in read_tally(path)]
    assert got == expected


def test_tally_csv_counts_are_the_category_best_labels(net, mini, tmp_path):
    result = dissect(net, ["pooled"], mini.directory, quantile=0.1)
    expected = brute_force(net, "pooled", mini.directory, 0.1)
    path = write_tally_csv(result, "pooled", tmp_path / "tally.csv")
    names = {int(r["number"]): r["name"] for r in _rows(mini.directory / "label.csv")}
    numbers = {name: number for number, name in names.items()}
    for row in _rows(path):
        u = int(row["unit"]) - 1
        for cat in expected["cats"]:
            if not row[f"{cat}-label"]:
                continue
            lab = numbers[row[f"{cat}-label"]]
            assert float(row[f"{cat}-truth"]) == expected["truth"][lab]
            assert float(row[f"{cat}-activation"]) == expected["activation"][u, lab]
            assert float(row[f"{cat}-intersect"]) == expected["intersection"][u, lab]
            assert float(row[f"{cat}-iou"]) == pytest.approx(expected["iou"][u, lab], abs=1e-12)
