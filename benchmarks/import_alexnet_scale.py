"""Benchmark: `seldb import-h5` end to end at AlexNet scale, beside a numpy baseline.

Makes (once, kept under --dir) a synthetic file like AlexNet's conv5 + fc6 +
fc7 (8,448 units) over --images images of 1,000 classes with ~80% exact zeros
(see alexnet_file.py), in the --layout asked for; then times `seldb import-h5`
as a separate process into a fresh database and, with --baseline, the per-unit
numpy baseline (baseline_numpy.py) on the same file. For each: wall, user and
system CPU seconds and peak RSS (of that process alone, from wait4), and the
ratio. The per-phase split (read, measures, COPY) comes from the run's record.

    python benchmarks/import_alexnet_scale.py [--images 100000] [--layout contiguous]
        [--dtype float32] [--units N] [--engines numba numpy] [--baseline] [--dir /tmp] [--database-url URL]

Prints the JSON record, then the markdown table docs/performance.md keeps
(date, load at start and end, wall beside CPU seconds, ratios to the
baseline, and the run's phases: validate, read, measures, COPY).

--images 721536 is the paper's scale (a 24 GB file; see import_paper_scale.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from alexnet_file import LAYOUTS, file_for  # noqa: E402


def fresh_database(server_url: str) -> str:
    import psycopg

    name = f"seldb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def timed(command: list[str], env: dict | None = None) -> dict:
    """Run a command; its wall time, CPU times and peak RSS (this child only)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[:4]} failed with {process.returncode}")
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "peak_rss_gb": round(usage.ru_maxrss / 1e6, 2),
        "load_before": os.getloadavg()[0],
    }


def import_once(path: Path, server_url: str, engine: str | None = None) -> dict:
    url = fresh_database(server_url)
    env = dict(os.environ, SELDB_DATABASE_URL=url)
    if engine:
        env["SELDB_ENGINE"] = engine
    try:
        subprocess.run([sys.executable, "-m", "seldb_cli.main", "db", "upgrade"], env=env, check=True)
        load = os.getloadavg()[0]
        result = timed([sys.executable, "-m", "seldb_cli.main", "import-h5", str(path), "--force", "-q"], env)
        result["load_before"] = load
        import psycopg

        with psycopg.connect(url) as conn:
            result["timings"], result["row_counts"], options = conn.execute(
                "SELECT timings, row_counts, options FROM seldb_store.runs ORDER BY run_id DESC"
            ).fetchone()
            result["measure_engine"] = options.get("measure_engine", "numpy")
    finally:
        drop_database(server_url, url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--layout", choices=LAYOUTS, default="contiguous")
    parser.add_argument("--dtype", choices=["float16", "float32", "float64"], default="float32")
    parser.add_argument("--baseline", action="store_true", help="also run the numpy baseline on the same file")
    parser.add_argument("--units", type=int, help="one layer of this many units instead of AlexNet's 8,448")
    parser.add_argument("--engines", nargs="+", default=["numba"], choices=["numba", "numpy"], help="SELDB_ENGINE")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where the benchmark file is made and kept")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    started = time.perf_counter()
    path = file_for(args.dir, args.images, args.layout, args.dtype, args.units)
    report = {
        "file": str(path),
        "file_gb": round(path.stat().st_size / 1e9, 2),
        "made_or_found_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
    }
    report["load_at_start"] = uptime()
    for engine in args.engines:
        report[f"seldb {engine}"] = import_once(path, args.database_url, engine)
    if args.baseline:
        report["baseline"] = timed([sys.executable, str(Path(__file__).parent / "baseline_numpy.py"), str(path)])
    report["load_at_end"] = uptime()
    print(json.dumps(report, indent=2))
    print(table(report, args))


def uptime() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def table(report: dict, args) -> str:
    """The markdown rows docs/performance.md keeps: wall beside CPU seconds, the load, the ratios."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    units = args.units or 8448
    lines = [
        f"{args.images:,} images x {units:,} units, {args.layout}, {when}, load (1/5/15 min)"
        f" {report['load_at_start']} at start, {report['load_at_end']} at end",
        "",
        "| run | wall | user | sys | CPU | peak RSS | x baseline (wall) | x baseline (CPU) | phases |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    base = report.get("baseline")
    for name, r in report.items():
        if not isinstance(r, dict) or "wall_s" not in r:
            continue
        cpu = r["user_s"] + r["sys_s"]
        ratios = ["", ""]
        if base and r is not base:
            ratios = [f"{base['wall_s'] / r['wall_s']:.2f}", f"{(base['user_s'] + base['sys_s']) / cpu:.2f}"]
        phases = ", ".join(f"{k} {v}" for k, v in (r.get("timings") or {}).items())
        lines.append(
            f"| {name} | {r['wall_s']} s | {r['user_s']} s | {r['sys_s']} s | {cpu:.1f} s"
            f" | {r['peak_rss_gb']} GB | {ratios[0]} | {ratios[1]} | {phases} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
