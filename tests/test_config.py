"""The config loader (engine/config/loader.py) and secret redaction (engine/secrets.py).

Every bad-config case asserts the exact operator-facing line: the point of the loader is that an
operator reading `config.yaml:14: demo.canary_weight: must be 0..100, got 150` knows what to fix.
Configs are real files in a temporary directory, read as ./config.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine import secrets
from engine.config.errors import format_path
from engine.config.loader import ConfigError, LoadedConfig, find_config_path, load_config
from engine.config.lookup import BUILTIN_DEMO
from engine.config.schema import Config

# Parts add sections as they land; the message lists them in schema order.
TOP_LEVEL_KEYS = ", ".join(Config.model_fields)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in a fresh directory, with no secrets left over from another test."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    secrets.clear()
    yield work
    secrets.clear()


def write(text: str | bytes, name: str = "config.yaml") -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def problems(text: str | bytes, env: dict[str, str] | None = None, profile: str | None = None) -> list[str]:
    path = write(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, profile, env=env or {})
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


# ---------------------------------------------------------------------------------------------
# Bad configs: one exact line each

PROFILES = "ui:\n  refresh: 1s\nprofiles:\n  dev: {}\n  prod:\n    ui:\n      refresh: 0s\n"

BAD: list[tuple[str, str | bytes, dict[str, str], str | None, list[str]]] = [
    # --- unknown keys
    ("unknown-key-suggestion", "ui:\n  refrsh: 2s\n", {}, None,
     ["config.yaml:2: ui.refrsh: unknown key 'refrsh' (did you mean 'refresh'?)"]),
    ("unknown-key-lists-allowed", "ui:\n  zzz: 1\n", {}, None,
     ["config.yaml:2: ui.zzz: unknown key 'zzz' (allowed: refresh, theme, color_system, bell, low_bandwidth)"]),
    ("unknown-section", "ui: {}\nloging:\n  level: INFO\n", {}, None,
     ["config.yaml:2: loging: unknown key 'loging' (did you mean 'logging'?)"]),
    ("nested-unknown-key", "monitor:\n  host:\n    enabled: true\n    intervl: 5s\n", {}, None,
     ["config.yaml:4: monitor.host.intervl: unknown key 'intervl' (did you mean 'interval'?)"]),
    ("yaml-1.1-bool-key-kept-as-text", "on: 1\n", {}, None,
     ["config.yaml:1: on: unknown key 'on' (allowed: " + TOP_LEVEL_KEYS + ")"]),
    # --- wrong types
    ("wrong-type-number", "demo:\n  rps: abc\n", {}, None,
     ["config.yaml:2: demo.rps: expected a number, got 'abc'"]),
    ("wrong-type-whole-number", "demo:\n  inbox_keep: 1.5\n", {}, None,
     ["config.yaml:2: demo.inbox_keep: expected a whole number, got 1.5"]),
    ("wrong-type-bool", "ui:\n  bell: maybe\n", {}, None,
     ["config.yaml:2: ui.bell: expected true or false, got 'maybe'"]),
    ("wrong-type-string", "ui:\n  theme: [a, b]\n", {}, None,
     ["config.yaml:2: ui.theme: expected a string, got a list"]),
    ("wrong-type-path", "store:\n  path: {a: 1}\n", {}, None,
     ["config.yaml:2: store.path: expected a file path, got a mapping"]),
    ("section-not-mapping", "store: {}\nui: 5\n", {}, None,
     ["config.yaml:2: ui: expected a mapping of keys, got 5"]),
    ("empty-section", "ui:\n", {}, None,
     ["config.yaml:1: ui: expected a mapping of keys, got an empty value"]),
    # --- durations and sizes
    ("bad-duration", "ui:\n  refresh: fast\n", {}, None,
     ["config.yaml:2: ui.refresh: expected a duration like 500ms, 5s, 2m, 1h or 7d, got 'fast'"]),
    ("zero-interval", "monitor:\n  host:\n    interval: 0s\n", {}, None,
     ["config.yaml:3: monitor.host.interval: must be greater than 0, got 0s"]),
    ("negative-duration-text", "monitor:\n  host:\n    interval: -2s\n", {}, None,
     ["config.yaml:3: monitor.host.interval: expected a duration like 500ms, 5s, 2m, 1h or 7d, got '-2s'"]),
    ("negative-duration-number", "engine:\n  self_metrics_interval: -5\n", {}, None,
     ["config.yaml:2: engine.self_metrics_interval: a duration cannot be negative, got -5"]),
    ("duration-out-of-range", "ui:\n  refresh: 2m\n", {}, None,
     ["config.yaml:2: ui.refresh: must be 100ms..1m, got 2m"]),
    ("bad-size", "logging:\n  max_size: big\n", {}, None,
     ["config.yaml:2: logging.max_size: expected a size like 512KB, 100MB or 1GB, got 'big'"]),
    ("bad-size-unit", "store:\n  journal_size_limit: 64XB\n", {}, None,
     ["config.yaml:2: store.journal_size_limit: unknown size unit 'XB' in '64XB' (use B, KB, MB, GB, TB)"]),
    # --- ranges and choices
    ("negative-number", "demo:\n  port: -1\n", {}, None,
     ["config.yaml:2: demo.port: must be 0..65535, got -1"]),
    ("out-of-range-weight", "demo:\n  enabled: true\n  canary_weight: 150\n", {}, None,
     ["config.yaml:3: demo.canary_weight: must be 0..100, got 150"]),
    ("out-of-range-fraction", "demo:\n  faults:\n    canary:\n      error_rate: 2\n", {}, None,
     ["config.yaml:4: demo.faults.canary.error_rate: must be 0..1, got 2"]),
    ("bad-literal", "ui:\n  color_system: x\n", {}, None,
     ["config.yaml:2: ui.color_system: must be one of auto, truecolor, 256, 16, mono, got 'x'"]),
    ("bad-literal-case", "logging:\n  level: debug\n", {}, None,
     ["config.yaml:2: logging.level: must be one of DEBUG, INFO, WARNING, ERROR, got 'debug'"]),
    # --- YAML itself
    ("syntax-error", "ui:\n  refresh: 1s\n   theme: x\n", {}, None,
     ["config.yaml:3: YAML syntax error: mapping values are not allowed here"]),
    ("syntax-error-tab", "ui:\n\trefresh: 1s\n", {}, None,
     ["config.yaml:2: YAML syntax error: found character '\\t' that cannot start any token"]),
    ("syntax-error-unclosed-list", "ui: [1, 2\nstore: {}\n", {}, None,
     ["config.yaml:2: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence at line 1)"]),
    ("syntax-error-two-documents", "ui: {}\n---\nui: {}\n", {}, None,
     ["config.yaml:2: YAML syntax error: expected a single document in the stream, but found another document"]),
    ("unsafe-tag-refused", "ui:\n  theme: !!python/object/apply:os.system ls\n", {}, None,
     ["config.yaml:2: YAML syntax error: could not determine a constructor for the tag "
      "'tag:yaml.org,2002:python/object/apply:os.system'"]),
    ("unsafe-tag-on-a-list-refused", "ui: !!python/object/apply:os.system [ls]\n", {}, None,
     ["config.yaml:1: YAML syntax error: unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system'"]),
    ("control-character", "ui:\n  theme: a\x07b\n", {}, None,
     ["config.yaml:2: YAML syntax error: special characters are not allowed, found '\\x07'"]),
    ("not-utf8", b"ui:\n  theme: caf\xe9\n", {}, None,
     ["config.yaml:2: not UTF-8 text (bad byte at offset 16)"]),
    ("duplicate-key", "ui:\n  refresh: 1s\n  theme: a\n  refresh: 2s\n", {}, None,
     ["config.yaml:4: ui.refresh: duplicate key (first defined at line 2)"]),
    ("duplicate-section", "ui: {}\ndemo: {}\nui: {}\n", {}, None,
     ["config.yaml:3: ui: duplicate key (first defined at line 1)"]),
    ("top-level-list", "- ui\n- demo\n", {}, None,
     ["config.yaml:1: the top level must be a mapping of sections (like 'ui:' and 'store:'), got a list"]),
    ("top-level-scalar", "# just a word\nhello\n", {}, None,
     ["config.yaml:2: the top level must be a mapping of sections (like 'ui:' and 'store:'), got 'hello'"]),
    # --- ${ENV} references
    ("missing-env", "ui:\n  theme: ${THEME_NAME}\n", {}, None,
     ["config.yaml:2: ui.theme: environment variable THEME_NAME is not set"]),
    ("missing-env-typed-field-one-problem", "demo:\n  port: ${DEMO_PORT}\n", {}, None,
     ["config.yaml:2: demo.port: environment variable DEMO_PORT is not set"]),
    ("bad-env-name", "ui:\n  theme: x-${THEME NAME}\n", {}, None,
     ["config.yaml:2: ui.theme: '${THEME NAME}' is not a valid environment variable name"]),
    ("unclosed-env-ref", "ui:\n  theme: ${THEME\n", {}, None,
     ["config.yaml:2: ui.theme: unclosed '${' (write $${ for a literal '${')"]),
    # --- profiles
    ("unknown-profile", PROFILES, {}, "prd",
     ["config.yaml: profile 'prd' not found (available: dev, prod)"]),
    ("unknown-profile-from-env", PROFILES, {"OPSCONSOLE_PROFILE": "prd"}, None,
     ["config.yaml: profile 'prd' (from OPSCONSOLE_PROFILE) not found (available: dev, prod)"]),
    ("no-profiles-defined", "ui: {}\n", {}, "prod",
     ["config.yaml: profile 'prod' not found (the file defines no profiles)"]),
    ("error-inside-profile", PROFILES, {}, "prod",
     ["config.yaml:7: profiles.prod.ui.refresh: must be greater than 0, got 0s"]),
    ("unknown-key-inside-profile", "profiles:\n  prod:\n    demo:\n      canary_wieght: 5\n", {}, "prod",
     ["config.yaml:4: profiles.prod.demo.canary_wieght: unknown key 'canary_wieght' (did you mean 'canary_weight'?)"]),
    ("missing-env-inside-profile", "profiles:\n  prod:\n    ui:\n      theme: ${PROD_THEME}\n", {}, "prod",
     ["config.yaml:4: profiles.prod.ui.theme: environment variable PROD_THEME is not set"]),
    ("profile-not-mapping", "profiles:\n  prod: 5\n", {}, "prod",
     ["config.yaml:2: profiles.prod: a profile must be a mapping of settings, got 5"]),
    ("profile-nested-profiles", "profiles:\n  prod:\n    profiles: {}\n", {}, "prod",
     ["config.yaml:3: profiles.prod.profiles: profiles cannot be nested inside a profile"]),
    # --- environment overrides
    ("bad-env-override", "ui: {}\n", {"OPSCONSOLE_UI__REFRESH": "fast"}, None,
     ["env OPSCONSOLE_UI__REFRESH: ui.refresh: expected a duration like 500ms, 5s, 2m, 1h or 7d, got 'fast'"]),
    ("env-override-out-of-range", "ui: {}\n", {"OPSCONSOLE_DEMO__CANARY_WEIGHT": "150"}, None,
     ["env OPSCONSOLE_DEMO__CANARY_WEIGHT: demo.canary_weight: must be 0..100, got 150"]),
    ("unknown-env-override-key", "ui: {}\n", {"OPSCONSOLE_UI__REFRSH": "2s"}, None,
     ["env OPSCONSOLE_UI__REFRSH: ui.refrsh: unknown key 'refrsh' (did you mean 'refresh'?)"]),
    ("unknown-env-override-section", "ui: {}\n", {"OPSCONSOLE_UII__REFRESH": "2s"}, None,
     ["env OPSCONSOLE_UII__REFRESH: uii: unknown key 'uii' (did you mean 'ui'?)"]),
    ("env-override-below-a-value", "ui: {}\n", {"OPSCONSOLE_UI__THEME__NAME": "x"}, None,
     ["env OPSCONSOLE_UI__THEME__NAME: ui.theme.name: ui.theme is a single value, not a section"]),
    ("env-override-malformed-name", "ui: {}\n", {"OPSCONSOLE_UI__": "x"}, None,
     ["env OPSCONSOLE_UI__: not a config key; write OPSCONSOLE_SECTION__KEY, e.g. OPSCONSOLE_UI__REFRESH=2s"]),
    ("env-override-replaces-file-value", "demo:\n  faults:\n    canary:\n      error_rate: 0.5\n",
     {"OPSCONSOLE_DEMO__FAULTS": "{canary: {error_rate: 3}}"}, None,
     ["env OPSCONSOLE_DEMO__FAULTS: demo.faults.canary.error_rate: must be 0..1, got 3"]),
]


@pytest.mark.parametrize(("text", "env", "profile", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_says_file_line_key_and_what_is_wrong(
    text: str | bytes, env: dict[str, str], profile: str | None, expected: list[str]
) -> None:
    assert problems(text, env, profile) == expected


def test_every_problem_is_reported_at_once_in_file_order_then_env() -> None:
    text = (
        "ui:\n"
        "  refresh: fast\n"          # 2
        "  colour_system: mono\n"    # 3
        "demo:\n"
        "  canary_weight: 150\n"     # 5
        "  port: ${DEMO_PORT}\n"     # 6
        "ui:\n"                      # 7: duplicate; pyyaml alone would silently keep this one
        "  refresh: 0s\n"            # 8
    )
    env = {"OPSCONSOLE_LOGGING__LEVEL": "LOUD", "OPSCONSOLE_BOGUS": "1"}
    assert problems(text, env) == [
        "config.yaml:5: demo.canary_weight: must be 0..100, got 150",
        "config.yaml:6: demo.port: environment variable DEMO_PORT is not set",
        "config.yaml:7: ui: duplicate key (first defined at line 1)",
        "config.yaml:8: ui.refresh: must be greater than 0, got 0s",
        "env OPSCONSOLE_BOGUS: bogus: unknown key 'bogus' (allowed: " + TOP_LEVEL_KEYS + ")",
        "env OPSCONSOLE_LOGGING__LEVEL: logging.level: must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'",
    ]


def test_a_malformed_override_name_does_not_hide_other_problems() -> None:
    assert problems("ui:\n  bell: maybe\n", env={"OPSCONSOLE_UI__": "x"}) == [
        "config.yaml:2: ui.bell: expected true or false, got 'maybe'",
        "env OPSCONSOLE_UI__: not a config key; write OPSCONSOLE_SECTION__KEY, e.g. OPSCONSOLE_UI__REFRESH=2s",
    ]


def test_unknown_profile_is_reported_with_the_base_files_problems() -> None:
    assert problems("ui:\n  bell: maybe\nprofiles:\n  dev: {}\n", profile="prod") == [
        "config.yaml: profile 'prod' not found (available: dev)",
        "config.yaml:2: ui.bell: expected true or false, got 'maybe'",
    ]


# ---------------------------------------------------------------------------------------------
# Files that cannot be read


def load_error(path: Path | str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(Path(path), env={})
    return str(info.value)


def test_directory_as_config_path() -> None:
    Path("conf.d").mkdir()
    assert load_error("conf.d") == "config file 'conf.d' is a directory, not a file"


def test_unreadable_file() -> None:
    path = write("ui: {}\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop reading (see the not-a-directory test)")
        assert load_error(path) == "cannot read config file 'config.yaml': permission denied"
    finally:
        path.chmod(0o644)


def test_path_below_a_file_cannot_be_read() -> None:
    write("not a directory\n", name="notadir")
    assert load_error("notadir/config.yaml") == (
        "cannot read config file 'notadir/config.yaml': a parent of it is not a directory"
    )


def test_missing_file_given_to_load_config() -> None:
    assert load_error("nope.yaml") == "config file 'nope.yaml' does not exist"


def test_missing_explicit_config_file() -> None:
    with pytest.raises(ConfigError, match=r"^config file 'nope\.yaml' \(from --config\) does not exist$"):
        find_config_path("nope.yaml", env={})


def test_missing_config_file_from_environment() -> None:
    with pytest.raises(ConfigError, match=r"^config file 'gone\.yaml' \(from OPSCONSOLE_CONFIG\) does not exist$"):
        find_config_path(None, env={"OPSCONSOLE_CONFIG": "gone.yaml"})


# ---------------------------------------------------------------------------------------------
# Good configs

GOOD = """\
store:
  path: data/history.db
  journal_size_limit: 1GB
ui:
  refresh: 500ms
  theme: "night-${THEME_SUFFIX}"
  color_system: 256
demo:
  enabled: true
  rps: 5
  faults:
    baseline: &slow {latency: 200ms, error_rate: 0.1}
    canary:
      <<: *slow
      error_rate: 0.25
logging:
  file: ~/logs/opsconsole.log
  level: DEBUG
profiles:
  prod:
    ui:
      refresh: 2s
    demo:
      canary_weight: 10
      rps: 50
"""


def test_good_config_with_profile_env_override_and_secret(in_tmp: Path, isolated_home: Path) -> None:
    path = write(GOOD)
    env = {"THEME_SUFFIX": "hunter2", "OPSCONSOLE_DEMO__RPS": "7.5", "OPSCONSOLE_UI__BELL": "true"}
    loaded = load_config(path, "prod", env=env)
    cfg = loaded.config
    assert (loaded.path, loaded.profile) == (path, "prod")
    assert loaded.secret_paths == frozenset({"ui.theme"})
    # file values, typed
    assert cfg.store.path == in_tmp / "data" / "history.db"
    assert cfg.store.journal_size_limit == 1_000_000_000
    assert cfg.ui.theme == "night-hunter2"
    assert cfg.ui.color_system == "256"  # YAML read an int; the field is text
    assert cfg.demo.enabled is True
    assert cfg.demo.faults.canary.latency == pytest.approx(0.2)  # from the merge key
    assert cfg.demo.faults.canary.error_rate == 0.25  # own key beats the merged one
    assert cfg.logging.file == isolated_home / "logs" / "opsconsole.log"
    assert cfg.logging.level == "DEBUG"
    # the profile over the file, the environment over both
    assert cfg.ui.refresh == 2.0
    assert cfg.demo.canary_weight == 10
    assert cfg.demo.rps == 7.5
    assert cfg.ui.bell is True


def test_profile_from_environment_variable() -> None:
    loaded = load_config(write(GOOD), env={"OPSCONSOLE_PROFILE": "prod", "THEME_SUFFIX": "x"})
    assert loaded.profile == "prod"
    assert loaded.config.ui.refresh == 2.0


def test_profile_merges_mappings_key_by_key() -> None:
    loaded = load_config(write(GOOD), "prod", env={"THEME_SUFFIX": "x"})
    assert loaded.config.demo.enabled is True  # not in the profile's demo: kept from the file
    assert loaded.config.ui.color_system == "256"


def test_without_profile_the_profile_is_not_applied_nor_resolved() -> None:
    text = GOOD + "  staging:\n    ui:\n      theme: ${ONLY_ON_STAGING}\n"
    loaded = load_config(write(text), env={"THEME_SUFFIX": "x"})
    assert loaded.profile is None
    assert loaded.config.ui.refresh == 0.5
    assert loaded.config.profiles["staging"] == {"ui": {"theme": "${ONLY_ON_STAGING}"}}


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "---\n"])
def test_empty_file_means_defaults(text: str) -> None:
    loaded = load_config(write(text), env={})
    assert loaded.config == Config()


def test_no_file_means_defaults_plus_env_overrides() -> None:
    loaded = load_config(None, env={"OPSCONSOLE_UI__REFRESH": "3s", "OPSCONSOLE_CONFIG": "ignored.yaml"})
    assert loaded.path is None
    assert loaded.config.ui.refresh == 3.0
    assert loaded.config.store == Config().store


def test_no_file_and_a_profile_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^profile 'prod' not found: there is no config file \(built-in defaults\)$"):
        load_config(None, "prod", env={})


def test_env_override_values_are_yaml_scalars_and_text_fields_stay_text() -> None:
    env = {
        "OPSCONSOLE_UI__THEME": "256",          # str field: text as typed, not the int 256
        "OPSCONSOLE_UI__BELL": "false",
        "OPSCONSOLE_DEMO__PORT": "8470",
        "OPSCONSOLE_MONITOR__HOST__INTERVAL": "5",  # bare number = seconds
        "OPSCONSOLE_LOGGING__MAX_SIZE": "2MB",
    }
    cfg = load_config(write("ui:\n  bell: true\n"), env=env).config
    assert (cfg.ui.theme, cfg.ui.bell, cfg.demo.port) == ("256", False, 8470)
    assert cfg.monitor.host.interval == 5.0
    assert cfg.logging.max_size == 2_000_000


def test_text_field_keeps_the_yaml_text_not_the_number() -> None:
    # YAML 1.1 reads 0123 as octal 83 and `no` as false; a text field wants what was written.
    cfg = load_config(write("ui:\n  theme: 0123\n  color_system: 16\nlogging: {level: INFO}\n"), env={}).config
    assert (cfg.ui.theme, cfg.ui.color_system) == ("0123", "16")


def test_dollar_dollar_brace_is_a_literal() -> None:
    loaded = load_config(write("ui:\n  theme: cost-$${PRICE}\n"), env={"PRICE": "9"})
    assert loaded.config.ui.theme == "cost-${PRICE}"
    assert loaded.secret_paths == frozenset()


# ---------------------------------------------------------------------------------------------
# Relative paths


def test_relative_paths_resolve_against_the_config_files_directory(in_tmp: Path, isolated_home: Path) -> None:
    path = write("store:\n  path: db/history.db\ndemo:\n  dir: ../demo\nlogging:\n  file: /var/log/ops.log\n",
                 name="etc/ops/config.yaml")
    cfg = load_config(path, env={}).config
    assert cfg.store.path == in_tmp / "etc" / "ops" / "db" / "history.db"  # not ./db/history.db
    assert cfg.demo.dir == in_tmp / "etc" / "ops" / ".." / "demo"
    assert cfg.logging.file == Path("/var/log/ops.log")


def test_tilde_and_env_in_paths(isolated_home: Path) -> None:
    cfg = load_config(write("store:\n  path: ~/h.db\ndemo:\n  dir: ${DATA}/demo\n"), env={"DATA": "/srv/data"}).config
    assert cfg.store.path == isolated_home / "h.db"
    assert cfg.demo.dir == Path("/srv/data/demo")


def test_paths_in_a_profile_resolve_against_the_config_file(in_tmp: Path) -> None:
    path = write("profiles:\n  prod:\n    store:\n      path: prod.db\n", name="conf/config.yaml")
    assert load_config(path, "prod", env={}).config.store.path == in_tmp / "conf" / "prod.db"


def test_path_from_env_override_resolves_against_the_current_directory(in_tmp: Path) -> None:
    path = write("ui: {}\n", name="conf/config.yaml")
    cfg = load_config(path, env={"OPSCONSOLE_STORE__PATH": "here.db"}).config
    assert cfg.store.path == in_tmp / "here.db"


def test_path_values_from_env_are_not_secrets() -> None:
    # Registering $HOME's value as a secret would mask every path in every log line.
    loaded = load_config(write("demo:\n  dir: ${DATA}/demo\n"), env={"DATA": "/srv/data"})
    assert loaded.secret_paths == frozenset()
    assert secrets.redact("/srv/data") == "/srv/data"


# ---------------------------------------------------------------------------------------------
# Secrets


def test_show_masks_secrets_and_never_contains_them() -> None:
    text = "ui:\n  theme: ${API_TOKEN}\ndemo:\n  port: ${DEMO_PORT}\n"
    loaded = load_config(write(text), env={"API_TOKEN": "s3cr3t-t0ken", "DEMO_PORT": "8471"})
    assert loaded.config.ui.theme == "s3cr3t-t0ken"
    assert loaded.config.demo.port == 8471
    assert loaded.secret_paths == frozenset({"ui.theme", "demo.port"})
    shown = loaded.show()
    assert "s3cr3t-t0ken" not in shown and "8471" not in shown
    dumped = yaml.safe_load(shown)
    assert dumped["ui"]["theme"] == "***"
    assert dumped["demo"]["port"] == "***"
    # the rest is the effective config, with durations and sizes as strings
    assert dumped["ui"]["refresh"] == "1s"
    assert dumped["logging"]["max_size"] == "10.0MB"


def test_show_redacts_a_secret_copied_into_another_value() -> None:
    loaded = load_config(write("ui:\n  theme: ${API_TOKEN}\n"), env={"API_TOKEN": "s3cr3t-t0ken"})
    copy = LoadedConfig(
        config=loaded.config.model_copy(update={"store": loaded.config.store.model_copy(update={"path": Path("/x/s3cr3t-t0ken")})}),
        path=loaded.path, profile=None, secret_paths=loaded.secret_paths,
    )
    shown = copy.show()
    assert "s3cr3t-t0ken" not in shown
    assert "path: /x/***" in shown


def test_loading_registers_secret_values_for_redaction() -> None:
    load_config(write("ui:\n  theme: Bearer ${API_TOKEN}\n"), env={"API_TOKEN": "abcd-1234"})
    assert secrets.redact("sent Authorization: Bearer abcd-1234") == "sent Authorization: Bearer ***"


def test_a_secret_is_not_quoted_in_an_error_message() -> None:
    assert problems("demo:\n  port: ${DEMO_PORT}\n", env={"DEMO_PORT": "hunter22"}) == [
        "config.yaml:2: demo.port: expected a whole number, got '***'"
    ]


def test_redact_replaces_every_registered_value() -> None:
    secrets.register("tok-123456")
    secrets.register("pa55word")
    assert secrets.redact("a=tok-123456 b=pa55word c=tok-123456") == "a=*** b=*** c=***"


def test_redact_masks_the_longest_secret_whole() -> None:
    secrets.register("abcd")
    secrets.register("abcdefgh")
    assert secrets.redact("key abcdefgh") == "key ***"  # not "key ***efgh"


def test_redact_short_secrets_only_where_they_stand_alone() -> None:
    secrets.register("ab")
    assert secrets.redact("tab absent ab, 'ab'") == "tab absent ***, '***'"


def test_redact_ignores_empty_and_clear_forgets() -> None:
    secrets.register("")
    assert secrets.redact("text") == "text"
    secrets.register("hunter2")
    secrets.clear()
    assert secrets.redact("hunter2") == "hunter2"


# ---------------------------------------------------------------------------------------------
# Finding the file


def test_find_config_path_search_order(in_tmp: Path, isolated_home: Path) -> None:
    explicit = write("{}\n", name="explicit.yaml")
    from_env = write("{}\n", name="from-env.yaml")
    write("services: {web: {image: nginx}}\n", name="config.yaml")  # another tool's: never read
    local = write("{}\n", name="opsconsole.yaml")
    xdg = in_tmp / "xdg"
    user = xdg / "opsconsole" / "config.yaml"
    home_user = isolated_home / ".config" / "opsconsole" / "config.yaml"
    for p in (user, home_user):
        p.parent.mkdir(parents=True)
        p.write_text("{}\n")
    env = {"OPSCONSOLE_CONFIG": str(from_env), "XDG_CONFIG_HOME": str(xdg), "HOME": str(isolated_home)}

    assert find_config_path(explicit, env) == explicit
    assert find_config_path(None, env) == from_env
    del env["OPSCONSOLE_CONFIG"]
    assert find_config_path(None, env) == local
    local.unlink()
    assert find_config_path(None, env) == user
    del env["XDG_CONFIG_HOME"]
    assert find_config_path(None, env) == home_user
    env["XDG_CONFIG_HOME"] = "relative/xdg"  # the XDG spec: ignore a relative value
    assert find_config_path(None, env) == home_user
    home_user.unlink()
    assert find_config_path(None, env) == BUILTIN_DEMO


def test_find_config_path_expands_tilde(isolated_home: Path) -> None:
    (isolated_home / "ops.yaml").write_text("{}\n")
    assert find_config_path("~/ops.yaml", env={}) == isolated_home / "ops.yaml"


def test_format_path() -> None:
    assert format_path(("collect", "tracks", 0, "targets", 1, "token")) == "collect.tracks[0].targets[1].token"
    assert format_path(()) == ""


def test_default_paths_follow_the_environment_of_each_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config with no store:, logging:, demo: or backup: section gets its paths from
    $XDG_STATE_HOME as it is when loaded, not when the schema was imported (a test process that
    imported it first, then pointed XDG_STATE_HOME elsewhere, looked for the wrong history)."""
    path = tmp_path / "opsconsole.yaml"
    path.write_text("ui: {refresh: 1s}\n", encoding="utf-8")
    for state in (tmp_path / "one", tmp_path / "two"):
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        config = load_config(path).config
        assert config.store.path == state / "opsconsole" / "history.db"
        assert config.logging.file == state / "opsconsole" / "opsconsole.log"
        assert config.demo.dir == state / "opsconsole" / "demo"
        assert config.backup.dir == state / "opsconsole" / "backups"


REPO = Path(__file__).resolve().parents[1]
YAML_CORPUS = sorted({*REPO.glob("*.yaml"), *REPO.glob("examples/**/*.yaml"),
                      *(REPO / "tests" / "reliability" / "bad_configs").rglob("*.yaml")})


def _read_with(loader_class: type, text: str) -> tuple[object, ...]:
    from engine.config import yamlfile

    try:
        return tuple(yamlfile.read_with(loader_class, text))
    except yaml.YAMLError as err:
        return ("error", type(err).__name__, getattr(err, "problem_mark", None) and err.problem_mark.line)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml: one parser only")
def test_libyaml_and_pure_python_parsers_read_every_config_the_same() -> None:
    """Configs are read with libyaml (fast) and only a file it rejects again with PyYAML's own
    parser: on the demo config, every example and the bad-config corpus, both give the same data,
    key lines, plain-scalar source text and duplicate keys, or reject the same file at the same line."""
    from engine.config import yamlfile

    assert len(YAML_CORPUS) > 40
    for path in YAML_CORPUS:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            continue  # refused before any parser sees it
        assert _read_with(yamlfile.FastLineLoader, text) == _read_with(yamlfile.LineLoader, text), path


def test_a_syntax_error_is_worded_by_the_pure_python_parser(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("ui:\n  refresh: 1s\n  theme: [dark\nstore: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:4: YAML syntax error: ")
    assert "expected ',' or ']', but got" in str(caught.value)  # PyYAML's words (libyaml: "did not find expected")
