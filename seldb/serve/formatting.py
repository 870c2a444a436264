"""How values look on the pages, and the URLs of runs, units and layers.

Numbers get four significant digits (a measure's third decimal rarely
matters, its order of magnitude always does); NULL is a dash. Unit and layer
names are percent-encoded into URLs whatever they hold (a layer name comes
from an activation file and may contain anything); Jinja's autoescaping
then escapes every value written into the HTML.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from urllib.parse import quote, urlencode

import jinja2

NULL = "\u2014"  # em dash


def num(value) -> str:
    """A value for a table cell."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value == 0:
            return "0"
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


# a sentence ends at a full stop before a capital, not after an abbreviation ("et al.", "e.g.")
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)\.\s+(?=[A-Z])")


def first_sentence(text: str | None) -> str:
    """The first sentence of a catalogue doc: the one-line explanation of a measure."""
    if not text:
        return ""
    match = _SENTENCE_END.search(text)
    return text[: match.start() + 1] if match else text


def as_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def path_part(name: str) -> str:
    return quote(str(name), safe="")


def run_url(run_id: int) -> str:
    return f"/runs/{int(run_id)}"


def unit_url(run_id: int, label: str, **query) -> str:
    return f"/runs/{int(run_id)}/unit/{path_part(label)}" + _query(query)


def layer_url(run_id: int, layer: str, **query) -> str:
    return f"/runs/{int(run_id)}/layer/{path_part(layer)}" + _query(query)


def units_url(run_id: int, **query) -> str:
    return f"/runs/{int(run_id)}/units" + _query(query)


def _query(query: dict) -> str:
    pairs = {k: v for k, v in query.items() if v is not None and v != ""}
    return "?" + urlencode(pairs, doseq=True) if pairs else ""


def install(env: jinja2.Environment) -> None:
    env.filters.update(num=num, first_sentence=first_sentence, as_json=as_json, path_part=path_part)
    env.globals.update(run_url=run_url, unit_url=unit_url, layer_url=layer_url, units_url=units_url, NULL=NULL)
