"""engine/snapshot_codec.py: every field of the Snapshot, nested views included, survives JSON.

The fully populated snapshot is generated from the dataclasses' own type hints, so a field someone
adds to engine/snapshot.py later is covered here without a change (and the test fails if the
codec cannot carry it).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import math
import types
import typing
from typing import Any

import pytest

from engine import snapshot_codec
from engine.snapshot import AlertView, EngineState, RolloutView, RuleView, SeriesView, Snapshot, SourceMode
from engine.snapshot_codec import SnapshotCodecError

_counter = itertools.count(1)


def _value(tp: Any, default: Any = dataclasses.MISSING) -> Any:
    """A value of type `tp` that differs from `default` (and from every other generated value)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    n = next(_counter)
    if dataclasses.is_dataclass(tp):
        return _populated(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(m for m in reversed(list(tp)) if m != default)
    if tp is bool:
        return not default if isinstance(default, bool) else True
    if tp is float:
        return n + 0.25
    if tp is int:
        return n
    if tp is str:
        return f"text-{n} «ü» [b]"  # non-ASCII and markup-looking text pass through unchanged
    if tp is Any:
        return {"nested": [n, "x", None]}
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_value(args[0]), _value(args[0]))
        return tuple(_value(a) for a in args)
    if origin is frozenset:
        return frozenset({_value(args[0]), _value(args[0])})
    if origin is dict:
        return {f"key-{n}": _value(args[1])}
    raise TypeError(f"the test's factory does not know {tp!r}: teach it (and check the codec does too)")


def _populated(cls: type) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        kwargs[f.name] = _value(hints[f.name], default)
    return cls(**kwargs)


def _walk(obj: Any, path: str = "snapshot"):
    """(path, field, value, default) for every field of every dataclass inside `obj`."""
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            if f.name.startswith("_"):
                continue
            value = getattr(obj, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            yield f"{path}.{f.name}", value, default
            yield from _walk(value, f"{path}.{f.name}")
    elif isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{path}[{i}]")


def test_every_field_of_every_view_round_trips() -> None:
    snap = _populated(Snapshot)
    fields = list(_walk(snap))
    left_default = [path for path, value, default in fields if value == default]
    assert not left_default, f"the factory left these at their default, so they are not tested: {left_default}"
    nested = {path.split(".")[1].split("[")[0] for path, _, _ in fields if path.count(".") > 1}
    assert {"series", "rollout", "alerts", "health", "components", "processes", "events"} <= nested

    text = snapshot_codec.dumps(snap)
    back = snapshot_codec.loads(text)

    assert back == snap
    for (path, value, _), (_, again, _) in zip(fields, _walk(back), strict=True):
        assert type(again) is type(value), f"{path}: {type(value).__name__} came back as {type(again).__name__}"
    assert back.get(snap.series[0].source, snap.series[0].metric) == snap.series[0]  # the index is rebuilt
    assert snapshot_codec.dumps(back) == text  # stable: equal snapshots encode equally


def test_a_minimal_snapshot_and_special_floats_round_trip() -> None:
    snap = Snapshot(taken_at=1.0, mode=SourceMode.LIVE, state=EngineState.PAUSED,
                    series=(SeriesView("host", "mem_pct", (1.0, 2.0), (math.inf, -0.0)),),
                    alerts=(AlertView("A", "firing", "critical", 3.0, value=None),))
    back = snapshot_codec.loads(snapshot_codec.dumps(snap))
    assert back == snap and back.rollout is None and back.state is EngineState.PAUSED
    nan = snapshot_codec.loads(snapshot_codec.dumps(
        dataclasses.replace(snap, series=(SeriesView("a", "b", (1.0,), (math.nan,)),))))
    assert math.isnan(nan.series[0].values[0])


def _document() -> dict[str, Any]:
    rule = RuleView("error_rate", 0.004, 0.01, 1, 3, 1, 10)
    rollout = RolloutView(7, "checkout", "running", 1, ((10, "30s"), (100, "")), 10, 10, rules=(rule,))
    return snapshot_codec.to_jsonable(Snapshot(taken_at=1.0, mode=SourceMode.LIVE, state=EngineState.RUNNING,
                                               rollout=rollout))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rollout"]["rules"][0].update(limit="x"), "snapshot.rollout.rules[0].limit: expected a number, got 'x'"),
        (lambda d: d.update(state="sleeping"), "snapshot.state: expected one of starting, running, paused"),
        (lambda d: d["rollout"].pop("service"), "snapshot.rollout: missing service"),
        (lambda d: d["rollout"].update(stages=[[10]]), "snapshot.rollout.stages[0]: expected a list of 2, got [10]"),
        (lambda d: d.update(series={"a": 1}), "snapshot.series: expected a list, got {'a': 1}"),
        (lambda d: d["rollout"].update(weight=True), "snapshot.rollout.weight: expected a whole number, got True"),
    ],
)
def test_a_wrong_document_names_the_place(change, message: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(SnapshotCodecError) as raised:
        snapshot_codec.from_jsonable(document)
    assert str(raised.value).startswith(message)


def test_unknown_keys_are_ignored_and_missing_ones_take_defaults() -> None:
    """A console and an engine one version apart still understand each other."""
    document = _document()
    document["a_field_from_the_future"] = {"x": 1}
    document["rollout"]["also_new"] = 3
    del document["events"], document["rollout"]["verbs"]
    back = snapshot_codec.from_jsonable(document)
    assert back.events == () and back.rollout is not None and back.rollout.verbs == ()


def test_not_json_is_a_codec_error() -> None:
    with pytest.raises(SnapshotCodecError, match="snapshot: not JSON"):
        snapshot_codec.loads(b"{nope")
    assert json.loads(snapshot_codec.dumps(Snapshot(taken_at=1.0, mode=SourceMode.LIVE,
                                                    state=EngineState.RUNNING)))["mode"] == "live"
