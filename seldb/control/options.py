"""The options and results of `seldb control superposition`, as typed data without torch.

The CLI and notebooks build a `ControlOptions` and get a `ControlResult` back
from `db.control_superposition(...)`; both live here, apart from the code
that trains networks, so that checking the options (one clear line per bad
option, before anything is trained or written) needs neither torch nor a
database. docs/control.md explains every option.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from seldb.errors import InputError
from seldb.load.options import ON_DUPLICATE, OnDuplicate

CELLS = ("rnn", "lstm")
DEFAULT_SEEDS = 5
DEFAULT_HIDDEN = 200
DEFAULT_OUT = "control"


TASKS = ("free", "serial")
OPTIMIZERS = ("sgd", "adam")
MAX_SEEDS, MAX_SEED, MAX_HIDDEN = 1000, 2**31 - 1, 4096  # beyond these a typo, not an experiment

# Each task's defaults and where they come from (docs/control.md gives the sources in full).
TASK_DEFAULTS: dict[str, dict] = {
    "free": {  # Bowers et al. (2014) as the Bristol replication code runs it (github.com/Nickdotmartin/library)
        "list_lengths": (1, 3, 5, 7),  # models/rnns.py: "timesteps: or seq_len. Use 1, 3, 5, 7"
        "optimizer": "adam",  # train/train_STM_RNN.py's default (use_optimizer='adam'); sgd: its fallback
        "learning_rate": 3e-3,  # our choice (the script: 0.001), as the serial task's
        "momentum": 0.9,  # with --optimizer sgd: train_STM_RNN.py's SGD(lr, momentum=.9), LENS's momentum
        "max_epochs": 300,  # x 1024 lists ~ the script's 100 epochs x 100 batches x 32 lists
        "init": "uniform:1",  # LENS's default: weights uniform in [-1, 1]
        "start_state": 0.5,  # LENS resets the hidden state to 0.5 before each list
        "criterion": 1.0,  # train_STM_RNN.py stops at 100% (or a loss plateau)
    },
    "serial": {  # seldb 0.2's serial-recall control, unchanged
        "list_lengths": (1, 2, 3, 4),
        "optimizer": "adam",
        "learning_rate": 3e-3,
        "momentum": 0.0,
        "init": "default",
        "start_state": 0.0,
        "criterion": 0.95,
        "max_epochs": 2000,
    },
}


def parse_init(init: str) -> float | None:
    """'uniform:R' -> R (weights uniform in [-R, R]); 'default' -> None (PyTorch's own initialisation)."""
    if init == "default":
        return None
    kind, _, value = init.partition(":")
    try:
        radius = float(value)
    except ValueError:
        radius = float("nan")
    if kind != "uniform" or not radius > 0 or radius == float("inf"):
        raise InputError(f"init {init!r}: expected 'default' or 'uniform:R' with R > 0 (e.g. uniform:1)")
    return radius


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained to the criterion; fixed before any selectivity result was seen.

    Fields left None take the task's default (TASK_DEFAULTS); `resolved(task)` fills them in.
    """

    list_lengths: tuple[int, ...] | None = None  # free: one network per length; serial: lengths mixed
    batch_size: int = 32
    lists_per_epoch: int = 1024
    learning_rate: float | None = None
    criterion: float | None = None  # share of evaluation lists recalled correctly
    max_epochs: int | None = None
    eval_lists_per_length: int = 100
    optimizer: str | None = None  # sgd or adam
    momentum: float | None = None  # sgd only
    init: str | None = None  # 'uniform:R' or 'default'
    start_state: float | None = None  # the hidden state before each list (rnn cells)
    train_past: int = 0  # epochs trained on after the criterion is reached
    feedback: bool = False  # output-to-hidden connections (Botvinick & Plaut 2006)

    def resolved(self, task: str) -> TrainConfig:
        if task not in TASK_DEFAULTS:
            raise InputError(f"task {task!r}: expected one of {', '.join(TASKS)}")
        filled = {k: v for k, v in TASK_DEFAULTS[task].items() if getattr(self, k) is None}
        return replace(self, **filled)

    def validate(self, n_words: int, task: str = "serial") -> None:
        c = self.resolved(task)
        lengths = c.list_lengths or ()
        if not lengths or any(_not_count(n) for n in lengths) or max(lengths) > n_words:
            raise InputError(f"list lengths {list(lengths)}: each must be a whole number between 1 and {n_words}")
        if len(set(lengths)) != len(lengths):
            raise InputError(f"list lengths {list(lengths)}: each length once")
        for name in ("batch_size", "lists_per_epoch", "max_epochs", "eval_lists_per_length"):
            if _not_count(getattr(c, name)):
                raise InputError(f"{name.replace('_', ' ')} {getattr(c, name)!r}: must be a whole number of at least 1")
        if _not_count(self.train_past, least=0):
            raise InputError(f"train past {self.train_past!r}: must be a whole number of at least 0")
        if not _finite(c.criterion) or not 0 < c.criterion <= 1:  # type: ignore[operator]
            raise InputError(f"criterion {c.criterion}: must be in (0, 1]")
        if not _finite(c.learning_rate) or not c.learning_rate > 0:  # type: ignore[operator]
            raise InputError(f"learning rate {c.learning_rate}: must be a positive number")
        if c.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer {c.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        if not _finite(c.momentum) or not 0 <= c.momentum < 1:  # type: ignore[operator]
            raise InputError(f"momentum {c.momentum}: must be in [0, 1)")
        if not _finite(c.start_state):
            raise InputError(f"start state {c.start_state}: must be a number")
        parse_init(str(c.init))

    def as_json(self) -> dict:
        return {**asdict(self), "list_lengths": list(self.list_lengths or ())}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    record_repeats: int = 10  # test lists per length = repeats x words (each word once per position each time)
    words: int = 30  # the vocabulary: words of `slots` letters out of `letters` letters
    letters: int = 10
    slots: int = 3
    on_duplicate: OnDuplicate = "reuse"  # a file imported before (same seed, same settings): see ImportOptions
    task: str = "free"  # free recall (Bowers et al. 2014) or serial recall (seldb 0.2's control)

    def validate(self) -> None:
        """One clear line per bad option, before anything is trained or written."""
        if self.task not in TASKS:
            raise InputError(f"task {self.task!r}: expected one of {', '.join(TASKS)}")
        for name in ("seeds", "hidden", "record_repeats", "words", "letters", "slots"):
            value = getattr(self, name)
            if _not_count(value):
                raise InputError(f"{name.replace('_', ' ')} {value!r}: must be a whole number of at least 1")
        if self.seeds > MAX_SEEDS:
            raise InputError(f"seeds {self.seeds}: at most {MAX_SEEDS}")
        if self.hidden > MAX_HIDDEN:
            raise InputError(f"hidden {self.hidden}: at most {MAX_HIDDEN} units")
        self.train.validate(self.words, self.task)
        if self.cell not in CELLS:
            raise InputError(f"cell {self.cell!r}: expected one of {', '.join(CELLS)}")
        if _not_count(self.first_seed, least=0) or self.first_seed + self.seeds - 1 > MAX_SEED:
            raise InputError(
                f"first seed {self.first_seed!r}: must be a whole number from 0 to {MAX_SEED - self.seeds + 1}"
            )
        if self.on_duplicate not in ON_DUPLICATE:
            raise InputError(f"on duplicate {self.on_duplicate!r}: expected one of {', '.join(ON_DUPLICATE)}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise InputError(f"--out {self.out}: exists and is not a directory")

    @property
    def train_config(self) -> TrainConfig:
        """The training settings with the task's defaults filled in."""
        return self.train.resolved(self.task)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def model_name(cell: str, condition: str) -> str:
    """'rnn-superposition', 'rnn-single', 'lstm-superposition', 'lstm-single'; free recall: 'rnn-free-L3'."""
    return f"{cell}-{condition}"


def free_condition(length: int) -> str:
    """The condition name of a free-recall network: 'free-L1' (no superposition), 'free-L3', ..."""
    return f"free-L{length}"


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
