"""A private view of /tmp/opsconsole-<uid> for the CLI under test, in its own mount namespace.

Other suites' engines on this machine have their sockets in /tmp/opsconsole-<uid>, so a test
about "the engines running for this user", or about who made that directory, runs the CLI where
that path is something of the test's own: an empty private tmpfs (as tests/test_rollout_from_shell.py
does), or a directory another user made (`source`, bind-mounted over it). Processes outside keep
seeing the real one.

    with fallback_view(source=squatted) as prefix:     # argv prefix: nsenter into the namespace
        subprocess.run([*prefix, *opsconsole_argv("rollout", "status")])
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.control.paths import fallback_dir


@contextmanager
def fallback_view(source: Path | None = None) -> Iterator[list[str]]:
    """The argv prefix that runs a command where /tmp/opsconsole-<uid> is `source` (bind-mounted),
    or an empty 0700 tmpfs. Skips the test where mount namespaces are not available."""
    hidden = fallback_dir()
    hidden.mkdir(mode=0o700, exist_ok=True)  # a mount point must exist
    mount = 'mount --bind "$2" "$1"' if source is not None else 'mount -t tmpfs -o mode=0700 tmpfs "$1"'
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
         f'{mount} && echo ready && exec sleep 600', "sh", str(hidden), str(source or "")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "ready":
        holder.kill()
        pytest.skip(f"cannot make a private mount namespace here: {holder.communicate()[1].strip()}")
    try:
        yield ["nsenter", f"--mount=/proc/{holder.pid}/ns/mnt", "--"]
    finally:
        holder.kill()
        holder.wait(10)
