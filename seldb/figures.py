"""What every seldb plot shares: an off-screen figure, the PNG, and its JSON sidecar.

Figures are made with matplotlib's object API on the Agg canvas, never
through pyplot, so plotting works without a display, does not touch global
matplotlib state a notebook may have set, and needs no backend switch.
Beside each PNG a sidecar `<name>.json` lists what was drawn (axis labels,
lines, data source, counts): a test, or a reader of the figure, can check
the picture against the data without looking at pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seldb.render import jsonable, safe_name

__all__ = ["new_figure", "safe_name", "save"]

DPI = 120
CLASS_COLOUR = "#d62728"  # the class of interest
OTHER_COLOUR = "#9a9a9a"  # everything else
LINE_STYLES = {
    "max_informedness_threshold": {"color": "#1f77b4", "linestyle": "--", "linewidth": 1.6},
    "top60_threshold": {"color": "#2ca02c", "linestyle": ":", "linewidth": 2.0},
}


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, png: Path, sidecar: dict) -> list[Path]:
    """Write the PNG and `<png stem>.json`; returns both paths."""
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png)
    meta = png.with_suffix(".json")
    text = json.dumps(jsonable({"png": png.name, **sidecar}), indent=2, allow_nan=False)
    meta.write_text(text + "\n", encoding="utf-8")
    return [png, meta]
