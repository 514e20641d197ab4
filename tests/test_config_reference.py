"""The configuration reference and JSON Schema say what the loader does: generated from the config
models, up to date, every key explained, and the schema an editor uses agrees with `config check`
on real files (the demo config, every example, the corpus of bad configs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, get_origin

import jsonschema
import pytest
import yaml

from engine.config import fielddocs, reference, typewalk
from engine.config.errors import ConfigError
from engine.config.loader import load_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))
BAD_CONFIGS = ROOT / "tests" / "reliability" / "bad_configs"
SCHEMA_COMMENT = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def test_generated_files_are_up_to_date() -> None:
    """Fails after a config model changed without `python -m engine.config.reference`."""
    assert reference.REFERENCE.read_text(encoding="utf-8") == reference.reference_markdown(), (
        "docs/config-reference.md is out of date: run python -m engine.config.reference")
    assert reference.SCHEMA.read_text(encoding="utf-8") == reference.schema_text(), (
        "docs/config.schema.json is out of date: run python -m engine.config.reference")
    assert reference.main(["--check"]) == 0


def _fields():
    """(key, description, FieldInfo) of every config key."""
    for section in reference.sections():
        for name, info in section.model.model_fields.items():
            yield f"{section.path or '(top)'}.{info.alias or name}", fielddocs.description(section.model, name), info


def _needs_example(info) -> bool:
    """No default to read an example from, and a value that is not a choice, a flag or a mapping
    with its own table."""
    if not info.is_required() and info.get_default(call_default_factory=False) is not None:
        return False
    tp, _ = reference._metadata(info.annotation)
    members = typewalk.union_members(tp)
    return not all(get_origin(m) is Literal or m is bool or reference._model_sections(m) for m in members)


def test_every_key_says_what_it_is_for_and_shows_an_example_where_it_has_no_default() -> None:
    missing = [key for key, text, _ in _fields() if not text.strip()]
    assert not missing, f"config keys without a docstring under the field: {missing}"
    unfinished = [key for key, text, _ in _fields() if not text.rstrip().endswith((".", ")"))]
    assert not unfinished, f"descriptions are sentences: {unfinished}"
    no_example = [key for key, text, info in _fields()
                  if _needs_example(info) and not re.search(r"\be\.g\.|\blike `", text)]
    assert not no_example, f"keys with no default need an example (e.g. `...`): {no_example}"


def test_reference_lists_every_key_with_type_default_and_range() -> None:
    text = reference.REFERENCE.read_text(encoding="utf-8")
    # The nginx actuator's keys, which a user once had to read the source for.
    section = text.split("## canary.actuator (kind: nginx)")[1].split("\n## ")[0]
    for key in ("kind", "upstream_file", "upstream", "stable", "canary", "nginx", "args", "main_config"):
        assert f"| `{key}` |" in section, key
    assert "| `upstream` | text | **required** | The name of the nginx upstream block" in section
    assert "| `interval` | duration 50ms..1h | `10s` |" in text  # canary.interval: range and default as written
    assert "| `weight` | integer 1..100 | **required** |" in text
    assert "| `journal_size_limit` | size | `64.0MB` |" in text


def _schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(reference.SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", [ROOT / "config.yaml", *EXAMPLES], ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_configs_pass_the_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in _schema_validator().iter_errors(data)]
    assert not problems, problems


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_name_the_schema_for_their_editor(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = SCHEMA_COMMENT.match(first)
    assert match, f"{path}: the first line should be '# yaml-language-server: $schema=<path to docs/config.schema.json>'"
    assert (path.parent / match.group(1)).resolve() == reference.SCHEMA


# What an editor flags before the file is saved, checked against what `config check` says.
SCHEMA_CATCHES = {
    "port_out_of_range.yaml": ["demo", "port"],
    "unknown_key_typo.yaml": ["ui"],
    "bad_literal.yaml": ["logging", "level"],
    "bad_duration_unit.yaml": ["ui", "refresh"],
    "bad_size.yaml": ["logging", "max_size"],
    "wrong_type_bool.yaml": ["ui", "bell"],
    "fraction_out_of_range.yaml": ["demo", "faults", "canary", "error_rate"],
    "backup_keep_zero.yaml": ["backup", "keep"],
    "canary_unknown_actuator.yaml": ["canary"],
}


@pytest.mark.parametrize("name", sorted(SCHEMA_CATCHES))
def test_schema_and_loader_both_refuse_a_bad_config(name: str) -> None:
    path = BAD_CONFIGS / name
    errors = list(_schema_validator().iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert [list(e.path)[: len(SCHEMA_CATCHES[name])] for e in errors] == [SCHEMA_CATCHES[name]], errors
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_a_missing_key_says_what_it_is_for(tmp_path: Path) -> None:
    path = tmp_path / "opsconsole.yaml"
    path.write_text(
        "canary:\n"
        "  service: checkout\n"
        "  stages: [{weight: 100}]\n"
        "  actuator:\n"
        "    kind: nginx\n"
        "    nginx: /usr/sbin/nginx\n"  # a key named like the tag: the path must not become actuator.nginx.upstream
        f"    upstream_file: {tmp_path / 'upstream.conf'}\n"
        "    upstream_flie: typo\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == [
        f"{path}:4: canary.actuator.upstream: required: the name of the nginx upstream block, which the "
        "server's `proxy_pass http://NAME;` names, e.g. `checkout`",
        f"{path}:4: canary.actuator.stable: required: the stable version's servers, as nginx writes them, "
        "e.g. `[127.0.0.1:8481]` or `[unix:/run/app-v1.sock]`",
        f"{path}:4: canary.actuator.canary: required: the canary version's servers, e.g. `[127.0.0.1:8482]`",
        f"{path}:8: canary.actuator.upstream_flie: unknown key 'upstream_flie' (did you mean 'upstream_file'?)",
    ]
