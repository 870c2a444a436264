"""Reports: the paper's tables and figures for any run, each a thin presentation of a view.

One module per report (correlations, layers, top, unit, concept, detectors,
ratings, control); each reads views of schema seldb through seldb.db.read,
never recomputes a measure, and returns a seldb.reports.base.Report that the
CLI prints and `save()` writes. Beside them: the plots (`layer_plot`,
`unit_plot`, `unit_points`, matplotlib imported only when a report is asked
for one), `intervals` (what reports show of `seldb uncertainty`) and
`am_panels` (AM images where reports show them).
"""

from __future__ import annotations

from seldb.reports.base import Report, Section

__all__ = ["Report", "Section"]
