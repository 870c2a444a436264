"""The web app over HTTP (Starlette's test client, no browser): pages against the views, bad input, safety.

One demo-like run (tests/serve_support.py: image files, AM images, a rating
study) is imported once for the module. What a page shows is compared with
an independent reading of the views (polars, not the app's SQL), images with
the files they come from, and the rating form with the rows it writes.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import shutil

import numpy as np
import polars as pl
import pytest
from PIL import Image
from serve_support import AM_UNITS, CLASSES, make_demo_like
from support import rows

from seldb import catalogue

pytestmark = pytest.mark.db
BASE = "http://127.0.0.1:8765"
STUDY = "app-pilot"


@pytest.fixture(scope="module")
def demo(database_url, tmp_path_factory):
    import seldb

    root = tmp_path_factory.mktemp("serve-app")
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        made = make_demo_like(db, root, study=STUDY, am_seed=200)
        try:
            yield made
        finally:  # the session database is shared: leave no run (its study and ratings go with it)
            db.delete_run(made.run_id)


@pytest.fixture
def app(demo, db, tmp_path):
    from seldb.serve import create_app

    return create_app(db, "127.0.0.1", tmp_path / "cache")


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app, base_url=BASE, raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


def units_in(page: str) -> list[str]:
    return [html.unescape(u) for u in re.findall(r'<tr data-unit="([^"]*)"', page)]


def total_in(page: str) -> int:
    return int(re.search(r'<strong id="total">([\d,]+)</strong>', page).group(1).replace(",", ""))


def expected_units(db, run_id: int, sort: str, descending: bool, keep=lambda r: True) -> list[str]:
    """The table's order computed here: the view's rows in Python, NULLs last, network order on ties."""
    frame = db.unit_measures(run=run_id)
    order = {name: i for i, name in enumerate(db.layers(run=run_id).sort("layer_index")["layer"].to_list())}
    records = [r for r in frame.iter_rows(named=True) if keep(r)]
    sign = -1 if descending else 1

    def key(r):
        value = r[sort]
        missing = value is None or (isinstance(value, float) and np.isnan(value))
        return (missing, 0 if missing else sign * value, order[r["layer"]], r["unit"])

    return [r["unit_label"] for r in sorted(records, key=key)]


# --------------------------------------------------------------------------- runs


def test_runs_page_lists_the_run_with_provenance_and_counts(client, demo):
    page = client.get("/runs")
    assert page.status_code == 200
    row = re.search(rf'<tr data-run="{demo.run_id}">(.*?)</tr>', page.text, re.S).group(1)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1:3] == ["demo-like-cnn", "digits-240"]
    assert cells[6:9] == ["24", "240", "240"]  # units, images analysed, of
    assert cells[12] == str(len(AM_UNITS)) and cells[15] == "1"  # AM images, studies
    assert cells[16] == str(demo.h5)


def test_run_page_and_comparison(client, demo, db):
    from seldb.load.options import ImportOptions

    page = client.get(f"/runs/{demo.run_id}")
    assert page.status_code == 200 and "conv1" in page.text and "fc1" in page.text
    other = db.import_h5(demo.h5, ImportOptions(on_duplicate="new", bins=20), progress=False).run_id
    try:
        page = client.get(f"/runs/compare?a={demo.run_id}&b={other}")
        assert page.status_code == 200
        differing = re.findall(r'<tr class="differs"><th>(\w+)</th>', page.text)
        assert "created_at" in differing and "bins" in differing and "model" not in differing
        assert client.get(f"/runs/compare?a={demo.run_id}&b={demo.run_id}").status_code == 400
    finally:
        db.delete_run(other)


# --------------------------------------------------------------------------- units table


@pytest.mark.parametrize(
    "query, sort, descending, keep",
    [
        ("", "precision_60", True, lambda r: True),
        ("?sort=ccmas&order=asc", "ccmas", False, lambda r: True),
        ("?sort=localist_margin&order=desc&layer=fc1", "localist_margin", True, lambda r: r["layer"] == "fc1"),
        (
            "?filter=precision_60+%3E+0.25+and+recall_p1+%3C+0.4&sort=max_informedness",
            "max_informedness",
            True,
            lambda r: r["precision_60"] > 0.25 and r["recall_p1"] < 0.4,
        ),
        (
            "?filter=is_dead+%3D+false,+precision_60_class+%3D+%27three%27",
            "precision_60",
            True,
            lambda r: not r["is_dead"] and r["precision_60_class"] == "three",
        ),
        ("?sort=unit_label&order=asc", "unit", False, lambda r: True),
    ],
)
def test_units_table_sorts_and_filters_like_an_independent_sort(client, demo, db, query, sort, descending, keep):
    page = client.get(f"/runs/{demo.run_id}/units{query}")
    assert page.status_code == 200
    expected = expected_units(db, demo.run_id, sort, descending, keep)
    if sort == "unit":  # unit_label sorts in network order: layer, then unit
        order = {"conv1": 0, "fc1": 1}
        expected = sorted(expected, key=lambda label: (order[label.split(".")[0]], int(label.split(".")[1])))
    assert units_in(page.text) == expected[:50] and total_in(page.text) == len(expected)


def test_units_table_pages(client, demo, db):
    expected = expected_units(db, demo.run_id, "max_informedness", True)
    seen = []
    for page_number in (1, 2, 3):
        page = client.get(f"/runs/{demo.run_id}/units?sort=max_informedness&per=25&page={page_number}")
        seen += units_in(page.text)
    assert seen == expected and len(expected) == 24
    page = client.get(f"/runs/{demo.run_id}/units?per=25&page=2")
    assert units_in(page.text) == [] and "the last page is 1" in page.text


def test_htmx_gets_the_table_alone(client, demo):
    part = client.get(f"/runs/{demo.run_id}/units?sort=ccmas", headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<div id="units-table">') and "<html" not in part.text
    whole = client.get(
        f"/runs/{demo.run_id}/units?sort=ccmas", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in whole.text


def test_the_shown_sql_is_the_same_query(client, demo, db):
    query = "filter=precision_60+%3E+0.2+and+mi_class+%21%3D+%27one%27&sort=recall_p1&order=asc&per=25&page=1"
    table = units_in(client.get(f"/runs/{demo.run_id}/units?{query}").text)
    page = client.get(f"/runs/{demo.run_id}/units.sql?{query}")
    sql = html.unescape(re.search(r'<pre id="sql" class="sql">(.*?)</pre>', page.text, re.S).group(1))
    assert "0.2" in sql and "'one'" in sql
    assert db.sql(sql)["unit_label"].to_list() == table and table


# --------------------------------------------------------------------------- unit page and images


def _measure_cells(page: str) -> dict[str, str]:
    return {
        m: html.unescape(v)
        for m, v in re.findall(r'<tr data-measure="(\w+)">\s*<th>\w+</th>\s*<td class="n" data-value="([^"]*)"', page)
    }


def test_unit_page_shows_every_measure_as_the_view_has_it(client, demo, db):
    page = client.get(f"/runs/{demo.run_id}/unit/fc1.0")
    assert page.status_code == 200
    shown = _measure_cells(page.text)
    row = db.unit_measures(run=demo.run_id, unit_label="fc1.0").row(0, named=True)
    assert set(shown) == {m.name for m in catalogue.values()}
    for m in catalogue.values():
        value = row[m.name]
        assert shown[m.name] == ("" if value is None else str(value)), m.name
        assert m.doc.split(": ")[0].split(" (")[0] in html.unescape(page.text), m.name
    classes = db.unit_class_stats(run=demo.run_id, unit_label="fc1.0").sort("mean", descending=True)
    first_rows = re.findall(r'<tr class="(?:chosen)?"><th>([^<]*)</th>', page.text)
    assert first_rows == classes["class"].to_list()[: len(first_rows)] and len(first_rows) == len(CLASSES)


def test_unit_page_shows_intervals_labels_and_ratings_where_present(client, demo, db, tmp_path):
    from test_import_netdissect import TALLY, write_tally

    from seldb.serve.formatting import num

    db.uncertainty(demo.run_id, ["fc1"], bootstrap=20, permutations=20, seed=1, progress=False)
    db.import_netdissect(write_tally(tmp_path / "tally.csv", TALLY[:2]), demo.run_id, "conv1")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("unit,rater,judged_object,label\nfc1.2,Marie,yes,Two\nfc1.2,Pierre,no,\n")
    db.import_ratings(ratings, demo.run_id)
    try:
        page = html.unescape(client.get(f"/runs/{demo.run_id}/unit/fc1.2").text)
        interval = db.unit_measure_intervals(run=demo.run_id, unit_label="fc1.2", measure="precision_60").row(
            0, named=True
        )
        assert f"[{num(interval['lo'])}, {num(interval['hi'])}]" in page
        chance = db.unit_measure_chance(run=demo.run_id, unit_label="fc1.2", measure="precision_60")["q"][0]
        assert f">{num(chance)}<" in page
        assert re.search(r"<td>Marie</td><td>yes</td><td>Two</td>", page) and "<td>Pierre</td><td>no</td>" in page
        labelled = html.unescape(client.get(f"/runs/{demo.run_id}/unit/conv1.0").text)
        assert "Network Dissection labels it <strong>R4_Bus</strong> (object, IoU 0.2031" in labelled
    finally:
        db.execute(
            f"DELETE FROM seldb_store.am_ratings WHERE run_id = {demo.run_id} AND rater IN ('Marie', 'Pierre');"
            f" DELETE FROM seldb_store.netdissect WHERE run_id = {demo.run_id}",
            write=True,
        )


def test_thumbnails_are_the_top_images_and_am_images_the_stored_files(client, demo, db):
    top = db.unit_top_images(run=demo.run_id, unit_label="fc1.3").sort("rank")
    got = client.get(f"/runs/{demo.run_id}/thumb/1/fc1.3")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    source = Image.open(demo.root / top["image_path"][0]).convert("RGB")
    source.thumbnail((112, 112))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(got.content))), np.asarray(source))
    assert client.get(f"/runs/{demo.run_id}/thumb/101/fc1.3").status_code == 404
    sha = hashlib.sha256(demo.am_pngs["fc1.2"].read_bytes()).hexdigest()
    page = client.get(f"/runs/{demo.run_id}/unit/fc1.2").text
    assert f"/runs/{demo.run_id}/am/{sha}/fc1.2" in page
    image = client.get(f"/runs/{demo.run_id}/am/{sha}/fc1.2")
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(image.content))), np.asarray(Image.open(demo.am_pngs["fc1.2"]).convert("RGB"))
    )
    assert client.get(f"/runs/{demo.run_id}/am/{sha}/fc1.3").status_code == 404  # another unit's image


def test_plot_is_drawn_once_from_the_file_then_from_the_histograms(client, demo, tmp_path):
    panel = client.get(f"/runs/{demo.run_id}/plot-panel/fc1.5?class=five")
    assert panel.status_code == 200 and "exact activations of the 240 analysed images" in panel.text
    png = client.get(f"/runs/{demo.run_id}/plot/fc1.5?class=five")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    cached = sorted((tmp_path / "cache" / f"run{demo.run_id}").glob("unit-*.png"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert client.get(f"/runs/{demo.run_id}/plot/fc1.5?class=five").content == png.content
    assert cached[0].stat().st_mtime_ns == stamp  # not drawn again
    moved = tmp_path / "away.h5"
    shutil.move(demo.h5, moved)
    try:
        panel = client.get(f"/runs/{demo.run_id}/plot-panel/fc1.5?class=five")
        assert "quantised" in panel.text
        assert len(list((tmp_path / "cache" / f"run{demo.run_id}").glob("unit-*.png"))) == 2
    finally:
        shutil.move(moved, demo.h5)
    assert client.get(f"/runs/{demo.run_id}/plot/fc1.5?class=nine-and-a-half").status_code == 400


def test_layer_page_summary_correlations_and_box_plot(client, demo, db):
    page = client.get(f"/runs/{demo.run_id}/layer/fc1?measure=ccmas")
    assert page.status_code == 200
    summary = db.layer_summary(run=demo.run_id, layer="fc1")
    for measure, median in zip(summary["measure"], summary["median"]):
        cells = re.search(rf'<tr data-measure="{measure}">.*?</tr>', page.text, re.S).group(0)
        from seldb.serve.formatting import num

        assert f">{num(median)}<" in cells, measure
    assert 'id="correlations"' in page.text
    plot = client.get(f"/runs/{demo.run_id}/boxplot?measure=ccmas")
    assert plot.status_code == 200 and plot.content[:4] == b"\x89PNG"
    assert client.get(f"/runs/{demo.run_id}/boxplot?measure=unit_key").status_code == 400


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path, status, reason",
    [
        ("/runs/{run}/units?filter=precision_60+%3E", 400, "is not &lt;column&gt; &lt;operator&gt; &lt;value&gt;"),
        ("/runs/{run}/units?filter=precision_60+%3E+0.5+or+ccmas+%3C+1", 400, "only &#39;and&#39; joins"),
        ("/runs/{run}/units?sort=pwned", 400, "cannot sort by"),
        ("/runs/{run}/units?page=-1", 400, "page must be a whole number"),
        ("/runs/{run}/unit/fc1.0?class=nope", 400, "not a class of this run"),
        ("/runs/{run}/unit/fc1.0?debug=1", 400, "unknown parameter"),
        ("/runs/{run}/layer/fc1?dead=maybe", 400, "dead is 0"),
        ("/runs/compare?a=1", 400, "b must be a run id"),
        ("/runs/987654/units", 404, "no run 987654"),
        ("/runs/99999999999999999999999/unit/fc1.0", 404, "no run"),
        ("/runs/{run}/unit/fc1.16", 404, "no unit"),
        ("/runs/{run}/unit/fc9.0", 404, "no unit"),
        ("/runs/{run}/unit/banana", 404, "not a unit label"),
        ("/runs/{run}/layer/fc9", 404, "no layer"),
        ("/rate/no-such-study", 404, "no rating study"),
        ("/nowhere", 404, "no such page"),
    ],
)
def test_bad_input_is_a_page_with_the_reason(client, demo, path, status, reason):
    page = client.get(path.format(run=demo.run_id))
    assert page.status_code == status and reason.lower() in page.text.lower()
    assert 'class="error"' in page.text
    assert client.get("/runs").status_code == 200  # and the server goes on


def test_a_crash_is_a_500_page_and_the_server_goes_on(client, monkeypatch):
    from seldb.serve.pages import runs as pages_runs

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pages_runs, "rows", broken)
    page = client.get("/runs")
    assert page.status_code == 500 and "Internal error" in page.text and "a bug" not in page.text
    monkeypatch.undo()
    assert client.get("/runs").status_code == 200


def test_an_unreachable_database_is_a_503_page(tmp_path):
    from starlette.testclient import TestClient

    import seldb
    from seldb.serve import create_app

    with seldb.connect("postgresql://nobody@127.0.0.1:1/none") as db:
        with TestClient(create_app(db, cache_dir=tmp_path), base_url=BASE, raise_server_exceptions=False) as c:
            page = c.get("/runs")
    assert page.status_code == 503 and "cannot connect" in page.text


# --------------------------------------------------------------------------- safety


def test_pages_read_in_read_only_transactions(db):
    from seldb.errors import SeldbError
    from seldb.serve.reading import reading

    with pytest.raises(SeldbError, match="read-only"):
        with reading(db) as conn:
            conn.exec_driver_sql("CREATE TABLE seldb_store.should_not_exist (x int)")


def test_foreign_host_headers_are_refused(app, demo, db, tmp_path):
    from starlette.testclient import TestClient

    from seldb.serve import create_app

    with TestClient(app, base_url="http://rebound.example:8765") as c:
        assert c.get("/runs").status_code == 400
    with TestClient(create_app(db, "0.0.0.0", tmp_path), base_url="http://lab-machine:8765") as c:
        assert c.get("/runs").status_code == 200


def test_headers_forbid_framing_and_inline_script(client):
    page = client.get("/runs")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script(?![^>]*\ssrc=\"/static/)", page.text)  # no inline script at all


def test_every_value_is_escaped(db, tmp_path, demo):
    """A run whose model, layer and class names are HTML: every page shows them as text."""
    from starlette.testclient import TestClient

    from seldb.h5.reader import write_activation_file
    from seldb.load.options import ImportOptions
    from seldb.serve import create_app

    evil = '<script>alert("x")</script>'
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 30)
    layer = 'fc"<b>'
    path = write_activation_file(
        tmp_path / "evil.h5",
        class_names=[evil, "b&c", "<img src=x onerror=alert(1)>"],
        labels=labels,
        layers={layer: rng.random((90, 3)).astype(np.float32)},
        model=evil,
        dataset="<i>d</i>",
    )
    run_id = db.import_h5(path, ImportOptions(on_duplicate="new"), progress=False).run_id
    try:
        with TestClient(create_app(db, cache_dir=tmp_path / "c"), base_url=BASE) as c:
            from seldb.serve.formatting import layer_url, unit_url

            pages = [
                c.get(p)
                for p in (
                    "/runs",
                    f"/runs/{run_id}",
                    f"/runs/{run_id}/units",
                    unit_url(run_id, f"{layer}.0"),
                    layer_url(run_id, layer),
                    f"/runs/{run_id}/units.sql?layer={layer}",
                )
            ]
        for page in pages:
            assert page.status_code == 200, page.url
            assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>" not in page.text
            assert "<i>d</i>" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0].text
        assert "fc&#34;&lt;b&gt;.0" in pages[3].text
    finally:
        db.delete_run(run_id)


# --------------------------------------------------------------------------- rating


def _token(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def _ratings(run_id: int, rater: str) -> list[dict]:
    return rows(
        "SELECT unit_label, judged_object, label, label_key FROM seldb.am_ratings"
        " WHERE run_id = :r AND rater = :who ORDER BY unit_label",
        r=run_id,
        who=rater,
    )


def _begin(client, name: str) -> str:
    start = client.get(f"/rate/{STUDY}")
    moved = client.post(f"/rate/{STUDY}/start", data={"csrf": _token(start.text), "rater": name})
    assert moved.status_code == 303
    return client.get(f"/rate/{STUDY}").headers["location"]


def test_rating_asks_items_in_order_records_answers_and_resumes(client, demo):
    items = rows("SELECT item, unit_label FROM seldb.rating_study_items WHERE study = :s ORDER BY position", s=STUDY)
    assert _begin(client, "  Grace ") == f"/rate/{STUDY}/item/{items[0]['item']}"
    page = client.get(f"/rate/{STUDY}/item/{items[0]['item']}")
    for secret in ("fc1", "conv1", *CLASSES, str(demo.root), "demo-like"):
        assert secret not in page.text, secret
    token = _token(page.text)
    answer = client.post(
        f"/rate/{STUDY}/item/{items[0]['item']}",
        data={"csrf": token, "judged_object": "yes", "label": "  Tench   Fish "},
    )
    assert answer.status_code == 303
    assert client.get(f"/rate/{STUDY}").headers["location"].endswith(f"/item/{items[1]['item']}")
    client.post(f"/rate/{STUDY}/item/{items[1]['item']}", data={"csrf": token, "judged_object": "no", "label": "cat"})
    assert _ratings(demo.run_id, "Grace") == sorted(
        [
            {
                "unit_label": items[0]["unit_label"],
                "judged_object": True,
                "label": "Tench Fish",
                "label_key": "tench fish",
            },
            {"unit_label": items[1]["unit_label"], "judged_object": False, "label": None, "label_key": None},
        ],
        key=lambda r: r["unit_label"],
    )
    stopped = client.post(f"/rate/{STUDY}/stop", data={"csrf": token})
    assert stopped.status_code == 200 and "seldb_rater=" in stopped.headers["set-cookie"]
    assert "Begin" in client.get(f"/rate/{STUDY}").text  # the name is forgotten here ...
    assert _begin(client, "Grace").endswith(f"/item/{items[2]['item']}")  # ... and the same name resumes
    client.post(f"/rate/{STUDY}/item/{items[0]['item']}", data={"csrf": token, "judged_object": "no"})
    assert len(_ratings(demo.run_id, "Grace")) == 2  # a changed answer replaces the earlier one
    progress = rows(
        "SELECT n_items, n_answered, complete FROM seldb.rating_study_progress WHERE study = :s AND rater = 'Grace'",
        s=STUDY,
    )
    assert progress == [{"n_items": len(AM_UNITS), "n_answered": 2, "complete": False}]


def test_refused_answers_write_nothing(client, demo, app):
    from starlette.testclient import TestClient

    item = rows("SELECT item FROM seldb.rating_study_items WHERE study = :s ORDER BY position", s=STUDY)[0]["item"]
    _begin(client, "Linus")
    token = _token(client.get(f"/rate/{STUDY}/item/{item}").text)
    no_token = client.post(f"/rate/{STUDY}/item/{item}", data={"judged_object": "yes", "label": "dog"})
    assert no_token.status_code == 403
    outside = client.post(f"/rate/{STUDY}/item/99", data={"csrf": token, "judged_object": "yes"})
    assert outside.status_code == 404 and "not in study" in outside.text
    unanswered = client.post(f"/rate/{STUDY}/item/{item}", data={"csrf": token, "label": "dog"})
    assert unanswered.status_code == 400 and "yes or no" in unanswered.text
    with TestClient(app, base_url=BASE) as stranger:  # another browser, this browser's token
        stranger.cookies.set("seldb_rater", "Linus")
        refused = stranger.post(f"/rate/{STUDY}/item/{item}", data={"csrf": token, "judged_object": "yes"})
        assert refused.status_code == 403
    assert _ratings(demo.run_id, "Linus") == []


def test_rating_images_are_the_sheets_blinded_pixels(client, demo):
    import json

    key = json.loads((demo.sheet_dir / "key.json").read_text())
    _begin(client, "Ada")
    for entry in key["items"]:
        got = client.get(f"/rate/{STUDY}/image/{entry['item']}/1")
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == entry["sha256"][0]
        assert b"tEXt" not in got.content and b"iTXt" not in got.content
    assert client.get(f"/rate/{STUDY}/image/{key['items'][0]['item']}/2").status_code == 404


def test_rating_only_serves_the_studies_alone(demo, db, tmp_path):
    from starlette.testclient import TestClient

    from seldb.serve import create_app

    with TestClient(create_app(db, cache_dir=tmp_path, rating_only=True), base_url=BASE, follow_redirects=False) as c:
        assert c.get("/").headers["location"] == "/rate"
        assert c.get(f"/runs/{demo.run_id}/units").status_code == 404
        assert c.get(f"/rate/{STUDY}").status_code == 200
        assert "Runs" not in c.get("/rate").text


def test_studies_view_counts_the_study(demo):
    study = rows("SELECT * FROM seldb.rating_studies WHERE study = :s", s=STUDY)[0]
    assert study["run_id"] == demo.run_id and study["n_items"] == len(AM_UNITS)
    items = pl.DataFrame(
        rows(
            "SELECT item, position, unit_label, n_images FROM seldb.rating_study_items"
            " WHERE study = :s ORDER BY position",
            s=STUDY,
        )
    )
    assert sorted(items["unit_label"].to_list()) == sorted(AM_UNITS) and items["position"].to_list() == [1, 2, 3, 4]


def test_compare_page_shows_the_compare_report_for_chosen_layers(client, demo, db):
    """The criteria table, the verdict counts and the verdict are the report's (seldb report compare)."""
    from seldb.load.options import ImportOptions

    other = db.import_h5(demo.h5, ImportOptions(on_duplicate="new", bins=20), progress=False).run_id
    try:
        page = client.get(f"/runs/compare?a={demo.run_id}&b={other}&la=fc1&lb=conv1")
        assert page.status_code == 200, page.text
        report = db.reports.compare([demo.run_id, other], ["fc1", "conv1"])
        shown_verdict = re.search(r'<p id="compare-verdict">(.*?)</p>', page.text, re.S)
        assert shown_verdict and html.unescape(shown_verdict.group(1)) == report.notes[2]
        table = page.text.split('id="compare-verdicts"')[1].split("</table>")[0]
        shown = re.findall(r"<tr><th>([a-z ]+)</th><td class=\"n\">(\d+)</td>", table)
        expected = [(r["verdict"], str(r["n_units_a"])) for r in report.section("verdicts").frame.iter_rows(named=True)]
        assert shown == expected
        assert client.get(f"/runs/compare?a={demo.run_id}&b={other}&la=fc1").status_code == 400
        assert client.get(f"/runs/compare?a={demo.run_id}&b={other}&la=nope&lb=fc1").status_code in (400, 404)
    finally:
        db.delete_run(other)
