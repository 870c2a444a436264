"""The options and result of `seldb sae train` and `seldb sae load`, as typed data (no torch).

Checked before torch is imported or the database opened, so a bad option is
one line and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seldb.errors import InputError
from seldb.load.options import OnDuplicate

ARCHITECTURES = ("topk", "relu", "jumprelu")
DEFAULT_OUT = "sae"
DENSE_FREQUENCY = 0.1  # a latent active on more than this share of images is "dense"
DEVICES = ("cpu", "cuda", "auto")  # auto: cuda when torch sees a GPU, else cpu


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise InputError(f"--device is one of {', '.join(DEVICES)}, got {device!r}")


def parse_latents(text: str | int, d_in: int | None = None) -> tuple[int | None, float | None]:
    """'8x' -> (None, 8.0) (a multiple of the layer's width), '512' -> (512, None); one line otherwise."""
    value = str(text).strip().lower()
    try:
        if value.endswith("x"):
            factor = float(value[:-1])
            if factor > 0:
                return None, factor
        else:
            n = int(value)
            if n > 0:
                return n, None
    except ValueError:
        pass
    raise InputError(f"--latents takes a count (512) or a multiple of the layer's width (8x), got {text!r}")


@dataclass
class SAETrainOptions:
    """`seldb sae train`: which run and layer, the SAE's shape and how it is trained."""

    run: int
    layer: str
    latents: str = "8x"
    k: int = 32  # topk: latents active per image
    arch: str = "topk"
    epochs: float = 10.0  # passes over the images; a fraction trains on that share of the blocks
    lr: float = 1e-3
    batch_size: int = 256
    sparsity: float | None = None  # relu: L1 coefficient; jumprelu: L0 coefficient (None: the default)
    seed: int = 0
    out: Path = field(default_factory=lambda: Path(DEFAULT_OUT))
    on_duplicate: OnDuplicate = "reuse"
    rows_per_block: int | None = None  # images read at once (None: from the layer's width, ~64 MB)
    device: str = "cpu"  # where the SAE trains and encodes: cpu, cuda or auto

    def validate(self) -> None:
        parse_latents(self.latents)
        check_device(self.device)
        if self.arch not in ARCHITECTURES:
            raise InputError(f"--arch is one of {', '.join(ARCHITECTURES)}, got {self.arch!r}")
        if self.k < 1:
            raise InputError(f"--k must be at least 1, got {self.k}")
        if not self.epochs > 0:
            raise InputError(f"--epochs must be above 0, got {self.epochs}")
        if not self.lr > 0:
            raise InputError(f"--lr must be above 0, got {self.lr}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.sparsity is not None and self.sparsity < 0:
            raise InputError(f"--sparsity must be 0 or more, got {self.sparsity}")
        if self.seed < 0:
            raise InputError(f"--seed must be 0 or more, got {self.seed}")

    def n_latents(self, d_in: int) -> int:
        """The SAE's width for a layer of d_in units; --k above it is one line."""
        n, factor = parse_latents(self.latents)
        width = n if n is not None else max(1, round(d_in * (factor or 1.0)))
        if self.arch == "topk" and self.k > width:
            raise InputError(f"--k {self.k} is larger than the {width} latents; choose --k <= {width}")
        return width

    def sparsity_value(self) -> float:
        if self.sparsity is not None:
            return self.sparsity
        return {"relu": 2.0, "jumprelu": 0.5}.get(self.arch, 0.0)

    def as_json(self, d_in: int) -> dict:
        """The hyper-parameters stored with the run."""
        record = {
            "arch": self.arch,
            "d_in": d_in,
            "d_sae": self.n_latents(d_in),
            "latents": str(self.latents),
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }
        if self.arch == "topk":
            record["k"] = self.k
        else:
            record["sparsity"] = self.sparsity_value()
        return record


@dataclass
class SAELoadOptions:
    """`seldb sae load PATH`: a SAELens SAE encodes a run's layer."""

    path: Path
    run: int
    layer: str
    out: Path = field(default_factory=lambda: Path(DEFAULT_OUT))
    on_duplicate: OnDuplicate = "reuse"
    rows_per_block: int | None = None
    device: str = "cpu"  # where the SAE encodes: cpu, cuda or auto

    def validate(self) -> None:
        check_device(self.device)
        path = Path(self.path)
        if not path.is_dir():
            raise InputError(f"{path}: not a directory; give the SAE's folder (cfg.json + sae_weights.safetensors)")


@dataclass
class SAEQuality:
    """How well the SAE reconstructs the layer, over every image of the run."""

    fraction_variance_explained: float | None  # None when the layer does not vary
    mse: float  # mean over images and units of (x - x_hat)^2
    mean_l0: float  # latents above 0 per image, averaged
    n_dead: int  # latents never above 0 on any image
    n_dense: int  # latents above 0 on more than DENSE_FREQUENCY of the images
    n_latents: int

    def as_json(self) -> dict:
        return {
            "fraction_variance_explained": self.fraction_variance_explained,
            "mse": self.mse,
            "mean_l0": self.mean_l0,
            "dead_latents": self.n_dead,
            "dense_latents": self.n_dense,
            "dense_frequency": DENSE_FREQUENCY,
            "n_latents": self.n_latents,
        }


@dataclass
class SAEResult:
    run_id: int  # the new run of latents
    source_run: int
    layer: str  # the latents' layer name, e.g. fc1.sae
    file: Path  # the latents' activation file
    weights: Path | None  # the SAE saved in SAELens's format (train), or the folder loaded from
    quality: SAEQuality
    reused: bool = False
    # wall seconds: total, train (trained SAEs), record, import, and the import's own timings
    seconds: dict = field(default_factory=dict)
