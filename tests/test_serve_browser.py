"""The web app in a real headless browser (the OS's Chromium, driven by Selenium through chromedriver).

The issue's acceptance flow on a demo-like run: open the runs page, go to
the run's units, sort them by precision_60, filter them, see a malformed
filter's reason, open a unit and see its plot image load, then rate two AM
images in rating mode, stop, resume, and find the ratings in
seldb.am_ratings. What the table shows is checked against the view's rows
sorted and filtered here, in Python. Skipped, with the reason, when Chromium
or its driver is not installed (`apt-get install chromium chromium-driver`).

With SELDB_SCREENSHOTS=DIR set, the test also saves the units table and the
unit page there (docs/img/ holds the ones the docs show).
"""

from __future__ import annotations

import os
from pathlib import Path

import browser_support
import pytest
from serve_support import make_demo_like
from support import rows
from test_serve_app import expected_units

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(browser_support.missing() is not None, reason=str(browser_support.missing())),
]
STUDY = "browser-pilot"
WAIT = 60


@pytest.fixture(scope="module")
def demo(database_url, tmp_path_factory):
    import seldb

    root = tmp_path_factory.mktemp("serve-browser")
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        made = make_demo_like(db, root, study=STUDY, am_seed=400)
        try:
            yield made
        finally:
            db.delete_run(made.run_id)


@pytest.fixture
def site(demo, db, tmp_path):
    from seldb.serve import create_app

    with browser_support.running(create_app(db, "127.0.0.1", tmp_path / "cache")) as url:
        yield url


@pytest.fixture
def browser():
    with browser_support.chromium() as driver:
        yield driver


def _shown_units(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [tr.get_attribute("data-unit") for tr in driver.find_elements(By.CSS_SELECTOR, "#units tbody tr[data-unit]")]


def _swap(driver, action) -> None:
    """Do something that makes htmx replace the table, and wait until it has."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.ID, "units-table")
    action()
    WebDriverWait(driver, WAIT).until(ec.staleness_of(old))
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "units-table")))


def _screenshot(driver, name: str) -> None:
    folder = os.environ.get("SELDB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def _image_loaded(driver, element_id: str) -> bool:
    return bool(
        driver.execute_script(
            "const i = document.getElementById(arguments[0]); return i !== null && i.complete && i.naturalWidth > 0;",
            element_id,
        )
    )


def test_browse_sort_filter_and_open_a_unit(site, browser, demo, db):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site}/runs")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{demo.run_id}"]')
    assert "demo-like-cnn" in row.text
    row.find_element(By.LINK_TEXT, "24").click()  # the run's units
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "units"))

    _swap(browser, lambda: browser.find_element(By.ID, "sort-ccmas").click())
    _swap(browser, lambda: browser.find_element(By.ID, "sort-precision_60").click())
    assert "sort=precision_60" in browser.current_url and "order=desc" in browser.current_url  # pushed to history
    assert _shown_units(browser) == expected_units(db, demo.run_id, "precision_60", True)

    box = browser.find_element(By.ID, "filter")
    box.send_keys("precision_60 > 0.25 and recall_p1 < 0.4")
    _swap(browser, lambda: box.send_keys(Keys.ENTER))
    wanted = expected_units(
        db, demo.run_id, "precision_60", True, lambda r: r["precision_60"] > 0.25 and r["recall_p1"] < 0.4
    )
    assert _shown_units(browser) == wanted and 0 < len(wanted) < 24
    assert browser.find_element(By.ID, "total").text == str(len(wanted))
    _screenshot(browser, "serve-units.png")

    box = browser.find_element(By.ID, "filter")
    box.send_keys(" or ccmas < 1")
    box.send_keys(Keys.ENTER)
    reason = WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#error .reason"))
    assert "only 'and' joins conditions" in reason[0].text
    box.clear()
    box.send_keys("precision_60 > 0.25 and recall_p1 < 0.4")
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#units tbody tr[data-unit]"))

    first = wanted[0]
    browser.find_element(By.LINK_TEXT, first).click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "unit-title"))
    assert browser.find_element(By.ID, "unit-title").text.startswith(first)
    WebDriverWait(browser, WAIT).until(lambda d: _image_loaded(d, "unit-plot"))
    assert "exact activations" in browser.find_element(By.ID, "plot").text
    _screenshot(browser, "serve-unit.png")


def test_rate_two_images_stop_and_resume(site, browser, demo):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    items = rows("SELECT item, unit_label FROM seldb.rating_study_items WHERE study = :s ORDER BY position", s=STUDY)

    def begin(name: str) -> None:
        browser.get(f"{site}/rate/{STUDY}")
        browser.find_element(By.ID, "rater").send_keys(name)
        browser.find_element(By.ID, "begin").click()
        WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "answer-form"))

    def answer(yes: bool, label: str = "") -> None:
        WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('img.rate-image')].every(i => i.complete && i.naturalWidth > 0)"
            )
        )
        browser.find_element(By.ID, "judged-yes" if yes else "judged-no").click()
        if label:
            browser.find_element(By.ID, "label").send_keys(label)
        old = browser.current_url
        browser.find_element(By.ID, "save").click()
        WebDriverWait(browser, WAIT).until(lambda d: d.current_url != old)

    begin("Rosalind")
    assert browser.current_url.endswith(f"/rate/{STUDY}/item/{items[0]['item']}")
    assert "Image 1 of 4" in browser.find_element(By.ID, "progress").text
    answer(True, "a dog")
    assert browser.current_url.endswith(f"/item/{items[1]['item']}")
    answer(False)
    stored = rows(
        "SELECT unit_label, judged_object, label, label_key FROM seldb.am_ratings"
        " WHERE run_id = :r AND rater = 'Rosalind' ORDER BY unit_label",
        r=demo.run_id,
    )
    assert stored == sorted(
        [
            {"unit_label": items[0]["unit_label"], "judged_object": True, "label": "a dog", "label_key": "a dog"},
            {"unit_label": items[1]["unit_label"], "judged_object": False, "label": None, "label_key": None},
        ],
        key=lambda r: r["unit_label"],
    )

    browser.find_element(By.ID, "stop").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "stopped"))
    begin("Rosalind")
    assert browser.current_url.endswith(f"/item/{items[2]['item']}")  # resumed where she stopped
    assert "2 answered" in browser.find_element(By.ID, "progress").text
