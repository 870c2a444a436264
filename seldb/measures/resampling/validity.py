"""Which bootstrap intervals can be trusted, per unit and measure, and why not.

The calibration suite (benchmarks/calibration.py, its table in
docs/uncertainty.md) measures how often each measure's interval covers the
population value on units of known distribution. Where no interval seldb can
afford covers at its level for some units, the unit's row says so (`valid`
false, `reason` saying why) instead of offering a number that misleads:

- never valid: the localist margin and is_localist (a minimum minus a maximum:
  the bootstrap does not reproduce the sampling distribution of extremes),
  n_classes_top100 (a resample repeats images, so its top 100 holds fewer
  distinct images: the replicates are biased down) and the rates at the
  maximum-informedness threshold (a threshold chosen on the same images sits
  at a kink: at the "fires at all" threshold of a ReLU or at recall 1 they
  covered 64-65%);
- CCMAS (both forms) takes the class with the highest mean from the same
  images: on a unit with no class dependence its interval held the population
  value (0) in 92% of samples, but never in the 4-5% of samples that pass a
  5% test (those are the samples whose best class is furthest from 0). It is
  valid only where the chance baseline shows a class effect after correcting
  for the layer's many units: the Benjamini-Hochberg q-value of the same row
  <= Q_MAX. A per-unit p <= 0.05 would let through 5% of a layer's units with
  no class dependence, which in a layer of mostly such units are most of the
  valid rows; q bounds their expected share among the valid rows at 5%.
  Without permutations validity is unknown (NULL). This part of the rule
  needs both halves of a row, so the view seldb.unit_measure_intervals
  applies it (`combined_validity` is its Python mirror);
- an interval of no replicate (the measure NULL in all of them) is not valid.
"""

from __future__ import annotations

import numpy as np

Q_MAX = 0.05
NEVER_VALID = {
    "localist_margin": "extreme values (a minimum minus a maximum): the bootstrap cannot reproduce their spread",
    "is_localist": "extreme values (the sign of the localist margin): the bootstrap cannot reproduce their spread",
    "n_classes_top100": "a resample repeats images, so its top 100 holds fewer distinct images: biased down",
    **dict.fromkeys(
        ("mi_recall", "mi_specificity", "mi_false_alarm_rate", "mi_false_discovery_rate", "mi_precision"),
        "a rate at a threshold chosen on the same images: its interval does not cover at its level",
    ),
}
NEEDS_CHANCE = ("ccmas", "ccmas_morcos")
NO_INTERVAL = "no interval: the measure was NULL in every replicate"
NO_CHANCE = "best class chosen on the same images: valid only with a chance baseline (run the permutations)"
NO_EFFECT = f"no class effect shown (q > {Q_MAX} over the layer's units): a maximum over classes is biased up"


def bootstrap_validity(measure: str, lo: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """The part of the rule the bootstrap alone decides: (valid per unit, reason per unit or None)."""
    has_interval = ~np.isnan(lo)
    why = NEVER_VALID.get(measure)
    valid = has_interval & (why is None)
    reasons: list[str | None] = [None if ok else (why if has else NO_INTERVAL) for ok, has in zip(valid, has_interval)]
    return valid, reasons


def combined_validity(measure: str, valid: bool | None, reason: str | None, q: float | None):
    """What seldb.unit_measure_intervals shows: the bootstrap's verdict, and for the measures that
    pick their best class, the chance baseline's (q: the row's BH q-value; None = unknown)."""
    if not valid or measure not in NEEDS_CHANCE:
        return valid, reason
    if q is None or np.isnan(q):
        return None, NO_CHANCE
    return (True, None) if q <= Q_MAX else (False, NO_EFFECT)
