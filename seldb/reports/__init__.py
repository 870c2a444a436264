"""Reports: the paper's tables and figures for any run, each a thin presentation of a view.

One module per report (correlations, layers, top, unit, concept, detectors,
ratings); each reads views of schema seldb, never recomputes a measure, and
returns a seldb.reports.base.Report that the CLI prints and `save()` writes.
Plots (matplotlib, Agg) are imported only when a report is asked for one.
"""

from __future__ import annotations

from seldb.reports.base import Report, Section

__all__ = ["Report", "Section"]
