"""The screenshots of docs/serve.md: `seldb serve` on `seldb demo`'s run, in the headless Chromium of the tests.

Needs a database holding the demo's run (run `seldb demo` first, with the
same SELDB_DATABASE_URL and SELDB_DATA_DIR) and the OS's chromium and
chromium-driver. Makes a rating sheet of the demo's four AM units and
registers it as the study "demo-pilot" when there is none, serves the app on
a loopback port, and saves:

    docs/img/serve-units.png   the units table, sorted by precision_60 and filtered
    docs/img/serve-unit.png    the unit page of the demo's most selective fc1 unit
    docs/img/serve-rate.png    an item of the rating study

Usage: python benchmarks/serve_screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))  # the tests' browser tooling

import browser_support  # noqa: E402

FILTER = "precision_60 > 0.75 and recall_p1 < 0.2"
STUDY = "demo-pilot"


def demo_run(db) -> tuple[int, str]:
    """The latest demo run and its unit with the highest precision_60 (ties: max_informedness)."""
    runs = db.sql("SELECT run_id FROM seldb.runs WHERE model = 'digit-cnn' ORDER BY run_id DESC LIMIT 1")
    if runs.is_empty():
        sys.exit("no demo run in this database: run `seldb demo` first")
    run_id = int(runs["run_id"][0])
    top = db.sql(
        "SELECT unit_label FROM seldb.unit_measures WHERE run_id = :r AND layer = 'fc1'"
        " ORDER BY precision_60 DESC, max_informedness DESC LIMIT 1",
        r=run_id,
    )
    return run_id, top["unit_label"][0]


def ensure_study(db, run_id: int, scratch: Path) -> None:
    if not db.sql("SELECT study FROM seldb.rating_studies WHERE study = :s", s=STUDY).is_empty():
        return
    units = db.sql("SELECT DISTINCT unit_label FROM seldb.am_images WHERE run_id = :r ORDER BY 1", r=run_id)
    sheet = db.am_sheet(units["unit_label"].to_list(), scratch / "sheet", run=run_id, seed=1)
    db.add_study(sheet.key, STUDY)


def shoot(driver, url: str, out: Path, height: int, ready) -> None:
    driver.set_window_size(1400, height)
    driver.get(url)
    deadline = time.monotonic() + 120
    while not ready(driver):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not finish loading")
        time.sleep(0.2)
    time.sleep(0.5)
    driver.save_screenshot(str(out))
    print(f"wrote {out}")


def loaded(element_id: str):
    return lambda d: d.execute_script(
        "const i = document.getElementById(arguments[0]); return i !== null && i.complete && i.naturalWidth > 0;",
        element_id,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "docs" / "img")
    args = parser.parse_args()
    reason = browser_support.missing()
    if reason:
        sys.exit(reason)
    import seldb
    from seldb.serve import create_app

    args.out.mkdir(parents=True, exist_ok=True)
    with seldb.connect() as db, tempfile.TemporaryDirectory() as scratch:
        run_id, unit = demo_run(db)
        ensure_study(db, run_id, Path(scratch))
        from urllib.parse import urlencode

        query = urlencode({"filter": FILTER, "sort": "precision_60", "order": "desc"})
        with browser_support.running(create_app(db, "127.0.0.1", Path(scratch) / "cache")) as site:
            with browser_support.chromium() as driver:
                shoot(
                    driver,
                    f"{site}/runs/{run_id}/units?{query}",
                    args.out / "serve-units.png",
                    900,
                    lambda d: d.find_elements("id", "units"),
                )
                shoot(
                    driver, f"{site}/runs/{run_id}/unit/{unit}", args.out / "serve-unit.png", 1500, loaded("unit-plot")
                )
                driver.get(f"{site}/rate/{STUDY}")
                driver.find_element("id", "rater").send_keys("screenshot")
                driver.find_element("id", "begin").click()
                shoot(
                    driver,
                    driver.current_url,
                    args.out / "serve-rate.png",
                    760,
                    lambda d: d.execute_script(
                        "return [...document.querySelectorAll('img.rate-image')]"
                        ".every(i => i.complete && i.naturalWidth > 0)"
                    ),
                )


if __name__ == "__main__":
    main()
