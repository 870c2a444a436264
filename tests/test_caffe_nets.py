"""The paper's Caffe networks in the registry: caffenet and bvlc-googlenet load converted caffemodels by their
Caffe blob names, with Caffe's blob shapes (from the deploy.prototxt files, written out here by hand) and
Caffe's unit numbering, and are fed Caffe's input."""

from __future__ import annotations

import re

import pytest
import torch
from test_ingest_support import save

from seldb.errors import InputError
from seldb.nets.registry import REGISTRY, build_network, list_models, resolve_spec
from seldb.nets.weights import load_weights

pytestmark = pytest.mark.unit

# bvlc_reference_caffenet deploy.prototxt: num_output, input channels per group, kernel
CAFFENET_BLOBS = {
    "conv1.weight": (96, 3, 11, 11),
    "conv2.weight": (256, 48, 5, 5),  # group 2
    "conv3.weight": (384, 256, 3, 3),
    "conv4.weight": (384, 192, 3, 3),  # group 2
    "conv5.weight": (256, 192, 3, 3),  # group 2
    "fc6.weight": (4096, 9216),
    "fc7.weight": (4096, 4096),
    "fc8.weight": (1000, 4096),
}


def _caffe_named(reference: dict, aliases: dict, blob=lambda name: name) -> dict:
    inverse = {module: blob(caffe) for caffe, module in aliases.items()}
    named = {}
    for key, value in reference.items():
        module, _, param = key.rpartition(".")
        named[f"{inverse.get(module, module)}.{param}"] = value
    return named


def test_caffenet_loads_a_converted_caffemodel_in_caffes_shapes(tmp_path):
    spec = resolve_spec("caffenet")
    assert (spec.arch, spec.num_classes, spec.preprocess, spec.class_set) == ("caffenet", 1000, "caffe", "imagenet")
    torch.manual_seed(0)
    reference = build_network(spec).state_dict()
    caffe = _caffe_named(reference, spec.key_aliases())
    assert {k: tuple(v.shape) for k, v in caffe.items() if k in CAFFENET_BLOBS} == CAFFENET_BLOBS
    assert set(caffe) == {
        f"{blob}.{p}"
        for blob in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
        for p in ("weight", "bias")
    }
    net = build_network(spec)
    load_weights(net, save(caffe, tmp_path / "bvlc_reference_caffenet.pth"), spec)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in reference.items())
    seen: dict[str, tuple] = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = tuple(output.shape)

        return hook

    hooks = [getattr(net, n).register_forward_hook(record(n)) for n in ("conv1", "conv5", "pool5", "fc6", "fc8")]
    with torch.no_grad():
        net(torch.zeros(1, 3, 227, 227))
    for hook in hooks:
        hook.remove()
    # Caffe's blob shapes at 227 px: conv1 55, conv5 13, pool5 6 (pooling rounds up)
    assert seen == {
        "conv1": (1, 96, 55, 55),
        "conv5": (1, 256, 13, 13),
        "pool5": (1, 256, 6, 6),
        "fc6": (1, 4096),
        "fc8": (1, 1000),
    }
    assert set(spec.info.default_layers) <= dict(net.named_modules()).keys()


def test_bvlc_googlenet_loads_caffe_names_and_keeps_caffes_unit_order(tmp_path):
    spec = resolve_spec("bvlc-googlenet")
    assert (spec.arch, spec.num_classes, spec.preprocess) == ("caffe-googlenet", 1000, "caffe")
    torch.manual_seed(1)
    reference = build_network(spec).state_dict()
    caffe = _caffe_named(reference, spec.key_aliases(), lambda k: re.sub(r"^(inception_\w\w|conv\d|loss3)_", r"\1/", k))
    assert tuple(caffe["loss3/classifier.weight"].shape) == (1000, 1024)
    assert tuple(caffe["inception_4e/5x5.weight"].shape) == (128, 32, 5, 5)  # a true 5x5, unlike torchvision's
    net = build_network(spec)
    load_weights(net, save(caffe, tmp_path / "bvlc_googlenet.pth"), spec)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in reference.items())
    # inception_4e/output concatenates 1x1 (256), 3x3 (320), 5x5 (128), pool_proj (128): unit 300 is a 3x3 unit
    block = net.inception4e
    with torch.no_grad():
        for param in block.parameters():
            param.zero_()
        for bias, path in enumerate(("branch1", "branch2.1", "branch3.1", "branch4.1"), start=1):
            dict(block.named_modules())[path].conv.bias.fill_(bias)
        out = block(torch.zeros(1, 528, 14, 14))[0, :, 7, 7]
    assert out[:256].eq(1).all() and out[256:576].eq(2).all() and out[576:704].eq(3).all() and out[704:].eq(4).all()


def test_the_registry_lists_them_and_googlenet_imagenet_is_still_torchvisions():
    rows = {r["name"]: r for r in list_models()}
    assert rows["caffenet"]["preprocessing"] == rows["bvlc-googlenet"]["preprocessing"] == "Caffe BGR 0-255"
    assert REGISTRY["googlenet-imagenet"].arch == "googlenet"  # torchvision's batch-norm GoogLeNet
    with pytest.raises(InputError, match="caffenet has 1000 classes"):
        resolve_spec("caffenet", num_classes=365)


def test_caffenet_is_ingested_at_its_227_pixel_crop():
    assert resolve_spec("caffenet").input_size == 227
    assert resolve_spec("bvlc-googlenet").input_size == resolve_spec("alexnet-imagenet").input_size == 224
