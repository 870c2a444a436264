"""The sparse autoencoder in torch, and SAELens's on-disk format (cfg.json + sae_weights.safetensors).

One module serves training, recording and loading. Its parameters carry
SAELens's names and shapes (W_enc (d_in, d_sae), b_enc (d_sae), W_dec
(d_sae, d_in), b_dec (d_in), threshold (d_sae) for JumpReLU), and encoding
follows SAELens's SAE classes (sae_lens/saes/sae.py, standard_sae.py,
topk_sae.py, jumprelu_sae.py):

    x' = norm_in(x) - b_dec * apply_b_dec_to_input
    pre = x' @ W_enc + b_enc
    standard: relu(pre); topk: relu of the k largest of pre, 0 elsewhere;
    jumprelu: relu(pre) where pre > threshold, 0 elsewhere
    x_hat = norm_out(acts @ W_dec + b_dec)

with SAELens's normalize_activations: "none"; "constant_norm_rescale"
(x * sqrt(d_in) / ||x||, undone on the way out); "layer_norm" (x minus its
mean over units, over its standard deviation + 1e-5, undone on the way out);
"expected_average_only_in", which SAELens's disk loader applies as "none"
(its scaling factor lives in its release directory, not in cfg.json): seldb
multiplies the input by cfg.json's "norm_scaling_factor" when the file has
one, as from_pretrained folds it, and otherwise does as the disk loader does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seldb.errors import InputError

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
NORMALISATIONS = ("none", "constant_norm_rescale", "layer_norm", "expected_average_only_in")
# SAELens's architecture names -> ours ("standard" is the ReLU SAE)
ARCH_OF_SAELENS = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}
SAELENS_OF_ARCH = {ours: theirs for theirs, ours in ARCH_OF_SAELENS.items()}


@dataclass(frozen=True)
class SAEConfig:
    d_in: int
    d_sae: int
    arch: str  # relu | topk | jumprelu
    k: int = 0
    apply_b_dec_to_input: bool = True
    normalize_activations: str = "none"
    norm_scaling_factor: float | None = None


class SparseAutoencoder(nn.Module):
    def __init__(self, cfg: SAEConfig):
        super().__init__()
        self.cfg = cfg
        self.W_enc = nn.Parameter(torch.zeros(cfg.d_in, cfg.d_sae))
        self.b_enc = nn.Parameter(torch.zeros(cfg.d_sae))
        self.W_dec = nn.Parameter(torch.zeros(cfg.d_sae, cfg.d_in))
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in))
        if cfg.arch == "jumprelu":
            self.threshold = nn.Parameter(torch.zeros(cfg.d_sae))

    def norm_in(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        how = self.cfg.normalize_activations
        if how == "constant_norm_rescale":
            coeff = math.sqrt(self.cfg.d_in) / x.norm(dim=-1, keepdim=True)
            return x * coeff, ("scale", coeff)
        if how == "layer_norm":
            mu = x.mean(dim=-1, keepdim=True)
            std = (x - mu).std(dim=-1, keepdim=True)
            return (x - mu) / (std + 1e-5), ("ln", mu, std)
        if how == "expected_average_only_in" and self.cfg.norm_scaling_factor is not None:
            return x * self.cfg.norm_scaling_factor, None
        return x, None

    @staticmethod
    def norm_out(x: torch.Tensor, state: tuple | None) -> torch.Tensor:
        if state is None:
            return x
        if state[0] == "scale":
            return x / state[1]
        return x * state[2] + state[1]

    def pre_activations(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        x, state = self.norm_in(x)
        if self.cfg.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc, state

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.cfg.arch == "topk":
            values, indices = self.topk_of(pre)
            return torch.zeros_like(pre).scatter_(-1, indices, values)
        if self.cfg.arch == "jumprelu":
            return torch.relu(pre) * (pre > self.threshold).to(pre.dtype)
        return torch.relu(pre)

    def topk_of(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """TopK's k active latents per row as (values, indices): what the sparse decode reads."""
        top = torch.topk(pre, k=self.cfg.k, dim=-1)
        return torch.relu(top.values), top.indices

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple | None]:
        pre, state = self.pre_activations(x)
        return self.activate(pre), state

    def decode(self, acts: torch.Tensor, state: tuple | None) -> torch.Tensor:
        return self.norm_out(acts @ self.W_dec + self.b_dec, state)

    def decode_sparse(self, values: torch.Tensor, indices: torch.Tensor, state: tuple | None) -> torch.Tensor:
        """decode() of acts that are `values` at `indices` (k per row) and 0 elsewhere."""
        return self.norm_out(sparse_decode(values, indices, self.W_dec) + self.b_dec, state)


def sparse_decode(values: torch.Tensor, indices: torch.Tensor, w_dec: torch.Tensor) -> torch.Tensor:
    """Row i: sum over s of values[i, s] * w_dec[indices[i, s]], i.e. acts @ w_dec for acts 0 off `indices`.

    A TopK row has k of d_sae latents active: gathering their k decoder rows costs
    k * d_in per row where the dense product costs d_sae * d_in (512 times less at
    16,384 latents and k 32), and its gradient touches only those rows.
    """
    return torch.nn.functional.embedding_bag(indices, w_dec, per_sample_weights=values, mode="sum")


def resolve_device(name: str) -> torch.device:
    """--device as a torch device: auto is cuda when torch sees a GPU; cuda without one is one line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU here; use --device cpu (or auto)")
    return torch.device(name)


def save_saelens(sae: SparseAutoencoder, folder: Path, metadata: dict | None = None) -> Path:
    """Write the SAE as SAELens writes an inference SAE: cfg.json and sae_weights.safetensors."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    cfg = sae.cfg
    record: dict = {
        "architecture": SAELENS_OF_ARCH[cfg.arch],
        "d_in": cfg.d_in,
        "d_sae": cfg.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": cfg.apply_b_dec_to_input,
        "normalize_activations": cfg.normalize_activations,
        "reshape_activations": "none",
        "meta": metadata or {},
    }
    if cfg.arch == "topk":
        record["k"] = cfg.k
    tensors = {name: p.detach().contiguous().cpu() for name, p in sae.named_parameters()}
    save_file(tensors, str(folder / WEIGHTS_FILE))
    (folder / CFG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return folder


def read_config(folder: Path) -> SAEConfig:
    """cfg.json as an SAEConfig, or one line naming the file and what is wrong."""
    path = folder / CFG_FILE
    if not path.is_file():
        raise InputError(f"{folder}: no {CFG_FILE} (a SAELens SAE folder holds {CFG_FILE} and {WEIGHTS_FILE})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    return _config_of(path, raw)


def _int_field(path: Path, raw: dict, name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 1:
        raise InputError(f"{path}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _config_of(path: Path, raw: dict) -> SAEConfig:
    d_in, d_sae = _int_field(path, raw, "d_in"), _int_field(path, raw, "d_sae")
    architecture = raw.get("architecture", "standard")  # SAELens's default for configs without one
    kwargs = raw.get("activation_fn_kwargs") or {}
    if architecture == "standard" and raw.get("activation_fn_str", raw.get("activation_fn")) == "topk":
        architecture, raw = "topk", {**raw, "k": kwargs.get("k", raw.get("k"))}  # SAELens's older TopK configs
    if architecture not in ARCH_OF_SAELENS:
        known = ", ".join(ARCH_OF_SAELENS)
        raise InputError(f"{path}: architecture {architecture!r} is not one seldb encodes (it takes {known})")
    arch = ARCH_OF_SAELENS[architecture]
    k = _int_field(path, raw, "k") if arch == "topk" else 0
    if k > d_sae:
        raise InputError(f"{path}: k {k} is larger than the {d_sae} latents (d_sae)")
    norm = raw.get("normalize_activations") or "none"
    if norm not in NORMALISATIONS:
        raise InputError(f"{path}: normalize_activations {norm!r} is not one of {', '.join(NORMALISATIONS)}")
    apply_b_dec = raw.get("apply_b_dec_to_input", True)
    if not isinstance(apply_b_dec, bool):
        raise InputError(f"{path}: apply_b_dec_to_input must be true or false, got {apply_b_dec!r}")
    factor = raw.get("norm_scaling_factor")
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0):
        raise InputError(f"{path}: norm_scaling_factor must be a positive number, got {factor!r}")
    return SAEConfig(d_in, d_sae, arch, k, apply_b_dec, norm, None if factor is None else float(factor))


def load_saelens(folder: Path) -> SparseAutoencoder:
    """An SAE from a SAELens folder; a missing or misshapen tensor is one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = read_config(folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise InputError(f"{folder}: no {WEIGHTS_FILE}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable safetensors file: {exc}") from None
    if cfg.arch == "jumprelu" and "threshold" not in tensors and "log_threshold" in tensors:
        tensors["threshold"] = torch.exp(tensors.pop("log_threshold"))  # a training checkpoint
    sae = SparseAutoencoder(cfg)
    for name, param in sae.named_parameters():
        if name not in tensors:
            raise InputError(f"{path}: no tensor {name!r} (it has: {', '.join(sorted(tensors))})")
        if tuple(tensors[name].shape) != tuple(param.shape):
            raise InputError(
                f"{path}: {name} has shape {tuple(tensors[name].shape)}, cfg.json's d_in {cfg.d_in} and"
                f" d_sae {cfg.d_sae} make it {tuple(param.shape)}"
            )
        param.data = tensors[name].to(torch.float32).contiguous()
    return sae
