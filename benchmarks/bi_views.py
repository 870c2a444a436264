"""Benchmark: a whole-run aggregate of every view at AlexNet scale, as a BI tool would ask it.

Needs a database holding an AlexNet-scale run (8,448 units x 1,000 classes; make one with
benchmarks/import_alexnet_scale.py, which prints its database URL). For every view of schema
seldb, times one whole-run aggregate (a count or GROUP BY layer, and for per-class views an
average of a per-class number) three times and prints the median, marking the ones over 1 s.
Also times rendering 10,000 rows as a terminal table against CSV (`seldb sql`'s two outputs).

    python benchmarks/bi_views.py --database-url postgresql://postgres@127.0.0.1:5432/seldb_bench_xxxx
"""

from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa

import seldb
from seldb.db.views import VIEW_NAMES
from seldb.render import table_text, to_csv

# view -> a whole-run aggregate ({r}: the run); views not listed get count(*) for the run
QUERIES = {
    "runs": "SELECT count(*), sum(n_units) FROM seldb.runs",
    "layers": "SELECT layer, n_units, n_dead_units FROM seldb.layers WHERE run_id = {r}",
    "unit_measures": "SELECT layer, count(*), avg(precision_60), avg(max_informedness) FROM seldb.unit_measures"
    " WHERE run_id = {r} GROUP BY layer",
    "latest_unit_measures": "SELECT layer, count(*), avg(recall_p1) FROM seldb.latest_unit_measures GROUP BY layer",
    "unit_precision_k": "SELECT k, count(*), avg(precision) FROM seldb.unit_precision_k WHERE run_id = {r} GROUP BY k",
    "unit_class_stats": "SELECT layer, count(*) FROM seldb.unit_class_stats WHERE run_id = {r} GROUP BY layer",
    "unit_histograms": "SELECT layer, count(*) FROM seldb.unit_histograms WHERE run_id = {r} GROUP BY layer",
    "unit_histogram_bins": "SELECT count(*) FROM seldb.unit_histogram_bins WHERE run_id = {r}",
    "unit_top_images": "SELECT layer, count(*), avg(activation) FROM seldb.unit_top_images WHERE run_id = {r}"
    " GROUP BY layer",
    "layer_class_summary": "SELECT layer, avg(mean_of_means), sum(n_claimed) FROM seldb.layer_class_summary"
    " WHERE run_id = {r} GROUP BY layer",
}
EXTRA = {  # the per-class averages a BI user may try first, and where the summary answers them
    "unit_class_stats: avg(mean) by layer": "SELECT layer, avg(mean) FROM seldb.unit_class_stats"
    " WHERE run_id = {r} GROUP BY layer",
    "unit_class_stats: one unit": "SELECT * FROM seldb.unit_class_stats WHERE run_id = {r} AND unit_label = 'fc6.1199'",
    "unit_histogram_bins: one unit": "SELECT * FROM seldb.unit_histogram_bins WHERE run_id = {r}"
    " AND unit_label = 'fc6.1199'",
}


def timed(conn: sa.Connection, sql: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        conn.exec_driver_sql(sql).fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--run", type=int, help="default: the run with the most units")
    args = parser.parse_args()
    with seldb.connect(args.database_url) as db, db.connect() as conn:
        run = args.run or conn.exec_driver_sql("SELECT run_id FROM seldb.runs ORDER BY n_units DESC LIMIT 1").scalar()
        units, classes = conn.exec_driver_sql(
            f"SELECT n_units, (SELECT count(*) FROM seldb_store.run_classes WHERE run_id = {run})"
            f" FROM seldb.runs WHERE run_id = {run}"
        ).one()
        print(f"run {run}: {units:,} units x {classes:,} classes")
        print(f"{'view / query':<48} {'seconds':>8}")
        for name in VIEW_NAMES:
            sql = QUERIES.get(name, f"SELECT count(*) FROM seldb.{name} WHERE run_id = {{r}}").format(r=run)
            seconds = timed(conn, sql, repeats=1 if name == "unit_histogram_bins" else 3)
            print(f"{name:<48} {seconds:>8.3f}{'  > 1 s' if seconds > 1 else ''}")
        for label, sql in EXTRA.items():
            seconds = timed(conn, sql.format(r=run))
            print(f"{label:<48} {seconds:>8.3f}{'  > 1 s' if seconds > 1 else ''}")
        result = conn.exec_driver_sql(f"SELECT * FROM seldb.unit_measures WHERE run_id = {run} LIMIT 10000")
        columns, rows = list(result.keys()), result.fetchall()
    started = time.perf_counter()
    to_csv(columns, rows)
    csv_s = time.perf_counter() - started
    started = time.perf_counter()
    table_text(columns, rows, width=None)
    table_s = time.perf_counter() - started
    started = time.perf_counter()
    table_text(columns, rows, width=120)
    blocks_s = time.perf_counter() - started
    print(
        f"render {len(rows):,} rows: csv {csv_s:.2f} s, table {table_s:.2f} s, blocks at 120 columns {blocks_s:.2f} s"
    )


if __name__ == "__main__":
    main()
