"""The natural-AM contact sheet and the blinded rating sheet, down to what seldb.ratings reads."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from seldb.am.contact_sheet import captioned_grid, write_contact_sheet
from seldb.errors import InputError
from seldb.ratings.import_csv import read_ratings
from seldb.ratings.sheet import SheetItem, ratings_from_answers, read_key, write_rating_sheet, write_ratings_csv

pytestmark = pytest.mark.unit
UNITS = ["fc8.12", "fc8.7", "conv5.183", "fc6.1199", "conv5.65", "fc6.319", "fc8.969", "fc8.865"]
CLASSES = ["goldfish", "monarch butterfly", "flat-coated retriever", "eggnog"]


def _solid(path, colour, size=(20, 20), text: dict | None = None):
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    Image.new("RGB", size, colour).save(path, pnginfo=info)
    return path


@pytest.fixture
def am_pngs(tmp_path):
    """One PNG per unit, named after the unit and carrying it in a PNG text chunk, as careless tools do."""
    rng = np.random.default_rng(11)
    paths = {}
    for unit in UNITS:
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        paths[unit] = _solid(tmp_path / f"{unit}.png", colour, text={"unit": unit, "class": CLASSES[0]})
    return paths


def _page_images(html: str) -> dict[str, list[tuple]]:
    """{item id: [the colour of each image]} decoded from the page itself."""
    found = {}
    for item, block in re.findall(r'<div class="item" id="item-(\w+)">(.*?)</div>\s*<p class="question">', html, re.S):
        found[item] = [
            Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB").getpixel((0, 0))
            for b in re.findall(r"base64,([A-Za-z0-9+/=]+)", block)
        ]
    return found


def test_page_is_blinded_and_self_contained(tmp_path, am_pngs):
    sheet = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "sheet", seed=3)
    html = sheet.html.read_text(encoding="utf-8")
    for secret in UNITS + CLASSES + ["fc8", "conv5", "fc6", str(tmp_path), '.png"']:
        assert secret.lower() not in html.lower(), secret
    assert not re.search(r"(src|href)\s*=\s*[\"'](?!data:)", html), "every resource must be inline"
    assert "http" not in html and "<link" not in html and "@import" not in html
    for block in re.findall(r"base64,([A-Za-z0-9+/=]+)", html):
        assert b"tEXt" not in base64.b64decode(block) and b"iTXt" not in base64.b64decode(block)
    assert sheet.n_items == len(UNITS) and sheet.seed == 3


def test_key_maps_each_page_item_to_its_unit(tmp_path, am_pngs):
    sheet = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "sheet", seed=3)
    sheet_id, units = read_key(sheet.key)
    assert sheet_id == sheet.sheet_id and sorted(units.values()) == sorted(UNITS)
    shown = _page_images(sheet.html.read_text(encoding="utf-8"))
    assert list(shown) == list(units)  # page order is item order
    for item, colours in shown.items():
        assert colours == [Image.open(am_pngs[units[item]]).getpixel((0, 0))]
    assert json.loads(sheet.key.read_text())["seed"] == 3


def test_order_follows_the_seed_not_the_input_order(tmp_path, am_pngs):
    pairs = [(u, p) for u, p in am_pngs.items()]
    a = write_rating_sheet(pairs, tmp_path / "a", seed=3)
    b = write_rating_sheet(pairs[::-1], tmp_path / "b", seed=3)
    c = write_rating_sheet(pairs, tmp_path / "c", seed=4)
    assert a.html.read_bytes() == b.html.read_bytes() and read_key(a.key) == read_key(b.key)
    assert list(read_key(a.key)[1].values()) != list(read_key(c.key)[1].values())
    assert list(read_key(a.key)[1].values()) != sorted(UNITS)  # shuffled (8! orders; this seed is not sorted)


def test_a_panel_holds_several_images_per_unit(tmp_path):
    red, blue = _solid(tmp_path / "r.png", (255, 0, 0)), _solid(tmp_path / "b.png", (0, 0, 255))
    sheet = write_rating_sheet([SheetItem("fc8.1", (red, blue)), ("fc8.2", red)], tmp_path / "s", seed=0)
    shown = _page_images(sheet.html.read_text(encoding="utf-8"))
    units = read_key(sheet.key)[1]
    assert {units[i]: c for i, c in shown.items()} == {"fc8.1": [(255, 0, 0), (0, 0, 255)], "fc8.2": [(255, 0, 0)]}


def _answers(path, sheet_id, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sheet", "item", "rater", "judged_object", "label"])
        writer.writerows([sheet_id, *row] for row in rows)
    return path


def test_answers_and_key_become_a_ratings_csv_that_seldb_reads(tmp_path, am_pngs):
    sheet = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "s", seed=5)
    units = read_key(sheet.key)[1]
    items = list(units)
    ann_rows = [
        (items[0], "ann", "yes", "fish, maybe"),
        (items[1], "ann", "no", ""),
        (items[2], "ann", "yes", 'a "dog"'),
    ]
    ann = _answers(tmp_path / "ann.csv", sheet.sheet_id, ann_rows)
    bob = _answers(tmp_path / "bob.csv", sheet.sheet_id, [(items[0], "bob", "yes", "Fish")])
    out = write_ratings_csv([ann, bob], sheet.key, tmp_path / "ratings.csv")
    got = [(r.layer, r.unit, r.rater, r.judged_object, r.label) for r in read_ratings(out)]

    def split(label):
        layer, unit = label.rsplit(".", 1)
        return layer, int(unit)

    assert got == [
        (*split(units[items[0]]), "ann", True, "fish, maybe"),
        (*split(units[items[1]]), "ann", False, None),
        (*split(units[items[2]]), "ann", True, 'a "dog"'),
        (*split(units[items[0]]), "bob", True, "Fish"),
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's script")
def test_the_pages_own_csv_download_round_trips(tmp_path, am_pngs):
    sheet = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "s", seed=5)
    script = re.search(r"<script>(.*)</script>", sheet.html.read_text(encoding="utf-8"), re.S).group(1)
    (tmp_path / "page.js").write_text(script)
    items = list(read_key(sheet.key)[1])
    answers = {
        items[0]: {"judged": "yes", "label": ' comma, "quote"\nline '},
        items[1]: {"judged": "no", "label": "ignored"},
        items[2]: {"judged": "", "label": "unanswered"},
    }
    harness = (
        f"const page = require({json.dumps(str(tmp_path / 'page.js'))});"
        f"process.stdout.write(page.toCsv({json.dumps(sheet.sheet_id)}, ' ann ', {json.dumps(items)},"
        f" {json.dumps(answers)}));"
    )
    csv_text = subprocess.run(["node", "-e", harness], capture_output=True, text=True, check=True).stdout
    (tmp_path / "download.csv").write_text(csv_text, newline="")
    rows = ratings_from_answers(tmp_path / "download.csv", sheet.key)
    units = read_key(sheet.key)[1]
    assert rows == [
        {"unit": units[items[0]], "rater": "ann", "judged_object": "yes", "label": 'comma, "quote"\nline'},
        {"unit": units[items[1]], "rater": "ann", "judged_object": "no", "label": ""},
    ]


def test_answers_that_do_not_fit_the_key_are_one_line_errors(tmp_path, am_pngs):
    sheet = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "s", seed=5)
    other = write_rating_sheet([(u, p) for u, p in am_pngs.items()], tmp_path / "o", seed=6)
    cases = [
        (_answers(tmp_path / "a.csv", other.sheet_id, [("1", "ann", "yes", "x")]), "answers for sheet"),
        (_answers(tmp_path / "b.csv", sheet.sheet_id, [("99", "ann", "yes", "x")]), "item '99' is not on sheet"),
    ]
    (tmp_path / "c.csv").write_text("item,rater\n1,ann\n")
    cases.append((tmp_path / "c.csv", "no column sheet, judged_object, label"))
    for path, message in cases:
        with pytest.raises(InputError, match=re.escape(message)) as error:
            ratings_from_answers(path, sheet.key)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="appear twice"):
        write_rating_sheet([("fc8.1", am_pngs["fc8.7"]), ("fc8.1", am_pngs["fc8.12"])], tmp_path / "d", seed=0)
    with pytest.raises(InputError, match="not a rating-sheet key"):
        read_key(am_pngs["fc8.7"])


def test_contact_sheet_places_images_in_rank_order_with_captions(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    paths = [_solid(tmp_path / f"{i}.png", c, size=(40, 30)) for i, c in enumerate(colours)]
    result = write_contact_sheet(
        paths, CLASSES + ["tench"], [9.5, 8.0, 7.25, 3.0, 1.0], tmp_path / "out" / "sheet.png", columns=2, tile=64
    )
    assert result.path.is_file() and result.missing == [] and result.note is None
    sheet = np.asarray(Image.open(result.path).convert("RGB"))
    gap, font = 6, max(9, 64 // 11)
    cell_h = 64 + 2 * int(font * 1.25) + gap
    for i, colour in enumerate(colours):
        x, y = gap + (i % 2) * (64 + gap) + 32, gap + (i // 2) * cell_h + 32  # the tile's centre
        assert tuple(sheet[y, x]) == colour
    caption = sheet[gap + 64 : gap + cell_h - gap, gap : gap + 64]
    assert (caption < 128).any()  # some text was drawn under the first tile


def test_contact_sheet_notes_unreachable_images(tmp_path):
    real = _solid(tmp_path / "real.png", (255, 0, 0))
    gone = tmp_path / "mnt" / "imagenet" / "n01443537_1.JPEG"
    result = write_contact_sheet([real, gone], ["a", "b"], [2.0, 1.0], tmp_path / "sheet.png")
    assert result.path.is_file() and result.missing == [str(gone)]
    assert result.note.startswith("1 of 2 top images are not reachable from here (first: ")
    none = write_contact_sheet([gone, None], ["a", "b"], [2.0, 1.0], tmp_path / "none.png")
    assert none.path is None and not (tmp_path / "none.png").exists()
    assert none.note.startswith("2 of 2 top images are all not reachable")
    with pytest.raises(InputError, match="as many classes and activations as images"):
        write_contact_sheet([real], ["a", "b"], [1.0], tmp_path / "x.png")


def test_captioned_grid_size():
    grid = captioned_grid(
        [np.zeros((28, 28, 3), np.uint8)] * 5, [["a"], ["b"], ["c"], ["d"], ["e"]], tile=56, columns=3, title="t"
    )
    line = int(max(9, 56 // 11) * 1.25)
    assert grid.size == (3 * (56 + 6) + 6, (line + 6) + 2 * (56 + line + 6) + 6)
