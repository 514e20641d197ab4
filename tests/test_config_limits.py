"""Config input is bounded (issue 18, drill 3): a wrong file of 50 MB, a 1 KB YAML alias bomb and
a deeply nested document each end in a file:line sentence from `config check`, not minutes of CPU
and gigabytes of memory. Real files, a real `config check` process. The time and peak RSS these
take are measured by bench/config_input.py, not asserted here."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.config import yamlfile
from tests.ptyrun import opsconsole_argv


def config_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*opsconsole_argv(), "config", "check", str(path)], capture_output=True, text=True,
                          timeout=120, check=False)


def alias_bomb(path: Path) -> Path:
    """Nine levels of nine aliases each: 9**9 (387 million) strings from 350 bytes."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append("profiles: {p: {ui: *i}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_alias_bomb_is_refused_with_the_line(tmp_path: Path) -> None:
    done = config_check(alias_bomb(tmp_path / "bomb.yaml"))
    assert done.returncode == 2, done
    assert f"{tmp_path / 'bomb.yaml'}:" in done.stderr
    assert f"the config builds more than {yamlfile.MAX_VALUES:,} values" in done.stderr


def test_a_file_past_the_size_limit_is_refused_with_the_line_it_reaches(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    row = "  p{}: {{ui: {{refresh: 1s}}}}\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("profiles:\n")
        index = 0
        while handle.tell() <= 2 * yamlfile.MAX_BYTES:
            handle.write(row.format(index))
            index += 1
    cut = path.read_bytes()[: yamlfile.MAX_BYTES].count(b"\n") + 1
    done = config_check(path)
    assert done.returncode == 2, done
    assert f"{path}:{cut}: the file is larger than 1 MB, the most a config may be (is this the right file?)" \
        in done.stderr


def test_a_deeply_nested_document_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("profiles: {p: " + "[" * 50_000 + "]" * 50_000 + "}\n", encoding="utf-8")
    done = config_check(path)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert f"{path}:1: the config nests lists or mappings too deeply to read" in done.stderr


def test_a_real_config_with_anchors_is_far_from_the_limits(tmp_path: Path) -> None:
    """Anchors are a real feature: forty health checks merging the first one's keys still load."""
    checks = "\n".join(f"  - {{<<: *first, name: c{i}}}" for i in range(1, 40))
    path = tmp_path / "opsconsole.yaml"
    path.write_text(f"health:\n  - &first {{kind: disk_free, name: c0, path: /, min_pct: 1, interval: 30s}}\n"
                    f"{checks}\n", encoding="utf-8")
    done = config_check(path)
    assert done.returncode == 0, done.stderr
