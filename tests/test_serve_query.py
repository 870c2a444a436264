"""The units table's query language and its SQL, without a database: what is accepted, what is refused and why."""

from __future__ import annotations

import pytest

from seldb.errors import InputError
from seldb.serve import unit_query as uq
from seldb.serve.formatting import first_sentence, num, unit_url
from seldb.serve.security import CsrfTokens, allowed_hosts, host_name, is_loopback

pytestmark = pytest.mark.unit
LAYERS = ["conv5", "fc6", "fc7"]


def test_filter_of_the_issue_becomes_two_bound_conditions():
    q = uq.parse_query({"filter": "precision_60 > 0.75 and recall_p1 < 0.1"}, LAYERS)
    assert q.conditions == (uq.Condition("precision_60", ">", 0.75), uq.Condition("recall_p1", "<", 0.1))
    sql, values = uq.page_sql(q, 3)
    assert "m.precision_60 > :f0 AND m.recall_p1 < :f1" in sql and values["f0"] == 0.75 and values["f1"] == 0.1
    assert "0.75" not in sql  # values are bound, never written into the executed text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("precision_60 >= 0.5, ccmas != 1e-3", [("precision_60", ">=", 0.5), ("ccmas", "<>", 0.001)]),
        ("is_dead = false AND is_localist == true", [("is_dead", "=", False), ("is_localist", "=", True)]),
        ("precision_60_class = 'it''s a \"tench\"'", [("precision_60_class", "=", 'it\'s a "tench"')]),
        ('mi_class != "crane, bird"', [("mi_class", "<>", "crane, bird")]),
        ("ccmas is null and recall_p1 IS NOT NULL", [("ccmas", "IS NULL", None), ("recall_p1", "IS NOT NULL", None)]),
        ("localist_margin < -.25", [("localist_margin", "<", -0.25)]),
        ("   ", []),
    ],
)
def test_filters_accepted(text, expected):
    assert [(c.column, c.op, c.value) for c in uq.parse_filter(text)] == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("precision60 > 0.75", "unknown column 'precision60' (did you mean 'precision_60'"),
        ("precision_60 > high", "precision_60 is a number; 'high' is not one"),
        ("precision_60 >", "is not <column> <operator> <value>"),
        ("precision_60 > 0.75 or recall_p1 < 0.1", "only 'and' joins conditions"),
        ("precision_60 > 0.75 and", "a condition is missing"),
        ("precision_60_class > 'tench'", "can only be compared with = or !="),
        ("precision_60_class = tench", "quote it"),
        ("is_dead = 1", "is_dead is true or false"),
        ("precision_60 > 1e400", "is not one"),
        ("precision_60 > 0.5; DROP TABLE seldb_store.runs", "cannot read ';"),
        ("0.75 < precision_60", "should start with a column name"),
        ("x" * 1001, "at most 1000 characters"),
    ],
)
def test_malformed_filters_say_why(text, reason):
    with pytest.raises(InputError, match="filter") as caught:
        uq.parse_filter(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"sort": "unit_key; --"}, "cannot sort by"),
        ({"order": "sideways"}, "order is asc or desc"),
        ({"page": "0"}, "page must be from 1"),
        ({"page": "two"}, "page must be a whole number"),
        ({"per": "30"}, "per must be one of"),
        ({"layer": "fc8"}, "layer 'fc8' is not a layer of this run"),
        ({"sql": "SELECT 1"}, "unknown parameter 'sql'"),
    ],
)
def test_bad_parameters_are_refused(params, reason):
    with pytest.raises(InputError, match=reason.replace("(", r"\(")):
        uq.parse_query(params, LAYERS)


def test_sorting_puts_nulls_last_and_breaks_ties_in_network_order():
    sql, _ = uq.page_sql(uq.parse_query({"sort": "ccmas", "order": "asc"}, LAYERS), 1)
    assert "ORDER BY m.ccmas ASC NULLS LAST, l.layer_index, m.unit" in sql
    sql, _ = uq.page_sql(uq.parse_query({"sort": "unit_label"}, LAYERS), 1)
    assert "ORDER BY l.layer_index ASC, m.unit ASC" in sql


def test_paging_is_limit_and_offset():
    q = uq.parse_query({"page": "3", "per": "100"}, LAYERS)
    _, values = uq.page_sql(q, 1)
    assert (values["limit"], values["offset"]) == (100, 200)


def test_shown_sql_writes_the_values_in_and_quotes_text():
    q = uq.parse_query({"filter": "precision_60 > 0.75 and mi_class = 'o''neil'", "layer": "fc6"}, LAYERS)
    text = uq.shown_sql(q, 3)
    assert "m.run_id = 3 AND m.layer IN ('fc6') AND m.precision_60 > 0.75 AND m.mi_class = 'o''neil'" in text
    assert ":" not in text.replace("::", "") and text.endswith("LIMIT 50 OFFSET 0;")


def test_query_string_round_trips():
    q = uq.parse_query(
        {"filter": "recall_p1 < 0.1", "layer": "fc7", "sort": "ccmas", "order": "asc", "per": "200", "page": "4"},
        LAYERS,
    )
    from urllib.parse import parse_qsl

    again = uq.parse_query(dict(parse_qsl(uq.query_string(q))), LAYERS)
    assert again == q
    assert "page=2" in uq.query_string(q, page=2)


def test_formatting_and_urls():
    assert [num(None), num(True), num(3), num(0.123456), num(0.0), num(12345.678)] == [
        "\u2014",
        "yes",
        "3",
        "0.1235",
        "0",
        "1.235e+04",
    ]
    assert unit_url(3, "features.10/x?.7") == "/runs/3/unit/features.10%2Fx%3F.7"
    doc = "Top-60 precision (Zhou et al. 2015): a share. More."
    assert first_sentence(doc) == "Top-60 precision (Zhou et al. 2015): a share."


def test_hosts_and_tokens():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.2.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert allowed_hosts("0.0.0.0") is None and "192.168.1.5" in allowed_hosts("192.168.1.5")
    assert "evil.example" not in allowed_hosts("127.0.0.1")
    assert [host_name(h) for h in ("127.0.0.1:8765", "[::1]:8765", "localhost", "evil.example:80")] == [
        "127.0.0.1",
        "::1",
        "localhost",
        "evil.example",
    ]
    tokens = CsrfTokens(b"k" * 32)
    assert tokens.valid("s1", tokens.token("s1")) and not tokens.valid("s2", tokens.token("s1"))
    assert not tokens.valid("s1", None) and not tokens.valid(None, tokens.token("s1"))
    assert not CsrfTokens().valid("s1", tokens.token("s1"))  # another app's secret
