"""Read config.yaml into a validated `Config`, with errors that name file, line and key.

Layers, each applied over the previous one:
  1. the file (or the built-in defaults when there is none);
  2. the chosen profile (`--profile` / $OPSCONSOLE_PROFILE): `profiles.NAME` deep-merged over the
     base. Mappings merge key by key; lists and single values replace;
  3. environment overrides: OPSCONSOLE_UI__REFRESH=2s sets ui.refresh ("__" nests, keys are
     lower-cased, a numeric part indexes an existing list, values are parsed as YAML).

Within the file and the chosen profile, every string value may hold `${NAME}` references to
environment variables (`$${` is a literal `${`). Their resolved values are registered with
engine.secrets and their key paths recorded, so `show()` and the logs mask them. Values of
Path-typed fields are the exception: paths such as `${HOME}/inbox` are not secrets, and
registering `/home/alice` would mask every path in every log line.

Path-typed fields (found from the schema's annotations, so a future `Path` field needs no change
here) have `~` expanded and, when relative, are resolved against the directory of the config file
(as written, symlinks not followed) or, for environment overrides, against the current directory.

A value of a plain-text field (`str`, or a Literal of strings such as ui.color_system) that YAML
read as a number or boolean is given back as the text that was written: `color_system: 256` is
"256", `password: 0123` stays "0123" rather than the octal 83.

Problems are reported all together, one per line, as `FILE:LINE: key.path: message`, where FILE
is str(path) for the path given to load_config (as found by find_config_path: "opsconsole.yaml"
for the current directory, as given for --config and $OPSCONSOLE_CONFIG, absolute for the
others). Problems from environment overrides read `env OPSCONSOLE_X__Y: key.path: message`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from engine import secrets
from engine.config import fielddocs, typewalk, yamlfile
from engine.config.errors import ConfigError, describe_error, describe_value, format_path
from engine.config.lookup import locate_config
from engine.config.schema import Config

__all__ = ["ConfigError", "LoadedConfig", "find_config_path", "load_config"]

KeyPath = yamlfile.KeyPath
ENV_PREFIX = "OPSCONSOLE_"
# Variables with the prefix that choose what to load rather than override a key.
NOT_OVERRIDES = frozenset({"OPSCONSOLE_CONFIG", "OPSCONSOLE_PROFILE"})
_ENV_REF = re.compile(r"\$\$\{|\$\{(?P<name>[^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path | None = None  # the file read; None = built-in defaults
    profile: str | None = None
    # Dotted key paths whose value came from a ${ENV} reference, e.g. "demo.faults.canary.latency".
    secret_paths: frozenset[str] = frozenset()
    # Where each key was set: "store.path" -> "config.yaml:3" or "env OPSCONSOLE_STORE__PATH".
    origins: Mapping[str, str] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """Where `key` (dotted) or its nearest parent was set; the file itself when nowhere."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:end]))
            if found:
                return found
        return str(self.path) if self.path is not None else "built-in defaults"

    def show(self) -> str:
        """The effective config as YAML, with secret values replaced by "***"."""
        dumped = _mask(self.config.model_dump(mode="json"), (), self.secret_paths)
        text = yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True, default_flow_style=False)
        return secrets.redact(text)  # also catches a secret copied into some other value


def find_config_path(explicit: str | Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """The config file to read: --config, $OPSCONSOLE_CONFIG, ./opsconsole.yaml,
    $XDG_CONFIG_HOME/opsconsole/config.yaml (default ~/.config), else the built-in demo's file.
    engine/config/lookup.py has the order, the reasons and how each was found.

    A path that was asked for (--config or the variable) and does not exist is an error rather
    than a silent fall back."""
    return locate_config(explicit, env).path


def load_config(path: Path | None, profile: str | None = None, env: Mapping[str, str] = os.environ) -> LoadedConfig:
    """Read, merge and validate. Raises ConfigError listing every problem found."""
    source = ""  # said in "profile not found", since an exported variable is easy to forget
    if not profile:
        profile = env.get("OPSCONSOLE_PROFILE") or None
        source = " (from OPSCONSOLE_PROFILE)" if profile else ""
    return _Load(path, env).run(profile, source)


# ---------------------------------------------------------------------------------------------
# ${ENV} references, paths, text fields


def _resolve_path(text: str, base_dir: Path) -> str:
    if not text:
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


@dataclass
class _Expander:
    """Prepares one layer (the file's base, or the chosen profile) for validation."""

    env: Mapping[str, str]
    base_dir: Path
    raw: Mapping[KeyPath, str]  # the parser's source texts, by path in the file
    prefix: KeyPath  # where this layer sits in the file: () or ("profiles", NAME)
    problems: list[tuple[KeyPath, str]] = field(default_factory=list)  # path in the layer
    secrets: dict[KeyPath, list[str]] = field(default_factory=dict)

    def value(self, value: Any, tp: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, typewalk.child_type(tp, k, value), path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, typewalk.child_type(tp, i, value), path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str):
            value = self._substitute(value, tp, path)
            return _resolve_path(value, self.base_dir) if typewalk.is_path_type(tp) else value
        raw = self.raw.get(self.prefix + path)
        return raw if raw is not None and typewalk.is_text_type(tp) else value

    def _substitute(self, text: str, tp: Any, path: KeyPath) -> str:
        if "${" not in text:
            return text
        found: list[str] = []

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name = match.group("name")
            if name is None:
                self.problems.append((path, "unclosed '${' (write $${ for a literal '${')"))
            elif not _ENV_NAME.match(name):
                self.problems.append((path, f"'${{{name}}}' is not a valid environment variable name"))
            elif name not in self.env:
                self.problems.append((path, f"environment variable {name} is not set"))
            else:
                found.append(self.env[name])
                return self.env[name]
            return match.group(0)

        result = _ENV_REF.sub(replace, text)
        if found and not typewalk.is_path_type(tp):
            self.secrets[path] = found
        return result


# ---------------------------------------------------------------------------------------------
# Merging layers, and remembering where each value came from


@dataclass(frozen=True)
class _Origin:
    where: str  # "config.yaml:14" or "env OPSCONSOLE_UI__REFRESH"
    order: tuple[int, Any]  # file lines first in line order, then env variables by name
    shown: KeyPath  # the key path to print: the path in the file, e.g. profiles.prod.ui.refresh


def _deep_merge(base: Any, over: Any, path: KeyPath, replaced: list[KeyPath]) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if key in base:
                out[key] = _deep_merge(base[key], value, path + (key,), replaced)
            else:
                out[key] = value
                replaced.append(path + (key,))
        return out
    replaced.append(path)
    return over


def _drop_below(origins: dict[KeyPath, _Origin], path: KeyPath) -> None:
    """Forget where the old values under `path` came from: they were replaced."""
    for key in [k for k in origins if len(k) > len(path) and k[: len(path)] == path]:
        del origins[key]


def _mask(value: Any, path: KeyPath, secret_paths: frozenset[str]) -> Any:
    if path and format_path(path) in secret_paths:
        return secrets.MASK
    if isinstance(value, dict):
        return {k: _mask(v, path + (k,), secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, path + (i,), secret_paths) for i, v in enumerate(value)]
    return value


# ---------------------------------------------------------------------------------------------
# One load


class _Load:
    def __init__(self, path: Path | None, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env
        self.label = str(path) if path is not None else "built-in defaults"
        self.lines: dict[KeyPath, int] = {}
        self.raw: dict[KeyPath, str] = {}
        self.origins: dict[KeyPath, _Origin] = {}
        self.problems: list[tuple[tuple[int, Any], str]] = []
        self.reported: list[KeyPath] = []  # merged paths with a problem already; pydantic's are noise
        self.secrets: dict[KeyPath, list[str]] = {}

    # -- steps --------------------------------------------------------------------------------

    def run(self, profile: str | None, profile_source: str) -> LoadedConfig:
        data = self._parse() if self.path is not None else {}
        base_dir = self.path.absolute().parent if self.path is not None else Path.cwd()
        self.origins = {p: self._file_origin(p) for p in self.lines}
        merged = self._expand({k: v for k, v in data.items() if k != "profiles"}, (), base_dir)
        if profile is not None:
            merged = self._apply_profile(merged, data, profile, profile_source, base_dir)
        self._apply_overrides(merged)
        if "profiles" in data:
            merged["profiles"] = data["profiles"]  # kept as written: unchosen ones are not resolved
        for values in self.secrets.values():
            for value in values:
                secrets.register(value)  # before validating: an error message may quote a value
        config = self._validate(merged)
        if self.problems or config is None:
            ordered = sorted(self.problems, key=lambda p: p[0])
            raise ConfigError(list(dict.fromkeys(secrets.redact(text) for _, text in ordered)))
        return LoadedConfig(
            config=config,
            path=self.path,
            profile=profile,
            secret_paths=frozenset(format_path(p) for p in self.secrets),
            origins={format_path(p): origin.where for p, origin in self.origins.items() if p},
        )

    def _parse(self) -> dict[Any, Any]:
        assert self.path is not None
        text = yamlfile.read_text(self.path)
        try:
            parsed = yamlfile.parse(text)
        except yaml.YAMLError as err:
            raise yamlfile.syntax_error(self.label, text, err) from None
        except yamlfile.TooManyValues as err:
            raise ConfigError(err.sentence(self.label)) from None
        except RecursionError:  # PyYAML composes nested collections recursively
            raise ConfigError(f"{self.label}:1: the config nests lists or mappings too deeply to read "
                              "(hundreds of levels; a real config has fewer than ten)") from None
        data, self.lines, self.raw, duplicates = parsed
        for path, line, first in duplicates:
            self._add((0, line), f"{self.label}:{line}: {format_path(path)}: duplicate key (first defined at line {first})")
        if data is None:  # an empty file, or only comments: the defaults
            return {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"{self.label}:{self.lines[()]}: the top level must be a mapping of sections "
                f"(like 'ui:' and 'store:'), got {describe_value(data)}"
            )
        return data

    def _expand(self, layer: dict[Any, Any], prefix: KeyPath, base_dir: Path) -> dict[Any, Any]:
        expander = _Expander(self.env, base_dir, self.raw, prefix)
        out = expander.value(layer, Config, ())
        for path, message in expander.problems:
            self._file_problem(prefix + path, message)
            self.reported.append(path)
        self.secrets.update(expander.secrets)
        return out

    def _apply_profile(
        self, merged: dict[Any, Any], data: dict[Any, Any], name: str, source: str, base_dir: Path
    ) -> dict[Any, Any]:
        profiles = data.get("profiles")
        if self.path is None:
            self._add((0, 0), f"profile '{name}'{source} not found: there is no config file (built-in defaults)")
            return merged
        if not isinstance(profiles, dict) or name not in profiles:
            names = ", ".join(str(k) for k in profiles) if isinstance(profiles, dict) and profiles else ""
            available = f"available: {names}" if names else "the file defines no profiles"
            # Reported with the rest, so one run shows every problem; the base is still checked.
            self._add((0, 0), f"{self.label}: profile '{name}'{source} not found ({available})")
            return merged
        layer = profiles[name]
        where = ("profiles", name)
        if not isinstance(layer, dict):
            self._file_problem(where, f"a profile must be a mapping of settings, got {describe_value(layer)}")
            self.reported.append(where)
            return merged
        if "profiles" in layer:
            self._file_problem(where + ("profiles",), "profiles cannot be nested inside a profile")
            layer = {k: v for k, v in layer.items() if k != "profiles"}
        expanded = self._expand(layer, where, base_dir)
        replaced: list[KeyPath] = []
        merged = _deep_merge(merged, expanded, (), replaced)
        for path in replaced:
            _drop_below(self.origins, path)
        for path in self.lines:
            if len(path) > 2 and path[:2] == where:
                self.origins[path[2:]] = self._file_origin(path)
        return merged

    def _apply_overrides(self, merged: dict[Any, Any]) -> None:
        for name in sorted(self.env):
            if name.startswith(ENV_PREFIX) and name not in NOT_OVERRIDES:
                error = self._override(merged, name, self.env[name])
                if error is not None:
                    path, message = error
                    shown = f"{format_path(path)}: " if path else ""
                    self._add((1, name), f"env {name}: {shown}{message}")
                    if path:  # () would silence every other problem
                        self.reported.append(path)

    def _override(self, merged: dict[Any, Any], name: str, text: str) -> tuple[KeyPath, str] | None:
        """Set one OPSCONSOLE_A__B=value into `merged`. Returns (path, problem) if it cannot."""
        parts = name[len(ENV_PREFIX):].split("__")
        if not all(parts):
            return (), "not a config key; write OPSCONSOLE_SECTION__KEY, e.g. OPSCONSOLE_UI__REFRESH=2s"
        node: Any = merged
        tp: Any = Config
        path: KeyPath = ()
        for index, part in enumerate(parts):
            key: Any = part.lower()
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    return path + (int(part) if part.isdigit() else key,), f"{format_path(path)} is a list of {len(node)} items; use an index 0..{len(node) - 1}"
                key = int(part)
            elif not isinstance(node, dict):
                return path + (key,), f"{format_path(path)} is a single value, not a section"
            child_tp = typewalk.child_type(tp, key, node)
            path += (key,)
            self.origins[path] = _Origin(f"env {name}", (1, name), path)
            if index == len(parts) - 1:
                node[key] = self._override_value(text, child_tp)
                _drop_below(self.origins, path)
                return None
            if isinstance(node, dict) and key not in node:
                if child_tp is not None and not typewalk.is_container_type(child_tp):
                    return path + (parts[index + 1].lower(),), f"{format_path(path)} is a single value, not a section"
                node[key] = {}
            node, tp = node[key], child_tp
        return None

    @staticmethod
    def _override_value(text: str, tp: Any) -> Any:
        if typewalk.is_text_type(tp):
            return text  # OPSCONSOLE_UI__THEME=256 is the text "256"
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text  # not YAML: let validation say what was expected
        if typewalk.is_path_type(tp) and isinstance(value, str):
            value = _resolve_path(value, Path.cwd())  # typed in a shell: relative to where it was run
        return value

    def _validate(self, merged: dict[Any, Any]) -> Config | None:
        try:
            return Config.model_validate(merged)
        except ValidationError as err:
            for error in err.errors(include_url=False):
                self._validation_problem(error, merged)
            return None

    def _validation_problem(self, error: Mapping[str, Any], merged: dict[Any, Any]) -> None:
        tag = (error.get("ctx") or {}).get("discriminator", "")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found") and re.fullmatch(r"'\w+'", tag):
            # Point at the tag key itself: "health[2].kind: must be one of disk_free, http".
            error = {**error, "loc": (*error["loc"], tag.strip("'"))}
        path, parent = _locate(error["loc"], merged)
        if any(path[: len(done)] == done for done in self.reported):
            return  # e.g. an unset ${PORT}: "expected a whole number, got '${PORT}'" adds nothing
        origin, shown = self._origin_of(path)
        allowed = [f.alias or name for name, f in parent.model_fields.items()] if parent is not None else None
        message = describe_error(error, allowed)
        if error["type"] == "missing" and parent is not None and path:
            message += _what_for(parent, path[-1])
        self._add(origin.order, f"{origin.where}: {format_path(shown)}: {message}" if shown else f"{origin.where}: {message}")

    # -- where things came from ---------------------------------------------------------------

    def _add(self, order: tuple[int, Any], text: str) -> None:
        self.problems.append((order, text))

    def _line_of(self, path: KeyPath) -> int:
        """The line of `path` in the file, or of its nearest recorded ancestor."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def _file_origin(self, path: KeyPath) -> _Origin:
        line = self._line_of(path)
        return _Origin(f"{self.label}:{line}", (0, line), path)

    def _file_problem(self, path: KeyPath, message: str) -> None:
        origin = self._file_origin(path)
        self._add(origin.order, f"{origin.where}: {format_path(path)}: {message}")

    def _origin_of(self, path: KeyPath) -> tuple[_Origin, KeyPath]:
        """The origin of the longest recorded prefix of `path`, and the key path to show."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(path[:end])
            if origin is not None:
                return origin, origin.shown + path[end:]
        return _Origin(self.label, (0, 0), ()), path


def _what_for(model: type[BaseModel], key: Any) -> str:
    """": the nginx upstream block ..." — what a missing key is for, from its docstring."""
    text = fielddocs.description(model, key).rstrip(".")
    if not text:
        return ""
    return f": {text[:1].lower()}{text[1:]}"


def _locate(loc: tuple[Any, ...], data: Any) -> tuple[KeyPath, type[BaseModel] | None]:
    """A pydantic error location -> (key path in the data, the model where it points).

    pydantic inserts union member names and tags into locations; they are not keys in the file,
    so a part that is not in the data (other than a missing key at the end) is skipped."""
    path: KeyPath = ()
    tp: Any = Config
    parent: Any = None
    for index, part in enumerate(loc):
        member = typewalk.member_named(tp, part)
        if member is not tp and len(typewalk.union_members(tp)) > 1:
            tp = member  # a union's tag ("nginx"), even when the data has a key of that name
            continue
        present = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if present:
            parent = typewalk.select(tp, data)
            tp, data = typewalk.child_type(tp, part, data), data[part]
            path += (part,)
        elif index == len(loc) - 1 and typewalk.member_named(tp, part) is tp:  # not a union tag
            parent = typewalk.select(tp, data)
            path += (part,)
        else:
            tp = typewalk.member_named(tp, part)
    return path, parent if typewalk.is_model(parent) else None
