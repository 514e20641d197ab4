"""The Prometheus text exposition, parsed fast when it is plain, by prometheus-client otherwise.

prometheus-client's parser walks each sample line character by character in Python (its
`_next_unquoted_char`, `parse_labels`): ~45% of the engine's time at 1,000 targets a second
(bench/collect.py, py-spy). Nearly every exporter writes plain lines — `name{k="v",...} value`,
no escapes, no timestamps — which one regular expression reads. So a page whose every line is
plain is read here, following prometheus-client's own family rules (TYPE/HELP start a family, a
sample outside its family's names is an untyped family of its own, counters lose `_total`,
`untyped` is `unknown`); a page with one line that is not (an escape, a timestamp, spaces around
`=`, anything odd) is read by prometheus-client whole, so its answers and its errors stay the
reference's.

The fast path builds its own small objects (`Family`, `Line`: what the prometheus format reads), so
prometheus-client (1.2 MB resident on top of the console, more in a bare engine) is imported only
when a page needs it: an odd page, or a broken one (to say which line).
tests/test_collect_promtext.py pins the two against each other; tests/test_import_promclient.py
checks that plain scrapes never load it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*)\})?[ \t]+(\S+)\Z')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
_ALLOWED = {"summary": ("_count", "_sum", ""), "histogram": ("_count", "_sum", "_bucket")}
# prometheus_client.metrics_core.METRIC_TYPES: a TYPE outside them is refused, as the reference does.
TYPES = frozenset({"counter", "gauge", "summary", "histogram", "gaugehistogram", "unknown", "info", "stateset"})


class Line(NamedTuple):
    """One sample line: prometheus-client's Sample without what a plain line never has
    (timestamp, exemplar, native histogram)."""

    name: str
    labels: dict[str, str]
    value: float


class Family:
    """One metric family: prometheus-client's Metric, for what the prometheus format reads."""

    __slots__ = ("name", "type", "samples")

    def __init__(self, name: str, typ: str, samples: list[Line]) -> None:
        if not name:
            raise ValueError("metric name cannot be empty")
        typ = "unknown" if typ == "untyped" else typ
        if typ not in TYPES:
            raise ValueError("Invalid metric type: " + typ)
        self.name, self.type, self.samples = name, typ, samples

    def __repr__(self) -> str:
        return f"Family({self.name!r}, {self.type!r}, {self.samples!r})"


class _NotPlain(Exception):
    """A line the fast path does not read: the reference parser reads the whole page."""


def metric_families(text: str) -> list[Family]:
    """The families of an exposition, as prometheus-client's text_string_to_metric_families gives them."""
    try:
        return list(_plain(text))
    except _NotPlain:
        return reference_families(text)


def reference_families(text: str) -> list[Family]:
    """prometheus-client's reading of a page (imported here: only odd pages need it), as Families."""
    from prometheus_client.parser import text_string_to_metric_families

    return [Family(f.name, f.type, [Line(s.name, s.labels, s.value) for s in f.samples])
            for f in text_string_to_metric_families(text)]


def _plain(text: str) -> Iterable[Family]:
    name, typ = "", "untyped"
    samples: list[Line] = []
    allowed: tuple[str, ...] = ()
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line[0] == "#":
            if '"' in line or "\\" in line:
                raise _NotPlain
            parts = line.split(None, 3)
            if len(parts) < 2 or parts[1] not in ("TYPE", "HELP"):
                continue  # a comment (the reference skips these too)
            if len(parts) < 3:
                raise _NotPlain
            candidate = parts[2]
            if not _NAME.match(candidate):
                raise _NotPlain
            if parts[1] == "HELP":
                if candidate != name:
                    if name:
                        yield _build(name, typ, samples)
                    name, typ, samples, allowed = candidate, "untyped", [], (candidate,)
                continue
            if len(parts) < 4:
                raise _NotPlain
            if candidate != name:
                if name:
                    yield _build(name, typ, samples)
                name, samples = candidate, []
            typ = parts[3]
            allowed = tuple(name + suffix for suffix in _ALLOWED.get(typ, ("",)))
            continue
        if "\\" in line:
            raise _NotPlain
        match = _SAMPLE.match(line)
        if match is None:
            raise _NotPlain
        sample_name, labels, value = match.groups()
        if "_" in value:
            raise _NotPlain
        try:
            number: float = int(value)  # as the reference: an int when the text is one
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise _NotPlain from None
        found = dict(_LABEL.findall(labels)) if labels else {}
        if "__name__" in found:
            raise _NotPlain
        sample = Line(sample_name, found, number)
        if sample_name in allowed:
            samples.append(sample)
            continue
        if name:
            yield _build(name, typ, samples)
        name, typ, samples, allowed = "", "untyped", [], ()
        yield _build(sample_name, "untyped", [sample])
    if name:
        yield _build(name, typ, samples)


def _build(name: str, typ: str, samples: list[Line]) -> Family:
    """As prometheus-client builds a family: a counter's name without `_total`, its samples with it."""
    if typ == "counter":
        if name.endswith("_total"):
            name = name[:-6]
        else:
            samples = [Line(s.name + "_total", s.labels, s.value) for s in samples]
    return Family(name, typ, samples)
