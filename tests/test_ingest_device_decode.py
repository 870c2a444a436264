"""Decoding JPEGs in the main process in batches (`--decode-on cuda`), tested on the CPU through the same code.

The reference is the PIL path the workers use without the option: PIL decodes,
PIL resizes (antialiased, fixed-point), torchvision converts and normalises.
The tensor path decodes with torchvision's libjpeg (nvJPEG on CUDA) and
resizes with torch's antialiased bilinear kernel, so the two agree to about
one grey level after resizing, not bit for bit; the tolerances below say so.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from test_ingest_support import corrupt_jpeg, csail_layout, make_tree, random_state_dict, save
from typer.testing import CliRunner

from seldb.errors import InputError
from seldb.ingest.command import IngestOptions, prepare, record
from seldb.ingest.runner import record_activations
from seldb.nets.hooks import LayerRecorder
from seldb.nets.preprocess import KINDS, TensorPreprocess, make_transform

pytestmark = pytest.mark.unit

# one grey level (1/255) after resizing, in each kind's output units
ONE_LEVEL = {"torchvision": 1 / 255 / 0.224, "caffe": 1.0, "plain": 2 / 255}


def jpeg_bytes(size: tuple[int, int], seed: int, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    coarse.resize(size, Image.BILINEAR).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("kind", KINDS)
def test_tensor_preprocessing_matches_the_pil_path(kind):
    from torchvision.io import ImageReadMode, decode_jpeg

    sizes = [(500, 375), (375, 500), (97, 131), (64, 64), (300, 40)]
    blobs = [jpeg_bytes(size, seed) for seed, size in enumerate(sizes)] + [jpeg_bytes((200, 150), 9, mode="L")]
    pil = torch.stack([make_transform(kind, 64)(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs])
    decoded = decode_jpeg([torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs], mode=ImageReadMode.RGB)
    tensor = TensorPreprocess(kind, 64)(decoded)
    assert tensor.shape == pil.shape == (len(blobs), 3, 64, 64) and tensor.dtype == torch.float32
    difference = (tensor - pil).abs()
    assert difference.max().item() <= ONE_LEVEL[kind] * 1.001, kind
    assert difference.mean().item() < ONE_LEVEL[kind] / 4  # most pixels agree exactly


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("images") / "data", per_class=7, size=80)
    corrupt_jpeg(root / "dog" / "img003.jpg")  # starts like a JPEG: goes to the batch decoder, which rejects it
    Image.open(root / "cat" / "img001.jpg").save(root / "cat" / "img001b.png")  # not a JPEG: decoded by PIL
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    state = random_state_dict("alexnet", 365)
    return save(csail_layout(state, wrap_features_only=True), tmp_path_factory.mktemp("w") / "alexnet.pth.tar")


def options(data: Path, weights: Path, out: Path, **extra) -> IngestOptions:
    base = dict(
        data=data,
        model="alexnet-places",
        weights=weights,
        out=out,
        input_size=64,
        batch_size=4,
        workers=0,
        device="cpu",
        progress=False,
        chunk_images=8,
    )
    return IngestOptions(**{**base, **extra})


def record_decoding_on(device: str, opts: IngestOptions):
    """record(), with the main process decoding JPEGs on `device` (what --decode-on cuda sets up)."""
    prepared = prepare(opts, notify=lambda message: None)
    prepared.cfg.decode_device = device
    with LayerRecorder(prepared.net, prepared.layers, prepared.reduce) as recorder:
        return record_activations(
            prepared.net, recorder, prepared.image_set, prepared.transform, prepared.layer_spec, prepared.cfg
        )


def contents(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in ("images/label", "images/path", *(f"layers/{k}" for k in f["layers"]))}


@pytest.mark.parametrize("workers", [0, 2])
def test_recording_with_batch_decoding_matches_the_pil_path(tree, weights, tmp_path, workers):
    _, reference = record(options(tree, weights, tmp_path / "pil.h5", workers=workers), notify=lambda m: None)
    decoded = record_decoding_on("cpu", options(tree, weights, tmp_path / "tensor.h5", workers=workers))
    assert decoded.rows == reference.rows == 21
    assert decoded.skipped == reference.skipped and [s["path"] for s in decoded.skipped] == ["dog/img003.jpg"]
    pil, tensor = contents(reference.out), contents(decoded.out)
    assert np.array_equal(pil["images/path"], tensor["images/path"])
    assert np.array_equal(pil["images/label"], tensor["images/label"])
    png = list(pil["images/path"]).index(b"cat/img001b.png")
    for key in pil:
        if key.startswith("layers/"):
            assert np.array_equal(pil[key][png], tensor[key][png]), key  # the PNG took the PIL path in both
            scale = np.abs(pil[key]).max()
            np.testing.assert_allclose(tensor[key], pil[key], rtol=0, atol=0.02 * scale, err_msg=key)
            assert not np.array_equal(tensor[key], pil[key])  # really another decoder (else the test proves little)


def test_decode_on_cuda_without_cuda_is_one_clear_error(tree, weights, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"--decode-on cuda: CUDA is not available here .*--decode-on cpu"):
        record(options(tree, weights, tmp_path / "x.h5", decode_on="cuda"))
    assert not (tmp_path / "x.h5").exists()
    from seldb_cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "ingest",
            "--model",
            "alexnet-places",
            "--weights",
            str(weights),
            "--data",
            str(tree),
            "--decode-on",
            "cuda",
            "--out",
            str(tmp_path / "y.h5"),
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0 and "CUDA is not available" in result.output
    assert not (tmp_path / "y.h5").exists()


class Killed(Exception):
    """Stands in for a kill between two chunks."""


def test_a_recording_does_not_resume_with_the_other_decoder(tree, weights, tmp_path, monkeypatch):
    """Decoders give slightly different pixels: a file begun with one must not be finished with the other."""
    import seldb.ingest.command as pipeline

    out = tmp_path / "mixed.h5"
    with monkeypatch.context() as patched:  # "cuda", decoded on the CPU: the same path without a GPU
        patched.setattr(pipeline, "resolve_decode_device", lambda decode_on, device: "cpu")
        with pytest.raises(Killed):
            record(
                options(tree, weights, out, decode_on="cuda"),
                notify=lambda m: None,
                on_chunk=lambda state: (_ for _ in ()).throw(Killed()),
            )
    with pytest.raises(InputError, match=r"started with other options \(decode_on: cpu -> null\)"):
        record(options(tree, weights, out), notify=lambda m: None)
    _, whole = record(options(tree, weights, out, force=True), notify=lambda m: None)
    assert whole.rows == 21 and whole.resumed_at == 0


def test_decode_on_takes_only_cpu_or_cuda(tree, weights, tmp_path):
    with pytest.raises(InputError, match="--decode-on must be cpu, cuda or cuda:N, got 'gpu'"):
        record(options(tree, weights, tmp_path / "x.h5", decode_on="gpu"))


@pytest.mark.gpu
def test_decoding_on_cuda_matches_the_pil_path(tree, weights, tmp_path):
    """nvJPEG and the CUDA resize against PIL on the CPU: the same rows, activations within a few percent."""
    _, reference = record(options(tree, weights, tmp_path / "pil.h5", device="cuda"), notify=lambda m: None)
    _, decoded = record(
        options(tree, weights, tmp_path / "gpu.h5", device="cuda", decode_on="cuda"), notify=lambda m: None
    )
    assert decoded.rows == reference.rows and decoded.skipped == reference.skipped
    pil, gpu = contents(reference.out), contents(decoded.out)
    assert np.array_equal(pil["images/path"], gpu["images/path"])
    for key in pil:
        if key.startswith("layers/"):
            np.testing.assert_allclose(gpu[key], pil[key], rtol=0, atol=0.05 * np.abs(pil[key]).max(), err_msg=key)


def test_a_batch_of_only_bad_or_non_jpeg_files(tmp_path):
    """The decoder's edge cases: nothing decodable (images None), and no JPEG at all (PIL tensors only)."""
    from seldb.ingest.device_decode import BatchDecoder, RawImageDataset, raw_collate

    root = make_tree(tmp_path / "data", classes=("a",), per_class=2, size=40)
    corrupt_jpeg(root / "a" / "img000.jpg")
    Image.open(root / "a" / "img001.jpg").save(root / "a" / "img002.png")
    paths, labels = ["a/img000.jpg", "a/img002.png"], [0, 0]
    transform = make_transform("torchvision", 32)
    dataset = RawImageDataset(root, paths, labels, transform)
    decode = BatchDecoder(dataset, "torchvision", 32, "cpu")
    bad = decode(raw_collate([dataset[0]]))
    assert bad.images is None and bad.positions == [] and bad.failed[0][0] == 0
    assert bad.failed[0][1].startswith("UnidentifiedImageError")
    png = decode(raw_collate([dataset[1]]))
    assert png.positions == [1] and torch.equal(png.images[0], transform(Image.open(root / paths[1]).convert("RGB")))
