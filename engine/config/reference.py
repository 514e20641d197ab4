"""The configuration reference (docs/config-reference.md) and JSON Schema (docs/config.schema.json),
both generated from the config models, so neither can say something the loader does not do.

    python -m engine.config.reference           # rewrite both files
    python -m engine.config.reference --check   # exit 1 when either is out of date (a test runs this)

A field's meaning is the docstring under it (engine/config/fielddocs.py); a model's
introduction is its class docstring. The type column reads the annotation: ranges come from
`Range` (in_range / duration_range), YAML spellings from `WrittenAs` (durations, sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import NoneType
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticUndefined, SchemaError, SchemaSerializer

from engine.config import fielddocs, typewalk
from engine.config.schema import Config, Range, WrittenAs

DOCS = Path(__file__).resolve().parents[2] / "docs"
REFERENCE = DOCS / "config-reference.md"
SCHEMA = DOCS / "config.schema.json"
SCHEMA_ID = "https://opsconsole.invalid/config.schema.json"  # a name, not a place: editors read the file

INTRO = """\
# Configuration reference

Generated from the config models by `python -m engine.config.reference`; a test fails when this
file is out of date. Every key of `config.yaml` is here, with its type and allowed range, its
default, and what it is for. Durations are written `500ms`, `5s`, `2m`, `1h`, `7d`; sizes `512KB`,
`100MB`, `1GiB`. Any string value may use `${NAME}` for an environment variable (`$${` for a literal).
Relative paths are relative to the config file. `config check` says file, line and key for every problem.

Editors validate and complete config files from [config.schema.json](config.schema.json), generated
from the same models. With the YAML language server (VS Code's YAML extension, Neovim, Helix, Zed),
put this first line in the file, with the path from the file to the schema:

```yaml
# yaml-language-server: $schema=docs/config.schema.json
```

Complete configs for real setups are in [examples/](../examples/).
"""


# ---------------------------------------------------------------------------------------------
# Reading annotations


def _metadata(tp: Any) -> tuple[Any, list[Any]]:
    """(bare type, the Annotated metadata on the way down)."""
    found: list[Any] = []
    while get_origin(tp) is Annotated:
        args = get_args(tp)
        tp, found = args[0], found + list(args[1:])
    return tp, found


def _model_sections(tp: Any) -> list[type[BaseModel]]:
    """The models a field's value may be (through lists, dicts and unions)."""
    tp, _ = _metadata(tp)
    origin = get_origin(tp)
    if typewalk.is_model(tp):
        return [tp]
    return [model for arg in get_args(tp) if arg is not Ellipsis for model in _model_sections(arg)] if origin else []


def _tag(model: type[BaseModel]) -> str:
    """A union member's tag, written as in YAML: "kind: nginx"."""
    for name, values in typewalk.literal_tags(model).items():
        if len(values) == 1 and name in ("kind", "format"):
            return f"{name}: {values[0]}"
    return ""


def type_text(tp: Any, metadata: Sequence[Any] = ()) -> str:
    """The type as an operator reads it: "integer 1..100", "duration 100ms..1m", "list of text"."""
    tp, inner = _metadata(tp)
    metadata = [*metadata, *inner]
    written = next((m.name for m in metadata if isinstance(m, WrittenAs)), None)
    ranges = [m.shown for m in metadata if isinstance(m, Range)]
    origin, args = get_origin(tp), get_args(tp)
    if written:
        text = written
    elif tp is Any:
        text = "anything"
    elif origin is Literal:
        text = ("one of " if len(args) > 1 else "") + ", ".join(f"`{a}`" for a in args)
    elif typewalk.union_members(tp) != [tp]:
        members = [a for a in args if a is not NoneType]
        models = [m for m in members if typewalk.is_model(m)]
        if models and all(_tag(m) for m in models) and len(models) == len(members):
            text = "mapping by `" + _tag(models[0]).split(":")[0] + "`"
        else:
            text = " or ".join(type_text(m) for m in members)
        if NoneType in args:
            text += " (or empty)"
    elif origin in (list, tuple, set, frozenset):
        text = "list of " + type_text(args[0]) if args else "list"
    elif origin is dict:
        text = f"map of {type_text(args[0])} to {type_text(args[1])}" if args else "mapping"
    elif typewalk.is_model(tp):
        text = "mapping"
    elif isinstance(tp, type):
        named = {int: "integer", float: "number", str: "text", bool: "true or false"}.get(tp)
        text = named if named is not None else "path" if typewalk.is_path_type(tp) else tp.__name__
    else:
        text = str(tp)
    return f"{text} {' '.join(ranges)}" if ranges else text


def _yaml_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, ensure_ascii=False)


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=False) if info.default_factory is None else None
    if info.default_factory is not None:
        return _factory_default(info)
    if isinstance(value, BaseModel):
        return "see its table"
    if isinstance(value, (list, tuple, dict)) and not value:
        return "none"
    return f"`{_yaml_value(_dumped(info, value))}`"


def _factory_default(info: FieldInfo) -> str:
    """Factories build sections (whose paths follow $XDG_STATE_HOME) and paths under the state
    directory, which depend on $HOME: shown with `~`."""
    made = info.default_factory()  # type: ignore[misc, call-arg]
    if isinstance(made, BaseModel):
        return "see its table"
    value = str(made)
    home = str(Path.home())
    return f"`{value.replace(home, '~')}`" if value.startswith(home) else f"`{value}`"


def _dumped(info: FieldInfo, value: Any) -> Any:
    """A default as it is written in YAML (7d, not 604800.0), through the field's serializer."""
    from pydantic import TypeAdapter

    tp: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(tp).dump_python(value, mode="json")


# ---------------------------------------------------------------------------------------------
# The reference


@dataclass
class Section:
    path: str  # "canary.actuator", "health[]"
    model: type[BaseModel]
    tag: str  # "kind: nginx", or ""


def sections() -> list[Section]:
    """Every model reachable from Config, depth first, each once per place it appears."""
    out: list[Section] = []
    seen: set[tuple[str, type[BaseModel]]] = set()

    def walk(path: str, model: type[BaseModel], tag: str) -> None:
        if (path, model) in seen:  # e.g. `auth` under each target format: one table
            return
        seen.add((path, model))
        out.append(Section(path, model, tag))
        for name, info in model.model_fields.items():
            key = info.alias or name
            origin = get_origin(_metadata(info.annotation)[0])
            suffix = "[]" if origin in (list, tuple) else ".NAME" if origin is dict else ""
            for child in _model_sections(info.annotation):
                walk(f"{path}.{key}{suffix}" if path else f"{key}{suffix}", child, _tag(child))

    walk("", Config, "")
    return out


def _anchor(section: Section) -> str:
    text = f"{section.path or 'top-level'} {section.tag}".strip().lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _row(section: Section, field: str, anchors: dict[str, list[str]]) -> str:
    info = section.model.model_fields[field]
    name = info.alias or field
    kind = type_text(info.annotation, info.metadata)
    below = anchors.get(f"{section.path}.{name}" if section.path else name, [])
    if below:  # a mapping (or list of them) with its own table: link to it
        kind = f"{kind}: see " + ", ".join(below)
    default = default_text(info)
    return f"| `{name}` | {_cell(kind)} | {_cell(default)} | {_cell(fielddocs.description(section.model, field))} |"


def _child_links(all_sections: list[Section]) -> dict[str, list[str]]:
    """"canary.actuator" -> the links to its sections (one per kind), keyed without [] / .NAME."""
    links: dict[str, list[str]] = {}
    for section in all_sections:
        key = section.path.removesuffix("[]").removesuffix(".NAME")
        label = section.tag.split(": ")[-1] if section.tag else section.path
        links.setdefault(key, []).append(f"[{label}](#{_anchor(section)})")
    return links


def reference_markdown() -> str:
    parts = [INTRO]
    all_sections = sections()
    anchors = _child_links(all_sections)
    for section in all_sections:
        title = section.path or "Top level"
        if section.tag:
            title += f" ({section.tag})"
        parts.append(f"## {title}\n")
        doc = (section.model.__doc__ or "").strip()
        if doc and section.model is not Config:
            parts.append(" ".join(doc.split()) + "\n")
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        tags = typewalk.literal_tags(section.model) if section.tag else {}
        fields = sorted(section.model.model_fields.items(), key=lambda item: item[0] not in tags)  # `kind` first
        for name, _ in fields:
            parts.append(_row(section, name, anchors))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# The JSON Schema


class _Generator(GenerateJsonSchema):
    def default_schema(self, schema: Any) -> dict[str, Any]:
        out = super().default_schema(schema)
        default = schema.get("default", PydanticUndefined)
        if isinstance(default, BaseModel):
            out.pop("default", None)  # a whole nested mapping of defaults is noise in an editor's hover
        elif default is not PydanticUndefined and "default" in out:
            try:  # "7d", not 604800.0
                out["default"] = SchemaSerializer(schema["schema"]).to_python(default, mode="json")
            except SchemaError:
                pass  # a schema that refers to models elsewhere (None or []): pydantic's default is right
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # titles repeat the key in editors' hovers

    def model_schema(self, schema: Any) -> dict[str, Any]:
        """The model's properties with their descriptions, read when the schema is generated."""
        out = super().model_schema(schema)
        for key, prop in out.get("properties", {}).items():
            text = fielddocs.description(schema["cls"], key)
            if text and "description" not in prop:
                prop["description"] = text
        return out


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema(schema_generator=_Generator)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "opsconsole config.yaml",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.config.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in ((REFERENCE, reference_markdown()), (SCHEMA, schema_text())):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run python -m engine.config.reference", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
