"""Reading config.yaml: file access errors as sentences, and a YAML loader that records the line
of every key and sequence item (so a validation error can name `file:line: key.path`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.config.errors import ConfigError

KeyPath = tuple[Any, ...]
# Bounds on what a config may cost to read. The largest real config we know of is ~20 KB; these are
# 50x and more past that, and keep a wrong file (a 50 MB dump) or a YAML alias bomb (1 KB that
# expands to billions of values) to a sentence in well under a second instead of gigabytes.
MAX_BYTES = 1_000_000
MAX_VALUES = 100_000  # values built, counting every expansion of an alias
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file '{path}' is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"cannot read config file '{path}': permission denied") from None
    except NotADirectoryError:
        raise ConfigError(f"cannot read config file '{path}': a parent of it is not a directory") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file '{path}': {(err.strerror or str(err)).lower()}") from None
    if len(raw) > MAX_BYTES:
        line = raw[:MAX_BYTES].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: the file is larger than {MAX_BYTES // 1_000_000} MB, the most a config may be "
            "(is this the right file?)"
        )
    try:
        return raw.decode("utf-8-sig")  # -sig: tolerate a BOM left by some Windows editors
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (bad byte at offset {err.start})") from None


class TooManyValues(Exception):
    """The document builds more than MAX_VALUES values; `line` is where the limit was crossed."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line

    def sentence(self, label: str) -> str:
        return (f"{label}:{self.line}: the config builds more than {MAX_VALUES:,} values, the most a config "
                "may hold (aliases (*name) that repeat large anchors multiply; is one nested in itself?)")


class _LineBuilder:
    """Builds plain data from a PyYAML loader's nodes itself (mixed into one below: its parser,
    SafeConstructor and Resolver), so it can record, by key path, the line of every mapping key
    and sequence item, catch duplicate keys, and keep the source text of plain scalars."""

    lines: dict[KeyPath, int]
    raw: dict[KeyPath, str]  # source text of plain scalars that are not strings
    duplicates: list[tuple[KeyPath, int, int]]  # (path, line, first line)
    _open: set[int]  # nodes being built, to stop on a recursive alias
    _built: int  # values built so far, for MAX_VALUES
    # The loader's, next in the MRO:
    get_single_node: Callable[[], Node | None]
    construct_object: Callable[..., Any]
    flatten_mapping: Callable[[MappingNode], None]

    def build(self) -> Any:
        self.lines, self.raw, self.duplicates, self._open, self._built = {}, {}, [], set(), 0
        node = self.get_single_node()
        return None if node is None else self._build(node, ())

    def _build(self, node: Node, path: KeyPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        self._built += 1
        if self._built > MAX_VALUES:
            raise TooManyValues(node.start_mark.line + 1)
        if id(node) in self._open:
            raise yaml.constructor.ConstructorError(None, None, "recursive alias", node.start_mark)
        if not isinstance(node, ScalarNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
            # Scalars' tags are checked by SafeLoader; a tagged list or mapping would be built
            # here as plain data, silently dropping e.g. `!!python/object/apply`.
            raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._build_mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._build_sequence(node, path)
            return self._build_scalar(node, path)
        finally:
            self._open.discard(id(node))

    def _build_mapping(self, node: MappingNode, path: KeyPath) -> dict[Any, Any]:
        self._find_duplicates(node, path)
        self.flatten_mapping(node)  # applies `<<: *anchor` merge keys; own keys come last and win
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = self._build(value_node, path + (key,))
        return out

    def _find_duplicates(self, node: MappingNode, path: KeyPath) -> None:
        # Checked before merge keys are applied: overriding a merged key is allowed.
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                self.duplicates.append((path + (key,), line, first[key]))
            else:
                first[key] = line

    @staticmethod
    def _key(node: Node) -> str:
        """A mapping key is the text as written: `on:` is "on" (not True), `1:` is "1"."""
        if not isinstance(node, ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a single value, not a list or mapping", node.start_mark
            )
        return str(node.value)

    def _build_sequence(self, node: SequenceNode, path: KeyPath) -> list[Any]:
        out = []
        for index, item in enumerate(node.value):
            self.lines[path + (index,)] = item.start_mark.line + 1
            out.append(self._build(item, path + (index,)))
        return out

    def _build_scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        value = self.construct_object(node, deep=True)
        if not node.style and value is not None and not isinstance(value, str):  # plain: None (PyYAML), "" (libyaml)
            self.raw[path] = node.value
        return value


class LineLoader(_LineBuilder, yaml.SafeLoader):
    """The pure-Python parser: the wording of its syntax errors is what config errors quote."""


class FastLineLoader(_LineBuilder, yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]  # a base chosen at import
    """libyaml's parser where PyYAML has it: ~4x faster on a valid file (the demo config: ~17 ms
    of every start, ~4 ms with it). It words syntax errors its own way, so a file it rejects is
    parsed again by LineLoader (`parse`)."""


class Parsed(NamedTuple):
    data: Any
    lines: dict[KeyPath, int]
    raw: dict[KeyPath, str]
    duplicates: list[tuple[KeyPath, int, int]]


def parse(text: str) -> Parsed:
    """The document with its key lines, plain-scalar text and duplicate keys: libyaml first, and a
    file it rejects again with PyYAML's own parser, whose YAMLError (or success) is the answer."""
    try:
        return read_with(FastLineLoader, text)
    except yaml.YAMLError:
        return read_with(LineLoader, text)


def read_with(loader_class: type[LineLoader] | type[FastLineLoader], text: str) -> Parsed:
    loader = loader_class(text)  # the pure-Python reader rejects control characters here already
    try:
        return Parsed(loader.build(), loader.lines, loader.raw, loader.duplicates)
    finally:
        loader.dispose()


def syntax_error(label: str, text: str, err: yaml.YAMLError) -> ConfigError:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        problem = err.problem or err.context or "cannot parse"
        if err.context and problem.startswith("but "):  # "expected X" + "but found Y"
            problem = f"{err.context}, {problem}"
        elif err.context and err.problem and err.context_mark and err.context_mark.line + 1 != line:
            problem += f" ({err.context} at line {err.context_mark.line + 1})"
        return ConfigError(f"{label}:{line}: YAML syntax error: {problem}")
    if isinstance(err, yaml.reader.ReaderError):  # e.g. a control character
        line = text[: err.position].count("\n") + 1
        return ConfigError(f"{label}:{line}: YAML syntax error: {err.reason}, found {chr(err.character)!r}")
    return ConfigError(f"{label}: YAML syntax error: {err}")
