"""The nginx log presets on lines a real nginx wrote with the exact `log_format` lines the presets
document (engine/watch/parsers.py), read by a real engine: both formats give the same per-version
counts, with nginx's multi-address `$upstream_addr` (a retried request) and its "-" (no upstream)."""

from __future__ import annotations

import os
import subprocess
from contextlib import ExitStack
from pathlib import Path

from engine.watch import parsers
from tests.headlessfixtures import free_port
from tests.nginxrig import NGINX, backend, get, needs_nginx
from tests.watchkit import last, query, running, wait_for, write_config


def test_the_documented_log_format_lines_are_the_presets_own() -> None:
    doc = parsers.__doc__ or ""
    assert parsers.NGINX_JSON_LOG_FORMAT in doc and parsers.NGINX_COMBINED_UPSTREAM_LOG_FORMAT in doc


def test_combined_upstream_names_each_address_of_a_retried_request() -> None:
    parse = parsers.build(parsers.resolve("nginx_combined_upstream", names={"10.0.0.1:80": "stable",
                                                                           "10.0.0.2:80": "canary"}))
    head = b'10.1.1.1 - alice [06/Dec/2026:00:41:05 +0000] "GET /a?q=\\x22 HTTP/1.1" '
    assert parse(head + b'502 157 "-" "curl/8" "10.0.0.2:80, 10.0.0.1:80" 0.004 "0.001, 0.003"') == (
        "canary, stable", 502, 4.0)
    assert parse(head + b'200 5 "-" "curl/8" "10.0.0.2:80 : 10.0.0.9:80" 0.010 "0.005 : 0.005"') == (
        "canary : 10.0.0.9:80", 200, 10.0)  # an internal redirect to another upstream
    assert parse(head + b'200 2 "-" "curl/8" "-" 0.000 "-"') == ("-", 200, 0.0)
    json_parse = parsers.build(parsers.resolve("nginx_json"))
    assert json_parse(b'{"upstream_addr":"","status":200,"request_time":0.000}') == ("-", 200, 0.0)


def nginx_conf(root: Path, stable: str, canary: str, dead: str) -> tuple[Path, int]:
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would drop to nobody
    port = free_port()
    main = root / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        "events { worker_connections 64; }\nhttp {\n"
        f"  client_body_temp_path {root}/body; proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fcgi;\n"
        f"  uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n"
        f"  {parsers.NGINX_JSON_LOG_FORMAT}\n  access_log {root}/access.json opsconsole_json;\n"
        f"  {parsers.NGINX_COMBINED_UPSTREAM_LOG_FORMAT}\n  access_log {root}/access.log combined_upstream;\n"
        f"  upstream app {{ server {stable}; server {canary}; }}\n"
        # Every request tries the dead server first, then the canary: $upstream_addr "dead, canary".
        f"  upstream retry {{ server {dead} max_fails=0; server {canary} backup; }}\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        "    location / { proxy_pass http://app; proxy_next_upstream off; }\n"
        "    location = /retry { proxy_pass http://retry/; }  # the backend answers on /\n"
        "    location /static { return 200 static; }\n  }\n}\n")
    return main, port


def counts(db: Path, source: str) -> dict[str, tuple[int, int]]:
    """(requests, errors) per label, summed over the history's per-interval count series."""
    rows = query(db, "SELECT k.source, k.metric, SUM(s.value) FROM samples s JOIN series k ON k.id = s.series_id "
                     "WHERE k.source LIKE ? AND k.metric IN ('requests', 'errors') GROUP BY k.source, k.metric",
                 (f"{source}:%",))
    found: dict[str, list[int]] = {}
    for name, metric, total in rows:
        found.setdefault(name[len(source) + 1:], [0, 0])[metric == "errors"] = int(total)
    return {label: (n, bad) for label, (n, bad) in found.items()}


@needs_nginx
def test_both_nginx_presets_count_what_nginx_served(tmp_path: Path) -> None:
    assert NGINX is not None
    root = tmp_path / "nginx"
    root.mkdir()
    with ExitStack() as stack:
        stable = stack.enter_context(backend("stable", 1, 0.0, 1.0, tmp_path))
        canary = stack.enter_context(backend("canary", 2, 0.0, 1.0, tmp_path))
        dead = f"127.0.0.1:{free_port()}"  # nothing listens there
        main, port = nginx_conf(root, stable.address, canary.address, dead)
        command = [NGINX, "-p", str(root), "-c", str(main), "-e", str(root / "error.log")]
        subprocess.run(command, check=True, capture_output=True, timeout=10)
        stack.callback(subprocess.run, [*command, "-s", "stop"], capture_output=True, timeout=10, check=False)
        canary.admin(fail_next=2)
        answers = [get(port, "/")[0] for _ in range(20)] + [get(port, "/retry")[0] for _ in range(3)]
        answers += [get(port, "/static")[0] for _ in range(4)]
        assert answers.count(500) == 2 and answers.count(200) == 25, (answers, (root / "access.log").read_text())
        names = f"{{'{stable.address}': stable, '{canary.address}': canary, '{dead}': gone}}"
        sources = "".join(
            f"  - {{name: {name}, log: '{root / file}', format: {fmt}, names: {names}, from: start,"
            " interval: 100ms, poll: 20ms, window: 5s}\n"
            for name, file, fmt in (("json", "access.json", "nginx_json"),
                                    ("text", "access.log", "nginx_combined_upstream")))
        loaded = write_config(tmp_path, sources)
        db = loaded.config.store.path
        with running(loaded) as engine:
            for source in ("log:json", "log:text"):
                wait_for(lambda s=source: last(engine, s, "lines_total") == 27, what=f"{source}: every line")
                assert last(engine, source, "parse_errors_total") == 0
            expected = {"stable": (10, 0), "canary": (10, 2), "gone, canary": (3, 0), "-": (4, 0)}
            wait_for(lambda: counts(db, "log:json") == expected, what="the json counts in the history")
            wait_for(lambda: counts(db, "log:text") == expected, what="the text counts in the history")
