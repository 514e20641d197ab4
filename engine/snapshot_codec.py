"""Snapshot <-> JSON, for the attach channel (engine/control/) and anything else that must carry a
Snapshot out of the process (review mode may reuse it).

The codec is driven by the dataclasses' own type hints, so a field added to engine/snapshot.py is
carried without a change here. Decoding is strict about types (a wrong type names its place:
"snapshot.rollout.rules[0].limit: expected a number, got 'x'") and lenient about shape: keys this
version does not know are ignored and missing ones take the field's default, so a console and an
engine of neighbouring versions still understand each other. Fields whose name starts with "_"
(the Snapshot's lookup index) are derived, never carried.

Floats round-trip exactly (json writes repr); NaN and infinities are written as the non-standard
NaN/Infinity tokens Python's json reads back.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from engine.snapshot import Snapshot

Decoder = Callable[[Any, str], Any]


class SnapshotCodecError(ValueError):
    """A document that is not a Snapshot; str() names the place, e.g. "snapshot.state: ..."."""


# ------------------------------------------------------------------------------------ encoding


def to_jsonable(value: Any) -> Any:
    """Plain JSON types (dict/list/str/float/int/bool/None) for a snapshot or any part of it."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value.value if isinstance(value, enum.Enum) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_jsonable(getattr(value, name)) for name in _carried_fields(type(value))}
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)  # sorted: equal snapshots encode equally
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    raise TypeError(f"cannot encode {type(value).__name__} in a snapshot")


def dumps(snapshot: Snapshot) -> str:
    return json.dumps(to_jsonable(snapshot), separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------------ decoding


def from_jsonable(data: Any) -> Snapshot:
    """The Snapshot a `to_jsonable` document describes; SnapshotCodecError if it is not one."""
    return _decoder(Snapshot)(data, "snapshot")


def loads(text: str | bytes) -> Snapshot:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotCodecError(f"snapshot: not JSON: {exc}") from None
    return from_jsonable(data)


@cache
def _carried_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(path: str, expected: str, value: Any) -> typing.NoReturn:
    raise SnapshotCodecError(f"{path}: expected {expected}, got {_describe(value)}")


@cache
def _decoder(tp: Any) -> Decoder:
    """One decoding function per type, built once: a snapshot is decoded every refresh."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return lambda value, path: value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_decoder(tp)
    if tp is float:
        return _float
    if tp is bool:
        return _scalar(bool, "true or false")
    if tp is int:
        return _int
    if tp is str:
        return _scalar(str, "text")
    if origin in (typing.Union, types.UnionType):
        return _optional_decoder(tp, args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence_decoder(args[0], tuple)
        return _fixed_tuple_decoder(args)
    if origin is frozenset:
        return _sequence_decoder(args[0], frozenset)
    if origin is dict:
        return _dict_decoder(args)
    raise TypeError(f"the snapshot codec does not know how to decode {tp!r}")


def _float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, "a number", value)
    return float(value)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, "a whole number", value)
    return value


def _scalar(kind: type, expected: str) -> Decoder:
    def decode(value: Any, path: str) -> Any:
        if not isinstance(value, kind):
            _fail(path, expected, value)
        return value

    return decode


def _enum_decoder(cls: type[enum.Enum]) -> Decoder:
    names = ", ".join(str(m.value) for m in cls)

    def decode(value: Any, path: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            _fail(path, f"one of {names}", value)

    return decode


def _optional_decoder(tp: Any, args: tuple[Any, ...]) -> Decoder:
    others = [a for a in args if a is not type(None)]
    if len(others) != 1 or len(others) == len(args):
        raise TypeError(f"the snapshot codec decodes only `X | None` unions, not {tp!r}")
    inner = _decoder(others[0])
    return lambda value, path: None if value is None else inner(value, path)


def _sequence_decoder(item_type: Any, build: type) -> Decoder:
    item = _decoder(item_type)
    if item is _float:  # series points: the bulk of a snapshot, kept on a short path
        def decode_floats(value: Any, path: str) -> Any:
            if not isinstance(value, list):
                _fail(path, "a list", value)
            if all(type(v) is float for v in value):
                return build(value)
            return build(_float(v, f"{path}[{i}]") for i, v in enumerate(value))

        return decode_floats

    def decode(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            _fail(path, "a list", value)
        return build(item(v, f"{path}[{i}]") for i, v in enumerate(value))

    return decode


def _fixed_tuple_decoder(args: tuple[Any, ...]) -> Decoder:
    items = [_decoder(a) for a in args]

    def decode(value: Any, path: str) -> Any:
        if not isinstance(value, list) or len(value) != len(items):
            _fail(path, f"a list of {len(items)}", value)
        return tuple(d(v, f"{path}[{i}]") for i, (d, v) in enumerate(zip(items, value, strict=True)))

    return decode


def _dict_decoder(args: tuple[Any, ...]) -> Decoder:
    value_decoder = _decoder(args[1]) if args else _decoder(Any)

    def decode(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            _fail(path, "a mapping", value)
        return {k: value_decoder(v, f"{path}.{k}") for k, v in value.items()}

    return decode


def _dataclass_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    carried = {f.name: f for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    decoders = {name: _decoder(hints[name]) for name in carried}
    required = {
        name for name, f in carried.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def decode(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            _fail(path, f"a {cls.__name__} mapping", value)
        missing = sorted(required - value.keys())
        if missing:
            raise SnapshotCodecError(f"{path}: missing {', '.join(missing)}")
        kwargs = {
            name: decoders[name](value[name], f"{path}.{name}") for name in carried if name in value
        }
        return cls(**kwargs)

    return decode


def field_from_jsonable(name: str, data: Any) -> Any:
    """One field of a Snapshot (its `rollout`, its `health`, ...) from `to_jsonable` of its value:
    the recorded state parts (engine/statelog.py) are decoded one field at a time."""
    return _decoder(typing.get_type_hints(Snapshot)[name])(data, f"snapshot.{name}")
