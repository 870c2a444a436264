"""The options and results of `seldb control superposition`, as typed data without torch.

The CLI and notebooks build a `ControlOptions` and get a `ControlResult` back
from `db.control_superposition(...)`; both live here, apart from the code
that trains networks, so that checking the options (one clear line per bad
option, before anything is trained or written) needs neither torch nor a
database. docs/control.md explains every option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from seldb.errors import InputError
from seldb.load.options import ON_DUPLICATE, OnDuplicate

CELLS = ("rnn", "lstm")
DEFAULT_SEEDS = 5
DEFAULT_HIDDEN = 200
DEFAULT_OUT = "control"


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained to the criterion; fixed before any selectivity result was seen."""

    list_lengths: tuple[int, ...] = (1, 2, 3, 4)
    batch_size: int = 32
    lists_per_epoch: int = 1024
    learning_rate: float = 3e-3
    criterion: float = 0.95  # share of evaluation lists recalled exactly
    max_epochs: int = 2000
    eval_lists_per_length: int = 100

    def validate(self, n_words: int) -> None:
        if not self.list_lengths or min(self.list_lengths) < 1 or max(self.list_lengths) > n_words:
            raise InputError(f"list lengths {list(self.list_lengths)}: each must be between 1 and {n_words}")
        for name in ("batch_size", "lists_per_epoch", "max_epochs", "eval_lists_per_length"):
            if _not_count(getattr(self, name)):
                raise InputError(
                    f"{name.replace('_', ' ')} {getattr(self, name)!r}: must be a whole number of at least 1"
                )
        if not 0 < self.criterion <= 1:
            raise InputError(f"criterion {self.criterion}: must be in (0, 1]")
        if not self.learning_rate > 0:
            raise InputError(f"learning rate {self.learning_rate}: must be positive")

    def as_json(self) -> dict:
        return {**asdict(self), "list_lengths": list(self.list_lengths)}


# What ControlOptions trains with unless told otherwise (a module attribute, looked up when an
# options object is made, so that a test can shrink the CLI's training without a CLI option).
DEFAULT_TRAIN = TrainConfig()


def _default_train() -> TrainConfig:
    return DEFAULT_TRAIN


def _not_count(value, least: int = 1) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < least


@dataclass(frozen=True)
class ControlOptions:
    """Everything `seldb control superposition` does; seeds are first_seed, first_seed + 1, ..."""

    seeds: int = DEFAULT_SEEDS
    hidden: int = DEFAULT_HIDDEN
    cell: str = "rnn"
    out: str | Path = DEFAULT_OUT  # where the activation files are written
    first_seed: int = 0
    train: TrainConfig = field(default_factory=_default_train)
    record_lists_per_length: int = 100
    words: int = 30  # the vocabulary: words of `slots` letters out of `letters` letters
    letters: int = 10
    slots: int = 3
    on_duplicate: OnDuplicate = "reuse"  # a file imported before (same seed, same settings): see ImportOptions

    def validate(self) -> None:
        """One clear line per bad option, before anything is trained or written."""
        for name in ("seeds", "hidden", "record_lists_per_length", "words", "letters", "slots"):
            value = getattr(self, name)
            if _not_count(value):
                raise InputError(f"{name.replace('_', ' ')} {value!r}: must be a whole number of at least 1")
        if self.cell not in CELLS:
            raise InputError(f"cell {self.cell!r}: expected one of {', '.join(CELLS)}")
        if _not_count(self.first_seed, least=0):
            raise InputError(f"first seed {self.first_seed!r}: must be a whole number of at least 0")
        if self.on_duplicate not in ON_DUPLICATE:
            raise InputError(f"on duplicate {self.on_duplicate!r}: expected one of {', '.join(ON_DUPLICATE)}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise InputError(f"--out {self.out}: exists and is not a directory")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def model_name(cell: str, condition: str) -> str:
    """'rnn-superposition', 'rnn-single', 'lstm-superposition', 'lstm-single'."""
    return f"{cell}-{condition}"


@dataclass(frozen=True)
class ControlNetworkResult:
    """One trained network of a control run and the seldb runs its activation files became."""

    seed: int
    condition: str
    model: str
    criterion_reached: bool
    epochs: int
    accuracy: float
    train_seconds: float
    runs: dict[str, int]  # class space -> run id
    reused: bool  # every file had been imported before with these options (same seed, same settings)


@dataclass
class ControlResult:
    options: ControlOptions
    out: Path
    networks: list[ControlNetworkResult]
    seconds: float = 0.0

    @property
    def run_ids(self) -> list[int]:
        return [run for net in self.networks for run in net.runs.values()]
