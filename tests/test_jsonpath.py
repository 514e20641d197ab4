"""One reader of JSON field paths (engine/jsonpath.py) for collect's fields, health conditions and
components, and JSON log fields: the same path means the same thing, and fails the same way, in each."""

from __future__ import annotations

import pytest

from engine.health.conditions import Condition
from engine.jsonpath import follow, getter, parse_path
from engine.watch.parsers import build, resolve

DOC = {"data": {"requests": {"total": 12}}, "items": [{"value": 3}], "upstream": {"status": "502"}}


def test_a_path_reads_keys_and_list_items() -> None:
    assert parse_path("items[0].value") == ("items", 0, "value")
    assert follow(DOC, parse_path("data.requests.total")) == (True, 12, "data.requests.total")
    assert follow(DOC, parse_path("items[1].value")) == (False, None, "items")


@pytest.mark.parametrize("bad", ["data..rps", ".data", "data.", "items[x]", "a[0]b"])
def test_a_malformed_path_is_refused_naming_where(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot read the path"):
        parse_path(bad)


def test_health_conditions_and_log_fields_read_paths_the_same_way() -> None:
    assert Condition.parse("items[0].value < 5").check(DOC) is None
    assert Condition.parse("items[2].value < 5").check(DOC) == "items[2].value < 5: items.2.value is missing"
    with pytest.raises(ValueError, match="cannot read the path"):
        Condition.parse("data..x == 1")
    assert getter("upstream.status")(DOC) == "502"
    assert getter("items[0].value")(DOC) == 3
    assert getter("missing.key")(DOC) is None
    parse = build(resolve("json", label="upstream.name", status_field="upstream.status", latency_field="t"))
    assert parse(b'{"upstream": {"name": "canary", "status": 503}, "t": 0.2}')[:2] == ("canary", 503)


def test_a_log_field_path_that_does_not_read_is_a_config_error() -> None:
    from engine.watch.config import WatchSourceConfig

    with pytest.raises(ValueError, match=r"status_field: cannot read the path 'upstream\.\.status'"):
        WatchSourceConfig.model_validate({"name": "access", "log": "/var/log/a.json", "status_field": "upstream..status"})
