"""The paper's positive control: grandmother cells in a small recurrent network.

Bowers et al. (2014, 2016) found hidden units selective for one letter or
word in recurrent networks of short-term memory that had to hold several
words at once, and not when the words came one at a time. This package
trains such networks (`run_control`, needs torch): free recall with one
network per list length (the default) or seldb 0.2's serial recall with and
without superposition; writes their hidden activations as ordinary
activation files; analyses them per step for memory units (`memory`) and
summarises the measures per condition (`summarize_control`,
`plot_control_boxes`) and against list length (`dose`). It plants units of
known selectivity (`planted_units`; memory units on the control's own task:
`planted_memory`) to check that the analysis finds what is there. Modules:
`task` (the lists), `model`, `train`, `record` (as activation files),
`steps` (serial checks and per-unit measures without a database),
`memory` (per step, per list length, on and off), `experiment` (per seed, end
to end), `analysis` (pooled counts, verdict, plots), `dose`
(dose-response), `options`, `command` (imported as runs). docs/control.md is
the user's page.
"""

from __future__ import annotations

from seldb.control.analysis import ControlSummary, plot_control_boxes, summarize_control
from seldb.control.options import ControlOptions, ControlResult, TrainConfig
from seldb.control.planted_units import classify, planted_units, write_planted_file

_NEEDS_TORCH = {"run_control": "seldb.control.experiment", "ControlNetwork": "seldb.control.experiment"}

__all__ = [
    "ControlOptions",
    "ControlResult",
    "ControlSummary",
    "TrainConfig",
    "classify",
    "planted_units",
    "plot_control_boxes",
    "summarize_control",
    "write_planted_file",
    *_NEEDS_TORCH,
]


def __getattr__(name: str):
    """torch is imported only when the networks are asked for (it is an optional extra)."""
    if name in _NEEDS_TORCH:
        import importlib

        return getattr(importlib.import_module(_NEEDS_TORCH[name]), name)
    raise AttributeError(f"module 'seldb.control' has no attribute {name!r}")
