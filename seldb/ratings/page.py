"""The rating page's HTML, CSS and script: one self-contained file a rater opens offline.

Kept apart from the code that fills it so the page can be read as a page.
The script has one pure function, `toCsv`, which the tests run under Node;
everything touching the document is behind `typeof document`. Answers are
kept in the browser's localStorage under the sheet id, so closing the tab
loses nothing, and leave the page only as the CSV the rater downloads.
Questions are the paper's (Gale et al., Appendix A, Figure A1).
"""

from __future__ import annotations

from html import escape
from string import Template

QUESTION_OBJECT = "Can you identify multiple examples of an everyday object, place or animal?"
QUESTION_LABEL = "Please write which everyday object, place or animal you were referring to:"
LABEL_HINT = "a simple, general name"  # no example: an example names a class and primes raters

PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 1em auto; padding: 0 1em; color: #222; }
.item { border-top: 1px solid #bbb; padding: 1em 0; }
.panel { display: flex; flex-wrap: wrap; gap: 4px; }
.panel img { width: ${thumb}px; height: ${thumb}px; image-rendering: pixelated; border: 1px solid #ddd; }
.question { margin: .5em 0; }
input[type=text] { width: 24em; }
#status { font-weight: bold; }
.unanswered { background: #fff4d6; }
</style></head>
<body>
<h1>$title</h1>
<p>Each numbered panel shows images made by a computer program. For each panel answer the first question;
if you answer yes, write what you see. There are no right answers. Your answers are saved in this browser
as you go; when you have finished press <b>Download answers</b> and send the CSV file you get.</p>
<p><label>Your name or rater code: <input type="text" id="rater" autocomplete="off"></label></p>
$items
<p><button id="download">Download answers</button> <span id="status"></span></p>
<script>
"use strict";
var SHEET = "$sheet";
var ITEMS = $item_ids;

function csvField(value) {
  var text = value === null || value === undefined ? "" : String(value);
  return /[",\\r\\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

// answers: {item: {judged: "yes" | "no" | "", label: string}}; unanswered items are left out
function toCsv(sheet, rater, items, answers) {
  var lines = ["sheet,item,rater,judged_object,label"];
  items.forEach(function (item) {
    var a = answers[item];
    if (!a || (a.judged !== "yes" && a.judged !== "no")) { return; }
    var label = a.judged === "yes" ? (a.label || "").trim() : "";
    lines.push([sheet, item, rater.trim(), a.judged, label].map(csvField).join(","));
  });
  return lines.join("\\r\\n") + "\\r\\n";
}

if (typeof module !== "undefined") { module.exports = { toCsv: toCsv }; }

if (typeof document !== "undefined") {
  var store = "seldb-am-sheet-" + SHEET;
  var read = function () {
    var answers = {};
    ITEMS.forEach(function (item) {
      var checked = document.querySelector('input[name="judged-' + item + '"]:checked');
      answers[item] = { judged: checked ? checked.value : "", label: document.getElementById("label-" + item).value };
    });
    return answers;
  };
  var save = function () {
    var state = { rater: document.getElementById("rater").value, answers: read() };
    try { localStorage.setItem(store, JSON.stringify(state)); }
    catch (e) { /* private browsing: answers live only in the page */ }
  };
  var restore = function () {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(store) || "null"); } catch (e) { saved = null; }
    if (!saved) { return; }
    document.getElementById("rater").value = saved.rater || "";
    ITEMS.forEach(function (item) {
      var a = (saved.answers || {})[item];
      if (!a) { return; }
      var box = document.querySelector('input[name="judged-' + item + '"][value="' + a.judged + '"]');
      if (box) { box.checked = true; }
      document.getElementById("label-" + item).value = a.label || "";
    });
  };
  var download = function () {
    var rater = document.getElementById("rater").value.trim();
    var status = document.getElementById("status");
    if (!rater) { status.textContent = "Please enter your name or rater code first."; return; }
    var answers = read();
    var open = ITEMS.filter(function (item) { return answers[item].judged === ""; });
    ITEMS.forEach(function (item) {
      document.getElementById("item-" + item).classList.toggle("unanswered", answers[item].judged === "");
    });
    var question = open.length + " of " + ITEMS.length + " panels are unanswered (highlighted). Download anyway?";
    if (open.length && !window.confirm(question)) { return; }
    var blob = new Blob([toCsv(SHEET, rater, ITEMS, answers)], { type: "text/csv" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "answers-" + SHEET + "-" + rater.replace(/[^A-Za-z0-9_-]+/g, "_") + ".csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    status.textContent = "Downloaded answers to " + (ITEMS.length - open.length) + " of " + ITEMS.length + " panels.";
  };
  restore();
  document.body.addEventListener("input", save);
  document.getElementById("download").addEventListener("click", download);
}
</script>
</body></html>
""")

ITEM = Template("""<div class="item" id="item-$item">
<h2>Panel $number of $total</h2>
<div class="panel">$images</div>
<p class="question">$question
<label><input type="radio" name="judged-$item" value="yes"> yes</label>
<label><input type="radio" name="judged-$item" value="no"> no</label></p>
<p class="question"><label>$label_question <input type="text" id="label-$item" placeholder="$hint"></label></p>
</div>""")


def render_item(item: str, number: int, total: int, images_base64: list[str]) -> str:
    images = "".join(
        f'<img alt="panel {number} image {i + 1}" src="data:image/png;base64,{data}">'
        for i, data in enumerate(images_base64)
    )
    return ITEM.substitute(
        item=escape(item),
        number=number,
        total=total,
        images=images,
        question=escape(QUESTION_OBJECT),
        label_question=escape(QUESTION_LABEL),
        hint=escape(LABEL_HINT),
    )


def render_page(title: str, sheet: str, item_ids: list[str], items_html: list[str], thumb: int) -> str:
    import json

    return PAGE.substitute(
        title=escape(title),
        sheet=escape(sheet),
        item_ids=json.dumps(item_ids),
        items="\n".join(items_html),
        thumb=thumb,
    )
