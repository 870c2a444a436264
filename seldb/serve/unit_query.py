"""The units table's query: its parameters checked, turned into one parameterised SELECT on the views.

The browser never sends SQL. It sends a layer, a sort column, a page and a
filter written like `precision_60 > 0.75 and recall_p1 < 0.1`; this module
parses them against the catalogue's column names (nothing else can reach the
SQL text: values travel as bound parameters) and answers a malformed one
with an InputError whose message the page shows (HTTP 400). The same query
can be shown as plain SQL against the views, values written in, for a user
to run in `seldb sql` or a BI tool; the app itself never executes that text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from seldb import catalogue
from seldb.errors import InputError, did_you_mean

# what the table shows, in order: (column, heading)
SHOWN = (
    ("unit_label", "unit"),
    ("precision_60", "precision 60"),
    ("precision_60_class", "its class"),
    ("ccmas", "CCMAS"),
    ("ccmas_class", "its class"),
    ("localist_margin", "localist margin"),
    ("recall_p1", "recall at p=1"),
    ("max_informedness", "max informedness"),
    ("mi_class", "its class"),
    ("mi_false_discovery_rate", "FDR at MI"),
    ("is_dead", "dead"),
)
MEASURES = {m.name: m for m in catalogue.UNIT_MEASURES}
SORTABLE = ("unit_label", "layer", "unit", *MEASURES)
PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_PER = 50
MAX_PAGE = 1_000_000
MAX_FILTER = 1000
MAX_CONDITIONS = 20
PARAMETERS = ("layer", "filter", "sort", "order", "page", "per")
OPERATORS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "==": "=", "!=": "<>", "<>": "<>"}
NETWORK_ORDER = "l.layer_index, m.unit"

_TOKEN = re.compile(
    r"""\s*(?:(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
                       |(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|!=|<>|==|[<>=])|(?P<comma>,)
                       |(?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*"))""",
    re.X,
)


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # SQL: < <= > >= = <> IS NULL / IS NOT NULL
    value: Any = None  # float, bool or str; None for IS [NOT] NULL


@dataclass(frozen=True)
class UnitQuery:
    layers: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    filter_text: str = ""
    sort: str = "precision_60"
    descending: bool = True
    page: int = 1
    per: int = DEFAULT_PER

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per


def _kind(column: str) -> str:
    m = MEASURES[column]
    return {"float8": "number", "int4": "number", "bool": "bool", "class": "text"}[m.type]


def tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of a filter; InputError naming what could not be read."""
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if not text[at:].strip():
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise InputError(
                f"filter: cannot read {text[at:].strip()[:30]!r} (write e.g. precision_60 > 0.75 and recall_p1 < 0.1)"
            )
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def _value(column: str, kind: str, text: str) -> Any:
    expected = _kind(column)
    if expected == "number":
        value = float(text) if kind == "number" else None
        if value is None or not math.isfinite(value):
            raise InputError(f"filter: {column} is a number; {text!r} is not one")
        return value
    if expected == "bool":
        if kind != "word" or text.lower() not in ("true", "false"):
            raise InputError(f"filter: {column} is true or false, not {text!r}")
        return text.lower() == "true"
    if kind != "string":
        raise InputError(f"filter: {column} is a class name; quote it, e.g. {column} = 'tench'")
    return text[1:-1].replace(text[0] * 2, text[0])


def _condition(parts: list[tuple[str, str]]) -> Condition:
    shown = " ".join(text for _, text in parts)
    if not parts or parts[0][0] != "word":
        raise InputError(f"filter: {shown!r} should start with a column name, e.g. precision_60 > 0.75")
    column = parts[0][1]
    if column not in MEASURES:
        raise InputError(f"filter: unknown column {column!r}{did_you_mean(column, list(MEASURES))}")
    words = [text.lower() for _, text in parts[1:]]
    if words in (["is", "null"], ["is", "not", "null"]):
        return Condition(column, "IS NULL" if len(words) == 2 else "IS NOT NULL")
    if len(parts) != 3 or parts[1][0] != "op":
        raise InputError(f"filter: {shown!r} is not <column> <operator> <value> (operators: < <= > >= = !=)")
    op = OPERATORS[parts[1][1]]
    if _kind(column) != "number" and op not in ("=", "<>"):
        raise InputError(f"filter: {column} can only be compared with = or !=")
    return Condition(column, op, _value(column, *parts[2]))


def parse_filter(text: str) -> tuple[Condition, ...]:
    """Conditions joined by `and` or commas, e.g. 'precision_60 > 0.75 and recall_p1 < 0.1'."""
    if len(text) > MAX_FILTER:
        raise InputError(f"filter: at most {MAX_FILTER} characters")
    groups: list[list[tuple[str, str]]] = [[]]
    for kind, value in tokens(text):
        if kind == "comma" or (kind == "word" and value.lower() == "and"):
            groups.append([])
        elif kind == "word" and value.lower() == "or":
            raise InputError("filter: only 'and' joins conditions (every condition must hold)")
        else:
            groups[-1].append((kind, value))
    if len(groups) == 1 and not groups[0]:
        return ()
    if any(not group for group in groups):
        raise InputError("filter: a condition is missing before or after 'and'")
    if len(groups) > MAX_CONDITIONS:
        raise InputError(f"filter: at most {MAX_CONDITIONS} conditions")
    return tuple(_condition(group) for group in groups)


def _whole(name: str, text: str, lo: int, hi: int) -> int:
    if not re.fullmatch(r"\d{1,7}", text.strip()):
        raise InputError(f"{name} must be a whole number, got {text!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise InputError(f"{name} must be from {lo} to {hi}, got {value}")
    return value


def parse_query(params: Mapping[str, str] | Any, layers: list[str]) -> UnitQuery:
    """The units table's query from a query string (starlette's QueryParams or a dict); InputError when bad."""
    keys = list(params.keys())
    unknown = [k for k in keys if k not in PARAMETERS]
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r} (the units table takes {', '.join(PARAMETERS)})")
    repeated = [k for k in PARAMETERS if k != "layer" and len(_all(params, k)) > 1]
    if repeated:
        raise InputError(f"parameter {repeated[0]!r} is given more than once")
    chosen = tuple(dict.fromkeys(v for v in _all(params, "layer") if v))
    for layer in chosen:
        if layer not in layers:
            raise InputError(f"layer {layer!r} is not a layer of this run{did_you_mean(layer, layers)}")
    sort = params.get("sort") or "precision_60"
    if sort not in SORTABLE:
        raise InputError(f"cannot sort by {sort!r}{did_you_mean(sort, list(SORTABLE))}")
    order = params.get("order") or ("asc" if sort in ("unit_label", "layer", "unit") else "desc")
    if order not in ("asc", "desc"):
        raise InputError(f"order is asc or desc, not {order!r}")
    per = _whole("per", params.get("per") or str(DEFAULT_PER), 1, max(PAGE_SIZES))
    if per not in PAGE_SIZES:
        raise InputError(f"per must be one of {', '.join(map(str, PAGE_SIZES))}, got {per}")
    text = params.get("filter") or ""
    page = _whole("page", params.get("page") or "1", 1, MAX_PAGE)
    return UnitQuery(chosen, parse_filter(text), text.strip(), sort, order == "desc", page, per)


def _all(params, key: str) -> list[str]:
    return list(params.getlist(key)) if hasattr(params, "getlist") else ([params[key]] if key in params else [])


def _where(q: UnitQuery, run_id: int) -> tuple[list[str], dict]:
    clauses = ["m.run_id = :run_id"]
    values: dict[str, object] = {"run_id": run_id}
    if q.layers:
        clauses.append("m.layer IN (" + ", ".join(f":layer{i}" for i in range(len(q.layers))) + ")")
        values.update({f"layer{i}": layer for i, layer in enumerate(q.layers)})
    for i, c in enumerate(q.conditions):
        if c.value is None:
            clauses.append(f"m.{c.column} {c.op}")
        else:
            clauses.append(f"m.{c.column} {c.op} :f{i}")
            values[f"f{i}"] = c.value
    return clauses, values


def _order(q: UnitQuery) -> str:
    direction = "DESC" if q.descending else "ASC"
    if q.sort in ("unit_label", "layer", "unit"):
        return f"l.layer_index {direction}, m.unit {direction}"
    return f"m.{q.sort} {direction} NULLS LAST, {NETWORK_ORDER}"


SELECT_COLUMNS = ", ".join(f"m.{c}" for c in dict.fromkeys(["unit_label", "layer", "unit", *(c for c, _ in SHOWN)]))
FROM = "seldb.unit_measures AS m JOIN seldb.layers AS l ON l.run_id = m.run_id AND l.layer = m.layer"


def page_sql(q: UnitQuery, run_id: int) -> tuple[str, dict]:
    """The SELECT of one page of the table, with bound parameters."""
    clauses, values = _where(q, run_id)
    sql = (
        f"SELECT {SELECT_COLUMNS}\nFROM {FROM}\nWHERE {' AND '.join(clauses)}\nORDER BY {_order(q)}\n"
        f"LIMIT :limit OFFSET :offset"
    )
    return sql, {**values, "limit": q.per, "offset": q.offset}


def count_sql(q: UnitQuery, run_id: int) -> tuple[str, dict]:
    clauses, values = _where(q, run_id)
    return f"SELECT count(*) FROM seldb.unit_measures AS m WHERE {' AND '.join(clauses)}", values


def literal(value: Any) -> str:
    """A value written into SQL text: numbers as Python writes them, text quoted with '' doubled."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def shown_sql(q: UnitQuery, run_id: int) -> str:
    """page_sql with its values written in: the same query, to copy into `seldb sql` or a BI tool."""
    sql, values = page_sql(q, run_id)
    return re.sub(r":([a-z_][a-z0-9_]*)", lambda m: literal(values[m.group(1)]), sql) + ";"


def query_string(q: UnitQuery, **changes: Any) -> str:
    """The query string of `q` with some fields changed (page=2, sort=..., descending=...), defaults left out."""
    from urllib.parse import urlencode

    q = replace(q, **changes)
    pairs = [("layer", layer) for layer in q.layers]
    if q.filter_text:
        pairs.append(("filter", q.filter_text))
    pairs += [("sort", q.sort), ("order", "desc" if q.descending else "asc")]
    if q.per != DEFAULT_PER:
        pairs.append(("per", str(q.per)))
    if q.page != 1:
        pairs.append(("page", str(q.page)))
    return urlencode(pairs)
