"""Log lines into (label, status, latency): `format: json` (field paths such as `upstream` or
`request.status`) or `format: regex` (named groups), plus presets that fill in both:

- `json_access`: one JSON object per line with `upstream`, `status` and `request_time` (seconds),
  like nginx's `log_format ... escape=json` and the demo's access log;
- `nginx_combined`: nginx's default `combined` format, optionally followed by ` $request_time`;
- `nginx_json`: the JSON line of NGINX_JSON_LOG_FORMAT below, labelled by `upstream_addr`;
- `nginx_combined_upstream`: `combined` followed by the upstream, request time and upstream
  response time, NGINX_COMBINED_UPSTREAM_LOG_FORMAT below, labelled by `upstream_addr`.

The two nginx presets come with the exact nginx lines to paste into the `http { }` block (the
latency is `$request_time`, what the client waited; `$upstream_response_time` is kept in the line
for people, not read):

    log_format opsconsole_json escape=json '{"time":"$time_iso8601","upstream_addr":"$upstream_addr","status":$status,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","request":"$request"}';
    access_log /var/log/nginx/access.json opsconsole_json;

    log_format combined_upstream '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$upstream_addr" $request_time "$upstream_response_time"';
    access_log /var/log/nginx/access.log combined_upstream;

`$upstream_addr` is quoted in the text format because nginx writes several addresses when it
tried more than one server ("10.0.0.1:80, 10.0.0.2:80") or followed an internal redirect to
another upstream ("10.0.0.1:80 : 10.0.0.3:80"), and "-" when no upstream was involved (a `return`,
a static file): that "-" is a label of its own, never one of the versions.

`names:` maps raw label values to names (`127.0.0.1:8481: stable`), so series and panels say
`log:access:stable/...`; a multi-address value is named address by address (`canary, stable`). A
line that does not parse raises ParseError with the reason; the caller counts it and shows a
sample, never drops it silently. A missing or empty label is "-" (as nginx writes an empty
variable), a missing or "-" latency is simply no latency sample; a missing or non-numeric status
is an error, because the status is what error rates are made of.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.jsonpath import getter, parse_path

Parsed = tuple[str, int | None, float | None]  # (label, HTTP status, latency in ms)

NO_LABEL = "all"  # the one label when the source has no `label:` field
MISSING_LABEL = "-"

_COMBINED = (
    r'^(?P<remote_addr>\S+) \S+ (?P<remote_user>\S+) \[(?P<time_local>[^\]]*)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body_bytes_sent>\d+|-) '
    r'"(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)"'
)
_SECONDS = r'(?P<request_time>\d+(?:\.\d+)?|-)'
NGINX_COMBINED = _COMBINED + rf'(?: {_SECONDS})?\s*$'
NGINX_COMBINED_UPSTREAM = (
    _COMBINED + rf' "(?P<upstream_addr>[^"]*)" {_SECONDS} "(?P<upstream_response_time>[^"]*)"\s*$'
)
NGINX_JSON_LOG_FORMAT = (
    "log_format opsconsole_json escape=json '{\"time\":\"$time_iso8601\",\"upstream_addr\":\"$upstream_addr\","
    "\"status\":$status,\"request_time\":$request_time,\"upstream_response_time\":\"$upstream_response_time\","
    "\"request\":\"$request\"}';"
)
NGINX_COMBINED_UPSTREAM_LOG_FORMAT = (
    "log_format combined_upstream '$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$upstream_addr\" $request_time "
    "\"$upstream_response_time\"';"
)


@dataclass(frozen=True)
class Preset:
    format: str  # json / regex
    regex: str | None = None
    label: str | None = None
    status_field: str | None = None
    latency_field: str | None = None
    latency_unit: str = "s"


PRESETS: dict[str, Preset] = {
    "json_access": Preset("json", label="upstream", status_field="status", latency_field="request_time"),
    "nginx_combined": Preset("regex", regex=NGINX_COMBINED, status_field="status", latency_field="request_time"),
    "nginx_json": Preset("json", label="upstream_addr", status_field="status", latency_field="request_time"),
    "nginx_combined_upstream": Preset("regex", regex=NGINX_COMBINED_UPSTREAM, label="upstream_addr",
                                      status_field="status", latency_field="request_time"),
}
FORMATS = ("json", "regex", *PRESETS)


class ParseError(Exception):
    """Why one line could not be used; str() is a short reason."""


@dataclass(frozen=True)
class ParserSpec:
    """The effective parsing settings of a log source (its keys over its preset's)."""

    format: str  # json / regex
    regex: str | None
    label: str | None
    status_field: str | None
    latency_field: str | None
    latency_unit: str  # s / ms
    names: tuple[tuple[str, str], ...] = ()  # raw label value -> the name series and panels use


def resolve(format: str, **given: Any) -> ParserSpec:
    """Apply a preset: the source's own keys (not None) win over the preset's."""
    preset = PRESETS.get(format, Preset(format))

    def own(key: str) -> Any:
        value = given.get(key)
        return value if value is not None else getattr(preset, key)

    return ParserSpec(format=preset.format, regex=own("regex"), label=own("label"), status_field=own("status_field"),
                      latency_field=own("latency_field"), latency_unit=own("latency_unit"),
                      names=tuple(sorted((given.get("names") or {}).items())))


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r} (known: {', '.join(FORMATS)})")
    return name


def check_regex(pattern: str) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if not compiled.groupindex:
        raise ValueError("the regex needs named groups, e.g. (?P<status>\\d{3})")
    return pattern


def check_groups(spec: ParserSpec) -> list[str]:
    """Problems with a regex spec: fields that name groups the regex does not have."""
    if spec.format != "regex" or spec.regex is None:
        return [] if spec.format != "regex" else ["format regex needs `regex:` (a pattern with named groups)"]
    groups = re.compile(spec.regex).groupindex
    return [
        f"{key} {value!r} is not a group of the regex (groups: {', '.join(groups)})"
        for key, value in (("label", spec.label), ("status_field", spec.status_field), ("latency_field", spec.latency_field))
        if value is not None and value not in groups
    ]


def check_paths(spec: ParserSpec) -> list[str]:
    """Problems with a JSON spec: fields whose path does not read (engine/jsonpath.py)."""
    if spec.format != "json":
        return []
    problems = []
    for key, value in (("label", spec.label), ("status_field", spec.status_field), ("latency_field", spec.latency_field)):
        if value is not None:
            try:
                parse_path(value)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    return problems


def _status(value: Any, field: str) -> int:
    if type(value) is int:
        return value
    if value is None:
        raise ParseError(f"no {field!r} field")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ParseError(f"{field!r} is not a number: {str(value)[:40]!r}") from None


def _latency(value: Any, field: str, factor: float) -> float | None:
    if value is None or value == "-":
        return None
    try:
        return float(value) * factor
    except (TypeError, ValueError):
        raise ParseError(f"{field!r} is not a number: {str(value)[:40]!r}") from None


def build(spec: ParserSpec) -> Callable[[bytes], Parsed]:
    """The line parser for `spec`: bytes (one line, no newline) -> (label, status, latency_ms)."""
    factor = 1000.0 if spec.latency_unit == "s" else 1.0
    parse = _json_parser(spec, factor) if spec.format == "json" else _regex_parser(spec, factor)
    return _named(parse, dict(spec.names)) if spec.names else parse


_ADDRESSES = re.compile(r"(, | : )")  # nginx's separators in $upstream_addr, kept by split()


def _named(parse: Callable[[bytes], Parsed], names: dict[str, str]) -> Callable[[bytes], Parsed]:
    """Labels by their configured names: "127.0.0.1:8482" -> "canary". A value nginx joined
    after retrying another server ("127.0.0.1:8482, 127.0.0.1:8481") or following an internal
    redirect (" : ") is named part by part ("canary, stable"), so a request the canary failed is
    never counted as the stable's alone."""
    cache: dict[str, str] = {}

    def named(line: bytes) -> Parsed:
        label, status, latency = parse(line)
        name = cache.get(label)
        if name is None:
            name = "".join(names.get(part, part) for part in _ADDRESSES.split(label))
            if len(cache) < 1024:  # labels are few; a high-cardinality field must not grow this
                cache[label] = name
        return name, status, latency

    return named


def _json_parser(spec: ParserSpec, factor: float) -> Callable[[bytes], Parsed]:
    loads = json.loads
    label_of = getter(spec.label) if spec.label else None
    status_of = getter(spec.status_field) if spec.status_field else None
    latency_of = getter(spec.latency_field) if spec.latency_field else None
    status_name, latency_name = spec.status_field or "", spec.latency_field or ""

    def parse(line: bytes) -> Parsed:
        try:
            doc = loads(line)
        except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not text
            raise ParseError(f"not JSON: {getattr(exc, 'msg', None) or exc}") from None
        if type(doc) is not dict:
            raise ParseError(f"not a JSON object but {type(doc).__name__}")
        if label_of is None:
            label = NO_LABEL
        else:
            raw = label_of(doc)
            # escape=json writes an empty variable as "", where nginx's text formats write "-"
            label = (raw or MISSING_LABEL) if type(raw) is str else (MISSING_LABEL if raw is None else str(raw))
        status = None if status_of is None else _status(status_of(doc), status_name)
        latency = None if latency_of is None else _latency(latency_of(doc), latency_name, factor)
        return label, status, latency

    return parse


def _regex_parser(spec: ParserSpec, factor: float) -> Callable[[bytes], Parsed]:
    assert spec.regex is not None, "checked by the config"
    match = re.compile(spec.regex).match
    label_group, status_group, latency_group = spec.label, spec.status_field, spec.latency_field

    def parse(line: bytes) -> Parsed:
        m = match(line.decode("utf-8", "replace"))
        if m is None:
            raise ParseError("does not match the pattern")
        label = (m.group(label_group) or MISSING_LABEL) if label_group else NO_LABEL
        status = None if status_group is None else _status(m.group(status_group), status_group)
        latency = None if latency_group is None else _latency(m.group(latency_group), latency_group, factor)
        return label, status, latency

    return parse
