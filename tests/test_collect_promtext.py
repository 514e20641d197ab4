"""The fast exposition parser reads every page exactly as prometheus-client does: same families,
types and samples, plain pages and odd ones (which it hands to the reference), and the same
refusals. Ours are the engine's own objects (Family, Line): compared field by field with the
reference's Metric and Sample, whose other fields (timestamp, exemplar, native histogram) a plain
page never sets."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.collect import exposition
from engine.collect.formats.promtext import _NotPlain, _plain, metric_families


def reference(text: str, plain: bool = False) -> str:  # repr: NaN equals itself there
    families = list(text_string_to_metric_families(text))
    if plain:  # what Line leaves out is never set by a plain page
        assert all(s[3:] == (None, None, None) for f in families for s in f.samples)
    return repr([(f.name, f.type, [(s.name, s.labels, s.value) for s in f.samples]) for f in families])


def ours(text: str) -> str:
    return repr([(f.name, f.type, [(s.name, s.labels, s.value) for s in f.samples]) for f in metric_families(text)])


PLAIN = [
    exposition().decode(),  # the demo's page: a labelled counter, a histogram, a gauge
    "# TYPE up gauge\nup 1\n",
    "# HELP reqs Requests.\n# TYPE reqs counter\nreqs{code=\"200\"} 10\nreqs{code=\"500\"} 2.5\n",  # no _total
    "# TYPE a_total counter\na_total{x=\"a,b}c\"} 3\n",  # separators inside a quoted value
    "loose 1\nloose{a=\"1\"} 2\nother +Inf\nnan NaN\n",  # untyped singletons, special values
    "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\nafter 7\n",
    "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n\n# a comment\n",
    "# TYPE g gauge\r\ng{a=\"1\",} 4e3\r\n",  # CRLF lines, a trailing comma
]

ODD = [
    'esc{path="a\\"b"} 1\n',  # an escaped quote
    "ts 1 1700000000000\n",  # a timestamp
    'sp{a = "1"} 1\n',  # spaces around =
    "ex 1 # {trace=\"x\"} 1\n",  # an exemplar
    "# HELP h Docs with \"quotes\" and \\ backslash.\n# TYPE h gauge\nh 1\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_pages_are_read_on_the_fast_path_exactly_as_the_reference(text: str) -> None:
    list(_plain(text))  # no _NotPlain: the fast path read it
    assert ours(text) == reference(text, plain=True)


@pytest.mark.parametrize("text", ODD)
def test_odd_pages_go_to_the_reference(text: str) -> None:
    with pytest.raises(_NotPlain):
        list(_plain(text))
    assert ours(text) == reference(text)


@pytest.mark.parametrize("text", ["not a metric line at all\n", "x{a=\"1\"} one\n", "x 1_000\n",
                                  "# TYPE x nonsense\nx 1\n"])
def test_broken_pages_are_refused_as_the_reference_refuses_them(text: str) -> None:
    with pytest.raises(ValueError):
        reference(text)
    with pytest.raises(ValueError):
        ours(text)
