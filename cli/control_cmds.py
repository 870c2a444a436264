"""`seldb control superposition`: the paper's positive control, trained and imported as runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from seldb.control import options as control_options
from seldb.control.options import DEFAULT_HIDDEN, DEFAULT_OUT, DEFAULT_SEEDS, ControlOptions, TrainConfig
from seldb.errors import InputError
from seldb.load.options import ON_DUPLICATE, on_duplicate_option
from seldb_cli.common import console, database, friendly

control_app = typer.Typer(
    name="control",
    help="Positive controls: networks in which selective units are expected, measured like any other run.",
    no_args_is_help=True,
)

SUPERPOSITION_HELP = """Train recurrent networks of short-term memory that must (or need not) hold several words at once (Bowers et al. 2014) and import their hidden units as runs.

--task free (the default): free recall as in Bowers et al. (2014) and the Bristol replication: a list of words is presented one word per step (its letters in slots), then at the recall cue 30 sigmoid word units must turn on every word of the list. One network per list length (--list-lengths 1,3,5,7; length 1 holds one word), all from the seed's initial weights. --task serial: seldb 0.2's serial recall, superposition against single words.

Each network is trained to the criterion, recorded at every step of its test lists and imported four times: labelled by the step's word (dataset control-word) and by its letter in slot 1, 2 and 3 (control-letter-slotN). The per-step memory analysis (word, word in list, letter in slot; units on and off; margins 0 to 0.5) is stored with the word run. Rerunning the same seeds reuses the runs. docs/control.md gives every default's source.

\b
Examples:
  seldb control superposition --seeds 1
  seldb control superposition --optimizer sgd --momentum 0.9 --lr 0.03
  seldb control superposition --task serial --cell lstm --out control-lstm
  seldb report control --plot --out figures/"""  # noqa: E501 (typer rewraps the paragraphs)


@control_app.command("superposition", help=SUPERPOSITION_HELP)
@friendly
def superposition_cmd(
    seeds: Annotated[
        int, typer.Option(help="Networks per condition, seeds --first-seed, --first-seed + 1, ...")
    ] = DEFAULT_SEEDS,
    hidden: Annotated[int, typer.Option(help="Hidden units of the recurrent layer.")] = DEFAULT_HIDDEN,
    cell: Annotated[str, typer.Option(help="rnn (logistic recurrent units) or lstm.")] = "rnn",
    out: Annotated[Path, typer.Option(help="Directory for the activation files.")] = Path(DEFAULT_OUT),
    first_seed: Annotated[int, typer.Option("--first-seed", help="The first seed.")] = 0,
    on_duplicate: Annotated[
        str,
        typer.Option("--on-duplicate", help=f"A file imported before with these options: {', '.join(ON_DUPLICATE)}."),
    ] = "reuse",
    task: Annotated[
        str,
        typer.Option(help="free: free recall, one network per list length (Bowers et al. 2014); serial: 0.2's task."),
    ] = "free",
    list_lengths: Annotated[
        str | None,
        typer.Option("--list-lengths", help="Comma-separated, e.g. 1,3,5,7 (free default) or 1,2,3,4 (serial)."),
    ] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam (default) or sgd (with --momentum).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default 0.003).")] = None,
    momentum: Annotated[float | None, typer.Option(help="SGD momentum, in [0, 1) (free default 0.9).")] = None,
    init: Annotated[
        str | None, typer.Option(help="uniform:R (weights uniform in [-R, R]; free uniform:1) or default (PyTorch's).")
    ] = None,
    start_state: Annotated[
        float | None, typer.Option("--start-state", help="Hidden state before each list (free 0.5, serial 0).")
    ] = None,
    criterion: Annotated[
        float | None, typer.Option(help="Share of evaluation lists recalled correctly that ends training, in (0, 1].")
    ] = None,
    train_past: Annotated[int, typer.Option("--train-past", help="Epochs trained on after the criterion.")] = 0,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", help="Stop here without the criterion (free 300, serial 2000).")
    ] = None,
    feedback: Annotated[bool, typer.Option("--feedback", help="Output-to-hidden connections (rnn cells).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no line per network.")] = False,
) -> None:
    train = TrainConfig(
        list_lengths=_lengths(list_lengths),
        optimizer=optimizer,
        learning_rate=lr,
        momentum=momentum,
        init=init,
        start_state=start_state,
        criterion=criterion,
        train_past=train_past,
        feedback=feedback,
        max_epochs=max_epochs,
    )
    train = _with_test_defaults(train)
    options = ControlOptions(
        seeds=seeds,
        hidden=hidden,
        task=task,
        cell=cell,
        out=out,
        first_seed=first_seed,
        train=train,
        on_duplicate=on_duplicate_option(on_duplicate),
    )
    options.validate()  # one line for a bad option before the database is opened
    with database() as db:  # Ctrl-C: friendly() says what the call kept (exc.kept)
        result = db.control_superposition(options, notify=None if quiet else _say, progress=not quiet)
    for net in result.networks:
        runs = ", ".join(f"{space} {run}" for space, run in net.runs.items())
        reused = " (reused)" if net.reused else ""
        console.print(f"{net.model} seed {net.seed}: runs {runs}{reused}", highlight=False)
    console.print(
        f"{len(result.run_ids)} runs in {result.seconds:.0f} s; activation files in {result.out}", highlight=False
    )
    console.print("next: seldb report control --plot --out figures/", highlight=False)


def _lengths(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"--list-lengths {text!r}: expected whole numbers separated by commas, e.g. 1,3,5,7") from None


def _with_test_defaults(train: TrainConfig) -> TrainConfig:
    """What the CLI left unset keeps seldb.control.options.DEFAULT_TRAIN's value (tests shrink training there)."""
    base = control_options.DEFAULT_TRAIN
    changed = {f: getattr(base, f) for f in ("batch_size", "lists_per_epoch", "eval_lists_per_length")}
    changed = {k: v for k, v in changed.items() if getattr(train, k) == getattr(TrainConfig(), k)}
    fields = (
        "list_lengths",
        "learning_rate",
        "criterion",
        "optimizer",
        "momentum",
        "init",
        "start_state",
        "max_epochs",
    )
    for f in fields:
        if getattr(train, f) is None and getattr(base, f) is not None:
            changed[f] = getattr(base, f)
    return replace(train, **changed)


def _say(line: str) -> None:
    console.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(control_app)
