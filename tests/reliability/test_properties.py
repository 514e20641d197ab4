"""Drill 6: property-based tests. No input crashes a parser; every rejection is a named error.

- the config loader: YAML-ish text and structured documents -> a Config, or a ConfigError whose
  every line is `FILE:LINE: ...`, `env NAME: ...` or `FILE: ...` (never another exception);
- engine/units.py parse_duration / parse_size: a number, or ValueError with a sentence;
- the collectors' Prometheus text and JSON field formats: Decoded, or DecodeError; JSON field
  paths (checked when the config loads): a path, or ValueError;
- the log-line parsers of `watch:` log sources: (label, status, latency) or ParseError.

Examples are few enough for the normal suite (a few seconds, derandomized so CI is repeatable);
`HYPOTHESIS_PROFILE=soak pytest tests/reliability/test_properties.py` runs many more, at random.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.collect.client import Answer
from engine.collect.config import JsonTarget, PrometheusTarget
from engine.collect.errors import DecodeError
from engine.collect.formats.base import Decoded, Request
from engine.collect.formats.json_fields import JsonFormat
from engine.collect.formats.prometheus import PrometheusFormat
from engine.collect.formats.prometheus import parse as parse_prometheus
from engine.config.errors import ConfigError
from engine.config.loader import load_config
from engine.config.schema import Config
from engine.jsonpath import parse_path
from engine.units import parse_duration, parse_size
from engine.watch import parsers

settings.register_profile("quick", max_examples=200, deadline=None, database=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=5000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROPERTY = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
CONFIG_PROPERTY = settings(PROPERTY, max_examples=max(50, PROPERTY.max_examples // 2))  # a file each

PROBLEM_LINE = re.compile(r"^(\S+:\d+|env \S+|\S+): \S")

# --------------------------------------------------------------------------------------- config

SECTIONS = list(Config.model_fields)
FIELDS = sorted({name for section in Config.model_fields.values()
                 for name in getattr(section.annotation, "model_fields", {})} | {"name", "kind", "weight"})
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["5s", "0s", "-1s", "100ms", "1h", "7d", "10MB", "1GiB", "-5MB", "manual", "demo",
                     "${HOME}", "${NOT_SET_ANYWHERE}", "${", "$${x}", "http://127.0.0.1:9/", "~/x", "", "∞"]),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(
    st.sampled_from(SECTIONS) | st.text(max_size=8),
    st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4) | VALUES,
    max_size=4,
)
TOKENS = st.sampled_from([
    *[f"{s}:" for s in SECTIONS], *[f"{f}:" for f in FIELDS], "  ", "    ", "\t", "- ", ": ", ":", "\n", "\n  ",
    "{", "}", "[", "]", ",", "'", '"', "#", "&a ", "*a", "!!python/object:os.system", "!!binary", "? ",
    "|", ">", "---", "...", "%YAML 1.1", "5s", "0", "-1", "1e999", ".nan", "yes", "~", "${X}", "${", "\\x00",
    "\ufeff", "é", "\x85",
])
YAML_ISH = st.lists(TOKENS | st.text(max_size=5), max_size=40).map("".join)


def check_load(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_config(path, env={"HOME": tmp})
        except ConfigError as err:
            assert err.problems, "a ConfigError without a problem"
            for line in str(err).splitlines():
                assert PROBLEM_LINE.match(line), f"a problem line that names no place: {line!r}"
        else:
            assert isinstance(loaded.config, Config)


@CONFIG_PROPERTY
@given(YAML_ISH)
def test_the_loader_reads_any_text_or_names_the_problem(text: str) -> None:
    check_load(text)


@CONFIG_PROPERTY
@given(DOCUMENTS)
def test_the_loader_reads_any_document_or_names_the_problem(document: dict[Any, Any]) -> None:
    check_load(yaml.safe_dump(document, allow_unicode=True))


# ---------------------------------------------------------------------------------------- units

UNIT_TEXT = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A\s*-?\d{1,30}(\.\d{1,30})?\s*[A-Za-z]{0,4}\s*\Z"),
    st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
)


@PROPERTY
@given(UNIT_TEXT)
def test_parse_duration_gives_seconds_or_a_sentence(text: Any) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        assert str(err).strip(), "a ValueError without a message"
    else:
        assert isinstance(seconds, float) and math.isfinite(seconds) and seconds >= 0


@PROPERTY
@given(UNIT_TEXT)
def test_parse_size_gives_bytes_or_a_sentence(text: Any) -> None:
    try:
        size = parse_size(text)
    except ValueError as err:
        assert str(err).strip(), "a ValueError without a message"
    else:
        assert isinstance(size, int) and size >= 0


# ------------------------------------------------------------------------------ collect formats

PROM_TOKENS = st.sampled_from([
    "# HELP x help\n", "# TYPE x counter\n", "# TYPE x histogram\n", "# TYPE x gauge\n", "# TYPE x summary\n",
    "x ", "x_total ", "x_bucket", "x_count ", "x_sum ", "{", "}", 'le="0.1"', 'le="+Inf"', 'code="500"', ",", '="',
    '"', "\\", "1", "-1", "1e309", "NaN", "+Inf", " 1700000000000", "\n", " ", "=", "#", "\x00",
])
PROM_TEXT = st.lists(PROM_TOKENS | st.text(max_size=4), max_size=40).map("".join)


def answer(body: bytes, mono: float) -> Answer:
    return Answer(status=200, headers=httpx.Headers(), body=body, t=1.0e9 + mono, mono=mono, elapsed=0.01)


@PROPERTY
@given(PROM_TEXT)
def test_the_prometheus_text_parser_names_what_it_refuses(text: str) -> None:
    try:
        parse_prometheus(text)
    except DecodeError as err:
        assert str(err).startswith("prometheus: ")


@PROPERTY
@given(st.lists(PROM_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")) | st.binary(max_size=64),
                min_size=1, max_size=3))
def test_prometheus_scrapes_decode_or_raise_decode_error(bodies: list[bytes]) -> None:
    target = PrometheusTarget(name="app", url="http://127.0.0.1:9/metrics", format="prometheus",
                              fields={"x": "x", "y": "x_total"})
    fmt = PrometheusFormat(target)
    for scrape, body in enumerate(bodies):  # several, so rates and bucket deltas are computed
        try:
            decoded = fmt.decode(answer(body, float(scrape + 1)), Request("http://127.0.0.1:9/metrics"))
        except DecodeError as err:
            assert str(err).startswith("prometheus: ")
        else:
            assert isinstance(decoded, Decoded)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "data", "0"]), inner, max_size=3)),
    max_leaves=10,
)


@PROPERTY
@given(JSON_VALUES.map(lambda v: yaml.safe_dump(v).encode()) | st.binary(max_size=64)
       | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_json_documents_decode_or_raise_decode_error(body: bytes) -> None:
    target = JsonTarget(name="app", url="http://127.0.0.1:9/", format="json",
                        fields={"a": "a", "deep": "data.b[0].a", "first": "b[1]"})
    try:
        decoded = JsonFormat(target).decode(answer(body, 1.0), Request("http://127.0.0.1:9/"))
    except DecodeError as err:
        assert str(err).startswith("json: ")
    else:
        assert {s.metric for s in decoded.samples} <= {"a", "deep", "first"}
        assert all(isinstance(s.value, float) for s in decoded.samples)


@PROPERTY
@given(st.text(alphabet=st.sampled_from("ab.[]0123-_ é\\\"'"), max_size=16) | st.text(max_size=8))
def test_json_field_paths_parse_or_name_the_character(path: str) -> None:
    try:
        steps = parse_path(path)
    except ValueError as err:
        assert str(err) == "the path is empty" or "cannot read the path" in str(err)
    else:
        assert steps and all(isinstance(s, (str, int)) for s in steps)


# ---------------------------------------------------------------------------------- log lines

LOG_PARSERS = {
    name: parsers.build(parsers.resolve(name, **given))
    for name, given in {
        "json_access": {},
        "nginx_combined": {},
        "json": {"label": "a.b", "status_field": "status", "latency_field": "t.ms", "latency_unit": "ms"},
        "regex": {"regex": r"(?P<status>\S*) (?P<ms>\S*)(?: (?P<who>\S+))?", "status_field": "status",
                  "latency_field": "ms", "label": "who"},
    }.items()
}
LOG_LINES = st.one_of(
    st.binary(max_size=80),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={
        "upstream": JSON_VALUES, "status": JSON_VALUES, "request_time": JSON_VALUES,
        "a": JSON_VALUES, "t": JSON_VALUES,
    }).map(lambda d: json.dumps(d).encode()),
    st.from_regex(rb'\A[0-9.]{1,15} - - \[[^\]]{0,30}\] "[^"]{0,20}" [0-9]{0,4} [0-9]{0,6} "[^"]{0,9}" "[^"]{0,9}"( [0-9.e+-]{0,8})?\Z'),
)


@PROPERTY
@given(st.sampled_from(sorted(LOG_PARSERS)), LOG_LINES)
def test_log_line_parsers_give_a_reading_or_a_parse_error(name: str, line: bytes) -> None:
    try:
        label, status, latency = LOG_PARSERS[name](line)
    except parsers.ParseError as err:
        assert str(err).strip()
    else:
        assert isinstance(label, str)
        assert status is None or isinstance(status, int)
        assert latency is None or isinstance(latency, float)
