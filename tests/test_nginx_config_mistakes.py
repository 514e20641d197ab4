"""`opsconsole config check` on the nginx example with a new user's mistakes in it: a server port
nginx would refuse, and an `upstream:` that no server block passes to (found by the new-user trial
of examples/nginx-canary, /tmp/newuser m12). The example copied, one value edited, the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.canary import nginxconf
from tests.ptyrun import opsconsole_argv

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nginx-canary"


def example_with(tmp_path: Path, old: str, new: str) -> Path:
    example = tmp_path / "nginx-canary"
    shutil.copytree(EXAMPLE, example)
    config = example / "opsconsole.yaml"
    text = config.read_text()
    assert text.count(old) == 1, f"the example no longer has exactly one {old!r}"
    config.write_text(text.replace(old, new))
    return config


def config_check(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(config.parent), "XDG_STATE_HOME": str(config.parent / "state")}
    return subprocess.run([*opsconsole_argv(), "config", "check", str(config)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def line_of(config: Path, text: str) -> int:
    return next(n for n, line in enumerate(config.read_text().splitlines(), 1) if text in line)


def test_a_server_port_out_of_range_is_refused(tmp_path: Path) -> None:
    config = example_with(tmp_path, 'stable: ["127.0.0.1:8081"]', 'stable: ["127.0.0.1:99999"]')
    done = config_check(config)
    assert done.returncode == 2, done
    assert (f"{config}:{line_of(config, '99999')}: canary.actuator.stable[0]: the port of '127.0.0.1:99999' "
            "must be a number from 1 to 65535, got '99999'") in done.stderr


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1:0", "must be a number from 1 to 65535, got '0'"),
    ("[::1]:65536", "must be a number from 1 to 65535, got '65536'"),
    ("::1:8080", "write an IPv6 address in brackets"),
    (":8080", "no host before ':8080'"),
])
def test_other_addresses_nginx_would_refuse(address: str, problem: str) -> None:
    assert problem in (nginxconf.port_problem(address) or "")


@pytest.mark.parametrize("address", ["127.0.0.1:8081", "app.internal", "[::1]:8080", "[::1]", "unix:/run/app.sock",
                                     "127.0.0.1:65535"])
def test_addresses_nginx_takes(address: str) -> None:
    assert nginxconf.port_problem(address) is None


def test_an_upstream_no_server_block_passes_to_is_refused_with_the_one_that_is(tmp_path: Path) -> None:
    config = example_with(tmp_path, "upstream: checkout", "upstream: chekout")
    done = config_check(config)
    assert done.returncode == 2, done
    conf = config.parent / "nginx" / "checkout.conf"
    assert (f"{config}:{line_of(config, 'main_config:')}: canary.actuator.main_config: nginx main config "
            f"{config.parent / 'nginx' / 'nginx.conf'} and its includes never pass requests to upstream 'chekout', "
            f"so its weights would move no traffic; they pass to checkout (proxy_pass in {conf}): "
            "did you mean upstream: checkout?") in done.stderr


def nginx_tree(root: Path, server: str) -> Path:
    """A main config including the upstream file and, through a glob, a server block."""
    (root / "conf.d").mkdir(parents=True)
    (root / "conf.d" / "app.conf").write_text(f"server {{ listen 127.0.0.1:1; location / {{ {server} }} }}\n")
    main = root / "nginx.conf"
    main.write_text("events {}\nhttp {\n  include upstream.conf;\n  include conf.d/*.conf;\n}\n")
    return main


@pytest.mark.parametrize("server", [
    "proxy_pass http://Checkout/api/;",
    "grpc_pass grpcs://checkout;",
    "fastcgi_pass checkout;",
    "uwsgi_pass uwsgi://checkout;",
    "proxy_pass http://$pool;  # a variable: any upstream at run time",
])
def test_passes_that_use_the_upstream(tmp_path: Path, server: str) -> None:
    assert nginxconf.upstream_use_problem(nginx_tree(tmp_path, server), "checkout") is None


def test_passes_elsewhere_name_every_upstream_and_file(tmp_path: Path) -> None:
    main = nginx_tree(tmp_path, "proxy_pass http://billing; } location /g { grpc_pass grpc://payments:50051;")
    problem = nginxconf.upstream_use_problem(main, "checkout") or ""
    app = tmp_path / "conf.d" / "app.conf"
    assert (f"they pass to billing (proxy_pass in {app}); payments (grpc_pass in {app}): "
            "set upstream: to the name the server block passes to") in problem
