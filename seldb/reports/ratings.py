"""`seldb report ratings`: human judgements of the units' AM images per layer (the paper's Table 1).

Reads seldb.am_ratings_summary, which compares the ratings imported with
`seldb import ratings` among raters and with the units' most-active and
CCMAS classes; this report only orders the layers and says when a run has
no ratings yet.
"""

from __future__ import annotations

from seldb.db.database import Database
from seldb.db.read import by_layer, frame, layer_order, resolve_run
from seldb.errors import SeldbError
from seldb.reports.base import Report, Section


def ratings_report(db: Database, run: int | None = None) -> Report:
    """Table 1 per layer: % yes, % units >= 80% yes, label agreement, class matches, Fleiss' kappa."""
    with db.connect() as conn:
        r = resolve_run(conn, run)
        rows = frame(conn, "SELECT * FROM seldb.am_ratings_summary WHERE run_id = :r", {"r": r.run_id})
        layers = layer_order(conn, r.run_id)
    if rows.is_empty():
        raise SeldbError(f"no AM ratings in {r.name}: import them with `seldb import ratings FILE --run {r.run_id}`")
    rows = rows.sort(by_layer(layers)).drop("run_id", "model")
    title = f"Human ratings of activation-maximisation images (Table 1): {r.name}"
    return Report("ratings", title, r.run_id, [Section("ratings", title, rows)])
