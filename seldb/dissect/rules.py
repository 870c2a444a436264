"""The rules a dissection follows where the published Network Dissection codes differ.

seldb's default reproduces NetDissect-Lite (CSAILVision/NetDissect-Lite,
`feature_operation.py`) byte for byte. The paper seldb reproduces took its
IoUs from the 2017 NetDissect code (CSAILVision/NetDissect, `src/`), which
differs in three places, and davidbau/dissect in a third way for one of them:

- union: which of a unit's above-threshold pixels enter the union of label l.
  `lite`: those of images where l's category occurs *under the unit's
  thresholded pixels* (or as a whole-image label) - `tally_job`'s
  `tally_units_cat`; `annotated`: those of images where l's category is
  annotated anywhere - 2017's `makeresult.count_act_with_labelcat`; `all`: those
  of every image - davidbau/dissect's `iou_from_conditional_indicator_mean`
  (the unconditional indicator mean).
- upsample: how a unit's map reaches the segmentation's resolution.
  `bilinear`: PIL's bilinear resize with half-pixel centres (Lite's
  `imresize(..., mode='F')`); `receptive-field`: linear interpolation between
  the centres of the units' receptive fields, held constant beyond the
  outermost centres - 2017's `upsample.upsampleL` (a linear
  `RectBivariateSpline` through `centered_arange(fieldmap)`).
- threshold: which order statistic is a unit's threshold. `exact`: numpy's
  linear percentile at 1 - quantile (Lite's first version); `sketch`: the
  quantile where the 2017 code reads its quantile sketch - `quantprobe` stores
  1000 read-outs largest first and `labelprobe` takes read-out
  round(1000 quantile), i.e. the (999 - round(1000 quantile)) / 999 quantile
  (994/999 for 0.005). seldb computes that quantile exactly; the sketch's own
  random error (about 0.1 % of rank) is not reproduced.

Categories are a separate option: the dataset's by default (2017's), or
`lite` for the five of NetDissect-Lite's settings.py (no material).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from seldb.errors import InputError

UNIONS = ("lite", "annotated", "all")
UPSAMPLES = ("bilinear", "receptive-field")
THRESHOLDS = ("exact", "sketch")
LITE_CATEGORIES = ("object", "part", "scene", "texture", "color")  # NetDissect-Lite settings.CATAGORIES
CATEGORY_PRESETS = {"lite": LITE_CATEGORIES}
SKETCH_READOUTS = 1000  # quantprobe's default --quantiles


@dataclass(frozen=True)
class DissectRules:
    union: str = "lite"
    upsample: str = "bilinear"
    threshold: str = "exact"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def name(self) -> str:
        """The preset these rules are, or 'custom'."""
        return next((name for name, rules in PRESETS.items() if rules == self), "custom")

    def percentile(self, quantile: float) -> float:
        """The argument to numpy's percentile that gives a unit's threshold under these rules."""
        if self.threshold == "exact":
            return 100 * (1 - quantile)  # NetDissect-Lite's np.percentile argument, unchanged
        readout = math.floor(SKETCH_READOUTS * quantile + 0.5)  # Python 2's round(), as labelprobe ran
        return 100 * max(SKETCH_READOUTS - 1 - readout, 0) / (SKETCH_READOUTS - 1)


PRESETS = {
    "lite": DissectRules(),
    "netdissect2017": DissectRules(union="annotated", upsample="receptive-field", threshold="sketch"),
}


def _choice(option: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is not None and value not in allowed:
        raise InputError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def resolve_rules(
    preset: str | None = None, union: str | None = None, upsample: str | None = None, threshold: str | None = None
) -> DissectRules:
    """A preset (default lite) with any single rule given beside it overriding the preset's; bad names are one line."""
    base = PRESETS.get(_choice("--rules", preset, tuple(PRESETS)) or "lite", PRESETS["lite"])
    return DissectRules(
        union=_choice("--union", union, UNIONS) or base.union,
        upsample=_choice("--upsample", upsample, UPSAMPLES) or base.upsample,
        threshold=_choice("--threshold", threshold, THRESHOLDS) or base.threshold,
    )


def resolve_categories(categories: Sequence[str] | None) -> list[str] | None:
    """The categories asked for, with a preset name (lite) expanded; None keeps the dataset's."""
    if categories is None:
        return None
    if len(categories) == 1 and categories[0] in CATEGORY_PRESETS:
        return list(CATEGORY_PRESETS[categories[0]])
    return list(categories)
