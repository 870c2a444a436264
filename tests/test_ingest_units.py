"""seldb.ingest without a database: registry, class lists, image sets, weights
layouts, layer hooks (post-ReLU, equal to a separate forward pass), the
chunked resumable runner and the one-line errors for bad input."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from test_ingest_support import csail_layout, make_tree, random_state_dict, save

from seldb.errors import InputError
from seldb.ingest.classes import imagenet_classes, read_class_file
from seldb.ingest.command import IngestOptions, record
from seldb.ingest.imagesets import open_image_set
from seldb.nets.registry import REGISTRY, build_network, list_models, resolve_spec
from seldb.nets.weights import load_weights, rename_keys

pytestmark = pytest.mark.unit


# -- registry and class lists -------------------------------------------------


def test_import_seldb_does_not_import_torch():
    code = "import sys, seldb, seldb.ingest, seldb.nets.registry; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_registry_lists_default_layers():
    rows = {row["name"]: row for row in list_models()}
    assert rows["alexnet-imagenet"]["default_layers"] == "conv5, fc6, fc7"
    assert rows["vgg16-places"]["default_layers"] == "conv5_3"
    assert rows["vgg16-places"]["preprocessing"].startswith("Caffe")
    assert rows["googlenet-imagenet"]["default_layers"] == "inception4e"
    assert {"alexnet-places", "vgg16-places", "googlenet-places", "resnet18-places"} <= set(rows)


def test_resolve_spec_errors():
    with pytest.raises(InputError, match="exactly one"):
        resolve_spec("alexnet-imagenet", arch="vgg16")
    with pytest.raises(InputError, match="known: alexnet-imagenet"):
        resolve_spec("alexnet-nope")
    with pytest.raises(InputError, match="--num-classes"):
        resolve_spec(arch="resnet50")
    assert resolve_spec(arch="resnet50", num_classes=7).num_classes == 7


def test_imagenet_classes_ship_with_the_package():
    classes = imagenet_classes()
    assert len(classes) == 1000 and classes.keys[0] == "n01440764" and classes.names[0] == "tench"


def test_class_files_in_published_layouts(tmp_path):
    loc = tmp_path / "LOC_synset_mapping.txt"
    loc.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")
    assert read_class_file(loc).names == ("tench", "goldfish")
    places = tmp_path / "categories_places365.txt"
    places.write_text("/a/airfield 0\n/a/apartment_building/outdoor 1\n")
    parsed = read_class_file(places)
    assert parsed.keys == ("/a/airfield", "/a/apartment_building/outdoor")
    assert parsed.names == ("airfield", "apartment_building/outdoor")
    assert parsed.index_of_keys()["apartment_building_outdoor"] == 1


# -- image sets ------------------------------------------------------------------


def test_wordnet_folders_map_onto_imagenet_outputs(tmp_path):
    make_tree(tmp_path / "val", classes=("n01443537", "n01440764"), per_class=3, size=16)
    image_set = open_image_set(tmp_path / "val", model_classes=imagenet_classes(), limit_per_class=2)
    assert image_set.mapped and len(image_set.classes) == 1000
    assert image_set.labels == [0, 0, 1, 1]  # tench is output 0, goldfish output 1
    assert image_set.paths[0] == "n01440764/img000.jpg"


def test_other_folders_use_the_data_sets_classes(tmp_path):
    make_tree(tmp_path / "d", classes=("b", "a"), per_class=2, size=16)
    image_set = open_image_set(tmp_path / "d", model_classes=imagenet_classes())
    assert not image_set.mapped and image_set.classes.names == ("a", "b") and image_set.labels == [0, 0, 1, 1]


def test_imagenet_val_layout_with_ground_truth(tmp_path):
    root = make_tree(tmp_path / "x", classes=("flat",), per_class=3, size=16) / "flat"
    (root / "img000.jpg").rename(root / "ILSVRC2012_val_00000001.JPEG")
    (root / "img001.jpg").rename(root / "ILSVRC2012_val_00000002.JPEG")
    val_txt = tmp_path / "val.txt"
    val_txt.write_text(
        "ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 1\nILSVRC2012_val_00000003.JPEG 2\n"
    )
    image_set = open_image_set(root, model_classes=imagenet_classes(), val_ground_truth=val_txt)
    assert image_set.mapped and image_set.labels == [65, 1] and "1 images listed" in image_set.notes[0]
    kaggle = tmp_path / "LOC_val_solution.csv"
    kaggle.write_text("ImageId,PredictionString\nILSVRC2012_val_00000002,n01443537 1 2 3 4\n")
    assert open_image_set(root, model_classes=imagenet_classes(), val_ground_truth=kaggle).labels == [1]
    devkit = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    devkit.write_text("490\n361\n")
    with pytest.raises(InputError, match="devkit"):
        open_image_set(root, val_ground_truth=devkit)


def test_places_list_file(tmp_path):
    root = make_tree(tmp_path / "p", classes=("val_256",), per_class=2, size=16) / "val_256"
    listing = tmp_path / "places365_val.txt"
    listing.write_text("img000.jpg 165\n/img001.jpg 3\n")
    image_set = open_image_set(root, model_classes=None, places_list=listing)
    assert not image_set.mapped and image_set.labels == [165, 3] and len(image_set.classes) == 166


def test_missing_and_empty_data_directories(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_image_set(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no class folder"):
        open_image_set(tmp_path / "empty")


# -- weights ---------------------------------------------------------------------


def test_csail_resnet18_checkpoint_loads(tmp_path):
    state = random_state_dict("resnet18", 365, seed=3)
    path = save(csail_layout(state, wrap_features_only=False), tmp_path / "resnet18_places365.pth.tar")
    spec = REGISTRY["resnet18-places"]
    net = build_network(spec)
    load_weights(net, path, spec)
    assert torch.equal(net.state_dict()["fc.weight"], state["fc.weight"])


def test_research_key_names_are_mapped():
    aliases = REGISTRY["vgg16-places"].key_aliases()
    renamed = rename_keys(
        {"features.conv5_3.weight": 1, "classifier.fc8a.bias": 2, "fc6.weight": 3, "features.module.0.bias": 4}, aliases
    )
    assert list(renamed) == ["features.28.weight", "classifier.6.bias", "classifier.0.weight", "features.0.bias"]


def test_caffe_googlenet_loads_caffe_names(tmp_path):
    spec = REGISTRY["googlenet-places"]
    torch.manual_seed(0)
    reference = build_network(spec).state_dict()
    # Caffe blob names: inception_4e/1x1, conv1/7x7_s2, loss3/classifier
    inverse = {v: re.sub(r"^(inception_\w\w|conv\d|loss3)_", r"\1/", k) for k, v in spec.key_aliases().items()}
    caffe = {}
    for key, value in reference.items():
        module, _, param = key.rpartition(".")
        caffe[f"{inverse.get(module, module)}.{param}"] = value
    assert "inception_4e/1x1.weight" in caffe and "loss3/classifier.weight" in caffe
    net = build_network(spec)
    load_weights(net, save(caffe, tmp_path / "googlenet_places365.pth"), spec)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in reference.items())
    with torch.no_grad():
        assert net.inception4e(torch.zeros(1, 528, 14, 14)).shape[1] == 832


def test_weights_that_do_not_fit_name_the_keys(tmp_path):
    path = save(random_state_dict("resnet18", 1000), tmp_path / "r18.pth")
    spec = REGISTRY["resnet18-places"]
    with pytest.raises(InputError, match=r"wrong shape: fc.weight \(1000, 512\) in file vs \(365, 512\)"):
        load_weights(build_network(spec), path, spec)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a loadable PyTorch state dict"):
        load_weights(build_network(spec), garbage, spec)


def test_missing_hub_weights_offline_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("seldb.nets.weights._online", lambda host: False)
    make_tree(tmp_path / "d", per_class=1, size=16)
    with pytest.raises(InputError, match=r"alexnet-owt-7be5be79.pth .*hub/checkpoints"):
        record(IngestOptions(data=tmp_path / "d", model="alexnet-imagenet", progress=False))


def test_hub_cache_weights_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    # torchvision's published GoogLeNet checkpoint carries the aux heads: they must be ignored
    save(
        random_state_dict("googlenet", 1000, aux_logits=True, init_weights=True), checkpoints / "googlenet-1378be20.pth"
    )
    make_tree(tmp_path / "d", per_class=1, size=32)
    prepared, result = record(
        IngestOptions(
            data=tmp_path / "d",
            model="googlenet-imagenet",
            input_size=64,
            workers=0,
            device="cpu",
            progress=False,
            out=tmp_path / "g.h5",
        )
    )
    assert prepared.layer_spec == {"inception4e": (832, "max")} and result.rows == 3
    assert any("auxiliary" in note for note in prepared.notes)


def test_any_torchvision_architecture_with_explicit_layers(tmp_path):
    weights = save(random_state_dict("squeezenet1_1", 3), tmp_path / "sq.pth")
    make_tree(tmp_path / "d", per_class=2, size=32)
    opts = dict(
        data=tmp_path / "d",
        arch="squeezenet1_1",
        num_classes=3,
        weights=weights,
        input_size=64,
        workers=0,
        device="cpu",
        progress=False,
        out=tmp_path / "s.h5",
    )
    with pytest.raises(InputError, match="no layer to record"):
        record(IngestOptions(**opts))
    prepared, result = record(IngestOptions(**opts, layers=["features.12"]))
    assert prepared.layer_spec == {"features.12": (512, "max")} and result.rows == 6
