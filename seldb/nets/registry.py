"""The model registry: what `--model NAME` means.

A registry entry pins everything that has to agree for the numbers to mean
something: the architecture, the number of outputs and what they are, the
preprocessing the weights were trained with (torchvision RGB vs Caffe BGR
0-255), where the weights come from, and the paper's default layers under
their paper names (conv5, fc6, ...), each bound to the module whose output is
exactly that blob (post-ReLU where the paper is). Architecture facts (layer
aliases, research weight-key names) live per architecture so that
`--arch alexnet --num-classes 10` gets them too.

Building the torch module is the only part that imports torch, lazily.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seldb.errors import InputError


@dataclass(frozen=True)
class ArchInfo:
    """Facts about one architecture, whichever weights it carries."""

    default_layers: tuple[str, ...]
    layer_aliases: dict[str, str] = field(default_factory=dict)  # paper name -> module recording it
    key_aliases: dict[str, str] = field(default_factory=dict)  # research weight name -> module path
    build_kwargs: dict = field(default_factory=dict)


def _alexnet() -> ArchInfo:
    convs = {"conv1": 0, "conv2": 3, "conv3": 6, "conv4": 8, "conv5": 10}
    # torchvision's ReLUs are in place: the conv module's output hook sees the
    # pre-ReLU map, the ReLU module's hook the post-ReLU one (Caffe's blob).
    layers = {name: f"features.{i + 1}" for name, i in convs.items()}
    layers.update({"pool5": "features.12", "fc6": "classifier.2", "fc7": "classifier.5", "fc8": "classifier.6"})
    keys = {name: f"features.{i}" for name, i in convs.items()}
    keys.update({"fc6": "classifier.1", "fc7": "classifier.4", "fc8": "classifier.6"})
    return ArchInfo(("conv5", "fc6", "fc7"), layers, keys)


def _vgg16() -> ArchInfo:
    layers, keys, i = {}, {}, 0
    for block, n_convs in enumerate((2, 2, 3, 3, 3), start=1):
        for j in range(1, n_convs + 1):
            keys[f"conv{block}_{j}"] = f"features.{i}"
            layers[f"conv{block}_{j}"] = f"features.{i + 1}"  # post-ReLU, as Caffe's in-place blob
            i += 2
        layers[f"pool{block}"] = f"features.{i}"
        i += 1
    layers.update({"fc6": "classifier.1", "fc7": "classifier.4", "fc8": "classifier.6"})
    keys.update({"fc6": "classifier.0", "fc7": "classifier.3", "fc8": "classifier.6", "fc8a": "classifier.6"})
    return ArchInfo(("conv5_3",), layers, keys)


ARCHS: dict[str, ArchInfo] = {
    "alexnet": _alexnet(),
    "vgg16": _vgg16(),
    # inception outputs are concatenations of ReLU'd branches: post-ReLU already
    "googlenet": ArchInfo(("inception4e",), build_kwargs={"aux_logits": False, "init_weights": False}),
    "resnet18": ArchInfo(("layer4",), {"pool5": "avgpool"}),
    "caffe-googlenet": ArchInfo(("inception4e",)),
    # modules are named after Caffe's layers (conv5, fc6): each convN / fc6 / fc7 output is post-ReLU
    "caffenet": ArchInfo(("conv5", "fc6", "fc7")),
}


@dataclass(frozen=True)
class ModelSpec:
    """One runnable model: architecture, outputs, preprocessing and weights source."""

    name: str
    arch: str
    num_classes: int
    class_set: str | None = None  # "imagenet" | "places365": outputs that image sets can map onto
    preprocess: str = "torchvision"  # or "caffe": BGR, 0-255, mean-subtracted
    hub_file: str | None = None  # torchvision checkpoint name in $TORCH_HOME/hub/checkpoints
    weights_source: str = "--weights FILE"
    build_kwargs: dict = field(default_factory=dict)
    module_file: str | None = None  # --model-module my.py:build
    input_size: int = 224  # the crop the weights were trained on (Caffe's AlexNet family: 227)

    @property
    def info(self) -> ArchInfo:
        return ARCHS.get(self.arch, ArchInfo(()))

    def key_aliases(self) -> dict[str, str]:
        """Research / Caffe weight names this architecture's checkpoints may use."""
        if self.arch == "caffe-googlenet":
            from seldb.nets.caffe_googlenet import CAFFE_KEYS  # imports torch: only when loading weights

            return CAFFE_KEYS
        if self.arch == "caffenet":
            from seldb.nets.caffenet import CAFFE_KEYS as CAFFENET_KEYS

            return CAFFENET_KEYS
        return self.info.key_aliases


_PLACES_SRC = "--weights {file} (CSAIL places365)"

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "alexnet-imagenet",
            "alexnet",
            1000,
            "imagenet",
            hub_file="alexnet-owt-7be5be79.pth",
            weights_source="hub cache or --weights",
        ),
        ModelSpec(
            "vgg16-imagenet",
            "vgg16",
            1000,
            "imagenet",
            hub_file="vgg16-397923af.pth",
            weights_source="hub cache or --weights",
        ),
        ModelSpec(
            "googlenet-imagenet",
            "googlenet",
            1000,
            "imagenet",
            hub_file="googlenet-1378be20.pth",
            weights_source="hub cache or --weights",
            # torchvision's GoogLeNet weights expect its input re-normalisation
            build_kwargs={"transform_input": True},
        ),
        ModelSpec(
            "bvlc-googlenet",
            "caffe-googlenet",
            1000,
            "imagenet",
            preprocess="caffe",
            weights_source="--weights FILE (bvlc_googlenet.caffemodel converted, see README)",
        ),
        ModelSpec(
            "caffenet",
            "caffenet",
            1000,
            "imagenet",
            preprocess="caffe",
            input_size=227,  # bvlc_reference_caffenet's deploy crop
            weights_source="--weights FILE (bvlc_reference_caffenet.caffemodel converted, see README)",
        ),
        ModelSpec(
            "alexnet-places",
            "alexnet",
            365,
            "places365",
            weights_source=_PLACES_SRC.format(file="alexnet_places365.pth.tar"),
        ),
        ModelSpec(
            "vgg16-places",
            "vgg16",
            365,
            "places365",
            preprocess="caffe",
            weights_source="--weights FILE (vgg16_places365.caffemodel converted, see README)",
        ),
        ModelSpec(
            "googlenet-places",
            "caffe-googlenet",
            365,
            "places365",
            preprocess="caffe",
            weights_source="--weights FILE (googlenet_places365.caffemodel converted, see README)",
        ),
        ModelSpec(
            "resnet18-places",
            "resnet18",
            365,
            "places365",
            weights_source=_PLACES_SRC.format(file="resnet18_places365.pth.tar"),
        ),
    )
}


def resolve_spec(
    model: str | None = None,
    *,
    arch: str | None = None,
    num_classes: int | None = None,
    model_module: str | None = None,
) -> ModelSpec:
    """Turn --model / --arch / --model-module into one ModelSpec (exactly one of the three)."""
    given = [flag for flag, value in (("--model", model), ("--arch", arch), ("--model-module", model_module)) if value]
    if len(given) != 1:
        raise InputError(
            "give exactly one of --model NAME, --arch NAME or --model-module FILE.py:FUNC"
            + (f" (got {', '.join(given)})" if given else f"; models: {', '.join(REGISTRY)}")
        )
    if model:
        if model not in REGISTRY:
            raise InputError(f"unknown model {model!r}; known: {', '.join(REGISTRY)} (or --arch / --model-module)")
        spec = REGISTRY[model]
        if num_classes is not None and num_classes != spec.num_classes:
            raise InputError(f"{model} has {spec.num_classes} classes; --num-classes {num_classes} does not apply")
        return spec
    if arch:
        if num_classes is None:
            raise InputError(f"--arch {arch} needs --num-classes K (the size of the weights' last layer)")
        return ModelSpec(arch, arch, num_classes)
    assert model_module is not None  # exactly one of the three was given
    if ":" not in model_module:
        raise InputError(f"--model-module wants FILE.py:FUNCTION, got {model_module!r}")
    return ModelSpec(
        Path(model_module.split(":")[0]).stem,
        "custom",
        num_classes or 0,
        module_file=model_module,
    )


def list_models() -> list[dict]:
    """One row per registry entry, for `seldb models`."""
    return [
        {
            "name": s.name,
            "architecture": s.arch,
            "classes": s.num_classes,
            "default_layers": ", ".join(s.info.default_layers),
            "preprocessing": "Caffe BGR 0-255" if s.preprocess == "caffe" else "torchvision RGB",
            "weights": s.weights_source + (f" ({s.hub_file})" if s.hub_file else ""),
        }
        for s in REGISTRY.values()
    ]


def build_network(spec: ModelSpec):
    """Instantiate the architecture with untrained weights (they are loaded afterwards)."""
    import torch

    if spec.module_file:
        net = _from_module_file(spec.module_file)
    elif spec.arch == "caffe-googlenet":
        from seldb.nets.caffe_googlenet import CaffeGoogLeNet

        net = CaffeGoogLeNet(num_classes=spec.num_classes)
    elif spec.arch == "caffenet":
        from seldb.nets.caffenet import CaffeNet

        net = CaffeNet(num_classes=spec.num_classes)
    else:
        import torchvision

        if spec.arch not in torchvision.models.list_models(module=torchvision.models):
            raise InputError(
                f"--arch {spec.arch!r} is not a torchvision classification model (see torchvision.models.list_models())"
            )
        kwargs = {**spec.info.build_kwargs, **spec.build_kwargs}
        net = torchvision.models.get_model(spec.arch, weights=None, num_classes=spec.num_classes, **kwargs)
    if not isinstance(net, torch.nn.Module):
        raise InputError(f"{spec.module_file} did not return a torch.nn.Module (got {type(net).__name__})")
    return net.eval()


def _from_module_file(target: str):
    """FILE.py:FUNCTION, or an importable package.module:FUNCTION (stable across installs)."""
    file, _, func = target.rpartition(":")
    path = Path(file)
    if not path.is_file() and not file.endswith(".py"):
        try:
            module = importlib.import_module(file)
        except ImportError:
            raise InputError(f"--model-module: no file or module {file!r}") from None
    elif not path.is_file():
        raise InputError(f"--model-module: {path} not found")
    else:
        module_spec = importlib.util.spec_from_file_location(f"seldb_user_model_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise InputError(f"--model-module: {path} is not a Python file that can be imported")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        loader = module_spec.loader
        _user_code(f"importing {path}", lambda: loader.exec_module(module))
    builder = getattr(module, func, None)
    if not callable(builder):
        raise InputError(f"--model-module: {file} has no function {func!r}")
    return _user_code(f"{func}() of {file}", builder)


def _user_code(what: str, call):
    """Run the user's model code: whatever it raises (a syntax error, an exception, sys.exit) is one line
    naming it; Ctrl-C stays Ctrl-C."""
    try:
        return call()
    except KeyboardInterrupt:
        raise
    except SyntaxError as exc:
        raise InputError(f"--model-module: {exc.filename} line {exc.lineno}: {exc.msg}") from None
    except SystemExit as exc:
        raise InputError(f"--model-module: {what} called sys.exit({exc.code!r})") from None
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise InputError(
            f"--model-module: {what} raised {type(exc).__name__}{': ' + lines[0] if lines else ''}"
        ) from None
