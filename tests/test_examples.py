"""Every examples/*/opsconsole.yaml (whoever wrote it) passes `opsconsole config check` as shipped,
points editors at the generated schema, and comes with a README. Each example's behaviour has a
test of its own (tests/test_example_*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examplekit import EXAMPLES
from tests.nginxrig import opsconsole

SCHEMA_LINE = "# yaml-language-server: $schema=../../docs/config.schema.json"
CONFIGS = sorted(EXAMPLES.glob("*/opsconsole.yaml"))


def test_the_examples_are_there() -> None:
    names = {path.parent.name for path in CONFIGS}
    assert {"headless-systemd", "prometheus", "plain-host"} <= names, names


@pytest.mark.parametrize("config", CONFIGS, ids=[path.parent.name for path in CONFIGS])
def test_example_config_passes_config_check(config: Path) -> None:
    done = opsconsole("config", "check", str(config))
    assert done.returncode == 0, f"{config}:\n{done.stdout}{done.stderr}"
    assert done.stdout.strip().endswith(": OK"), done.stdout


@pytest.mark.parametrize("config", CONFIGS, ids=[path.parent.name for path in CONFIGS])
def test_example_points_at_the_schema_and_has_a_readme(config: Path) -> None:
    assert config.read_text().splitlines()[0] == SCHEMA_LINE, f"{config}: the first line must be {SCHEMA_LINE!r}"
    readme = config.parent / "README.md"
    assert readme.is_file() and "config check" in readme.read_text(), f"{readme}: say how to check and run it"
