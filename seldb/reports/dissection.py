"""Network Dissection's detectors beside the class-selectivity measures, for `seldb report detectors`.

A unit counts as a Network Dissection detector when the IoU of its top label
exceeds 0.04 (Bau et al. 2017's cut; seldb.netdissect.is_detector), whether
`seldb dissect` computed the IoU or a tally.csv was imported. The section
lists those units with precision, CCMAS, recall at precision 1 and maximum
informedness, so that the two criteria can be compared unit by unit; the
note counts them from the same rows.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from seldb.db.read import frame
from seldb.reports.base import Section

DETECTOR_COLUMNS = [
    "unit_label",
    "category",
    "label",
    "iou",
    "source",
    "precision_60",
    "precision_60_class",
    "ccmas",
    "ccmas_class",
    "recall_p1",
    "max_informedness",
    "mi_class",
]


def netdissect_detectors(conn: sa.Connection, run_id: int) -> tuple[Section, str] | None:
    """(the section, a one-sentence note), or None when no layer of the run was dissected."""
    tops = frame(
        conn,
        f"SELECT {', '.join(DETECTOR_COLUMNS)}, is_detector FROM seldb.netdissect"
        " WHERE run_id = :r AND is_top ORDER BY iou DESC NULLS LAST, layer, unit",
        {"r": run_id},
    )
    if tops.is_empty():
        return None
    detectors = tops.filter(pl.col("is_detector")).drop("is_detector")
    note = (
        f"Network Dissection calls {detectors.height:,} of the {tops.height:,} dissected units detectors"
        " (the IoU of their top label exceeds 0.04, Bau et al. 2017)"
    )
    if detectors["precision_60"].is_not_null().any():
        claimed = detectors.filter(pl.col("precision_60") > 0.75).height
        note += f"; {claimed:,} of them also pass the precision criterion (precision_60 > 0.75)"
    section = Section("netdissect", "Network Dissection detectors: top-label IoU > 0.04", detectors)
    return section, note + "."
