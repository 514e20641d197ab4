"""A duplicate track or target name is reported at its own `name:` line, beside the section's other
problems, not only after they are fixed (issue 18, drill 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.errors import ConfigError
from engine.config.loader import load_config

TWO_TRACKS = """\
collect:
  tracks:
    - name: fast
      interval: 1s
      targets:
        - {{name: api, url: http://127.0.0.1:9/metrics, format: prometheus}}
        - {{name: web, url: {web_url}, format: prometheus}}
    - name: {second_track}
      targets:
        - {{name: db, url: http://127.0.0.1:9/metrics, format: prometheus}}
        - name: api
          url: http://127.0.0.1:9/health
          format: health
"""


def problems(tmp_path: Path, **values: str) -> list[str]:
    path = tmp_path / "opsconsole.yaml"
    path.write_text(TWO_TRACKS.format(**values), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def test_a_duplicate_target_is_reported_with_another_error_in_the_same_section(tmp_path: Path) -> None:
    assert problems(tmp_path, web_url="not-a-url", second_track="slow") == [
        "7: collect.tracks[0].targets[1].url: must be an http:// or https:// URL, got 'not-a-url'",
        "11: collect.tracks[1].targets[1].name: target name 'api' is used twice (tracks 'fast' and 'slow')",
    ]


def test_a_duplicate_target_alone_points_at_its_name(tmp_path: Path) -> None:
    assert problems(tmp_path, web_url="http://127.0.0.1:9/metrics", second_track="slow") == [
        "11: collect.tracks[1].targets[1].name: target name 'api' is used twice (tracks 'fast' and 'slow')",
    ]


def test_a_duplicate_track_and_target_are_both_reported(tmp_path: Path) -> None:
    assert problems(tmp_path, web_url="http://127.0.0.1:9/metrics", second_track="fast") == [
        "8: collect.tracks[1].name: track name 'fast' is used twice",
        "11: collect.tracks[1].targets[1].name: target name 'api' is used twice (tracks 'fast' and 'fast')",
    ]
