"""The `watch:` section: every mistake is reported with file, line and key, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.loader import ConfigError, load_config


def problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [line.removeprefix(f"{path}:") for line in caught.value.problems]


def test_a_valid_section_with_both_kinds(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "watch:\n"
        "  - {name: inbox, dir: ~/inbox, pattern: '*.json', processor: json, retry: {attempts: 5, backoff: 2s}}\n"
        "  - {name: edge, log: logs/access.json, format: json_access, from: start, error_pattern: '\"status\": 5'}\n"
    )
    inbox, edge = load_config(path).config.watch
    assert (inbox.kind, inbox.source, inbox.pattern, inbox.retry.attempts) == ("dir", "watch:inbox", ("*.json",), 5)
    assert inbox.dir == Path("~/inbox").expanduser()
    assert (edge.kind, edge.source, edge.start) == ("log", "log:edge", "start")
    assert edge.log == tmp_path / "logs" / "access.json", "relative to the config file"
    assert edge.parser_spec().label == "upstream"


def test_unknown_names_and_misplaced_keys_name_file_line_and_key(tmp_path: Path) -> None:
    found = problems(tmp_path, (
        "watch:\n"
        "  - name: inbox\n"
        "    dir: /srv/inbox\n"
        "    processor: jsn\n"
        "    format: json\n"
        "  - name: edge\n"
        "    log: /var/log/a.log\n"
        "    format: xml\n"
        "    recursive: true\n"
        "    from: middle\n"
        "    error_pattern: '(('\n"
    ))
    assert found == [
        "4: watch[0].processor: unknown processor 'jsn' (known: digest, json, lines)",
        "5: watch[0].format: applies to log sources (log:) only; this source has dir:",
        "8: watch[1].format: unknown format 'xml' (known: json, regex, json_access, nginx_combined, nginx_json, nginx_combined_upstream)",
        "9: watch[1].recursive: applies to directory sources (dir:) only; this source has log:",
        "10: watch[1].from: must be one of end, start, got 'middle'",
        "11: watch[1].error_pattern: not a valid regular expression: missing ), unterminated subpattern at position 1",
    ]


def test_a_source_needs_exactly_one_of_dir_and_log_and_a_unique_name(tmp_path: Path) -> None:
    assert problems(tmp_path, "watch:\n  - {name: a}\n  - {name: b, dir: /x, log: /y}\n") == [
        "2: watch[0]: needs exactly one of dir: (a directory to watch) or log: (a log file to tail)",
        "3: watch[1]: needs exactly one of dir: (a directory to watch) or log: (a log file to tail)",
    ]
    assert problems(tmp_path, "watch:\n  - {name: a, dir: /x}\n  - {name: a, log: /y}\n") == [
        "1: watch: source name 'a' is used twice (items 0 and 1)",
    ]


def test_regex_fields_must_be_groups_of_the_regex(tmp_path: Path) -> None:
    body = "watch:\n  - {name: a, log: /y, format: regex, regex: '(?P<code>\\d+)', status_field: status}\n"
    assert problems(tmp_path, body) == ["2: watch[0]: status_field 'status' is not a group of the regex (groups: code)"]
    assert problems(tmp_path, "watch:\n  - {name: a, log: /y, format: regex}\n") == [
        "2: watch[0]: format regex needs `regex:` (a pattern with named groups)",
    ]
