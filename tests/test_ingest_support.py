"""Helpers shared by the ingest tests: tiny image trees and random weights files.

No test lives here; the module is imported by test_ingest_*.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_tree(root: Path, classes=("cat", "dog", "fish"), per_class: int = 4, size: int = 64, seed: int = 0) -> Path:
    """A class-per-folder tree of small random JPEGs (smooth enough to compress like photos)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            coarse = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize((size, size), Image.BILINEAR).save(root / name / f"img{i:03d}.jpg")
    return root


def corrupt_jpeg(path: Path) -> Path:
    """A file named .jpg whose content is a truncated JPEG header plus junk."""
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00garbage" * 8)
    return path


def random_state_dict(arch: str, num_classes: int, seed: int = 0, **kwargs) -> dict:
    import torch
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
    return net.state_dict()


def save(obj, path: Path) -> Path:
    import torch

    torch.save(obj, path)
    return path


def vgg16_research_names(state: dict) -> dict:
    """Rename a torchvision VGG16 state dict the way Caffe conversions name it."""
    names, i = {}, 0
    for block, n_convs in enumerate((2, 2, 3, 3, 3), start=1):
        for j in range(1, n_convs + 1):
            names[f"features.{i}."] = f"features.conv{block}_{j}."
            i += 2
        i += 1
    names.update(
        {"classifier.0.": "classifier.fc6.", "classifier.3.": "classifier.fc7.", "classifier.6.": "classifier.fc8a."}
    )
    renamed = {}
    for key, value in state.items():
        prefix = next((p for p in names if key.startswith(p)), None)
        renamed[names[prefix] + key[len(prefix) :] if prefix else key] = value
    return renamed


def csail_layout(state: dict, wrap_features_only: bool) -> dict:
    """CSAIL places365 checkpoint: {'state_dict': ...} with DataParallel's `module.` in the names."""
    if wrap_features_only:  # alexnet/vgg: only `features` was wrapped in DataParallel
        sd = {
            k.replace("features.", "features.module.", 1) if k.startswith("features.") else k: v
            for k, v in state.items()
        }
    else:
        sd = {f"module.{k}": v for k, v in state.items()}
    return {"epoch": 90, "arch": "x", "state_dict": sd, "best_prec1": 53.2}
