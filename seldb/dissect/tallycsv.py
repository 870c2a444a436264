"""Writing a layer's dissection as NetDissect-Lite's tally.csv, column for column.

Other tools (NetDissect-Lite's report, seldb's own `import netdissect`) read
tally.csv, so it is written exactly as NetDissect-Lite writes it: columns
unit (1-based), category, label, score, then per category in category.csv
order <cat>-label, <cat>-truth, <cat>-activation, <cat>-intersect, <cat>-iou
(that category's best label and its counts); rows ordered by score, best
first; numbers as Python prints float64 (counts as 12769.0). A category in
which no label has IoU above 0 names label 0 as its best label, whose name is
'' unless label.csv lists a number 0 - which NetDissect-Lite writes too.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from seldb.dissect.result import DissectResult

PER_CATEGORY = ("label", "truth", "activation", "intersect", "iou")


def tally_header(categories) -> list[str]:
    return ["unit", "category", "label", "score"] + [f"{cat}-{part}" for cat in categories for part in PER_CATEGORY]


def tally_rows(result: DissectResult, layer: str) -> list[list]:
    d = result.layers[layer]
    best, s, names = d.best, d.scores, result.label_names
    rows = []
    for unit in best.order.tolist():
        top = int(best.top_category[unit])
        row = [unit + 1, result.categories[top], names[best.label[top, unit]], float(best.iou[top, unit])]
        for ci in range(len(result.categories)):
            label = int(best.label[ci, unit])
            row += [
                names[label],
                float(s.truth[label]),
                float(s.activation[unit, label]),
                float(s.intersection[unit, label]),
                float(best.iou[ci, unit]),
            ]
        rows.append(row)
    return rows


def write_tally_csv(result: DissectResult, layer: str, path: str | os.PathLike) -> Path:
    """Write `layer`'s tally.csv to path (replacing it)."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)  # "\r\n" line ends, as csv.DictWriter gave NetDissect-Lite
        writer.writerow(tally_header(result.categories))
        writer.writerows(tally_rows(result, layer))
    return path
