"""Reading an nginx configuration the way nginx does, as far as the nginx actuator needs it: which
files the main config includes, and the main-level `pid` and `error_log`.

A small tokenizer (words, quoted strings, `;`, `{`, `}`, `#` comments) rather than a regular
expression, so that a commented-out `# include upstream.conf;` or an `include` inside a quoted
log_format does not count. `include` follows nginx's rules: a relative path is relative to the
directory of the main config (nginx's conf prefix), a path with `*`, `?` or `[` is a glob(3)
pattern whose matches are read in sorted order and which may match nothing (nginx's glob, like
Python's, skips dot files, so the actuator's `.upstream.conf.<pid>.tmp` is never included).

A main config that never includes the upstream file is a config error, not a warning: every
actuation would then "succeed" (nginx -t passes, the reload is taken) while nginx serves weights
from somewhere else, so the rollout's record and the traffic would silently disagree — the one
thing the actuator exists to prevent. The check is nginx's own include resolution, so a false
error means the main config named is not the one nginx runs; a file the check cannot read is
named in the error, since the actuator's `nginx -t`, run as the same user, must read it too.

The same goes for an `upstream:` that no `proxy_pass`/`grpc_pass`/`fastcgi_pass`/... passes to
(a typo such as `chekout`): nginx -t passes, the reload is taken, and the weights go to a block no
request goes through. A pass whose host is a variable (`proxy_pass http://$pool;`) may choose any
upstream at run time, so then nothing is refused.
"""

from __future__ import annotations

import difflib
import fnmatch
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# The directives that send a request to an upstream block by its name (http and grpc modules).
PASS_DIRECTIVES = ("proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass")
MAX_DEPTH = 32  # includes within includes; nginx has no limit, a loop of them is a mistake
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    depth: int  # blocks around it, counting those of the files that include this one
    file: Path


@dataclass
class Tree:
    """Every directive of the main config with its includes expanded, and what could not be read."""

    directives: list[Directive] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # in the order nginx reads them
    patterns: list[Path] = field(default_factory=list)  # every include, made absolute, globs unexpanded
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)

    def main_level(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.depth == 0 and d.name == name]

    def blocks(self, name: str, first_arg: str) -> list[Directive]:
        """Block directives such as `upstream checkout` anywhere in the tree."""
        return [d for d in self.directives if d.name == name and d.args[:1] == (first_arg,)]


def tokens(text: str) -> Iterator[str]:
    """nginx's tokens: words and quoted strings (unquoted, escapes kept as written), ';', '{', '}'."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif c in ";{}":
            yield c
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            yield text[i + 1 : j]
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in ";{}":
                j += 1
            yield text[i:j]
            i = j


def parse(text: str, file: Path, depth: int = 0) -> Iterator[Directive]:
    """The directives of one file, without following includes. Unbalanced braces are nginx -t's to report."""
    words: list[str] = []
    for token in tokens(text):
        if token == ";" or token == "{":
            if words:
                yield Directive(words[0], tuple(words[1:]), depth, file)
            words = []
            depth += token == "{"
        elif token == "}":
            words, depth = [], max(0, depth - 1)
        else:
            words.append(token)


def _absolute(pattern: str, conf_dir: Path) -> Path:
    return Path(pattern) if os.path.isabs(pattern) else conf_dir / pattern


def include_targets(pattern: str, conf_dir: Path) -> list[Path]:
    path = _absolute(pattern, conf_dir)
    if GLOB_CHARS & set(pattern):
        return [Path(p) for p in sorted(glob.glob(str(path)))]
    return [path]


def read_tree(main: Path, extra: str = "") -> Tree:
    """`main` with its includes expanded. `extra` is main-level text nginx reads before the file:
    the `-g` directives given on its command line."""
    tree = Tree()
    conf_dir = main.parent
    tree.directives.extend(parse(extra, Path("-g")))

    def walk(file: Path, depth: int, chain: tuple[Path, ...]) -> None:
        try:
            text = file.read_text(errors="replace")
        except OSError as exc:
            tree.unreadable.append((file, exc.strerror or str(exc)))
            return
        tree.files.append(file)
        for directive in parse(text, file, depth):
            if directive.name == "include" and directive.args and len(chain) < MAX_DEPTH:
                tree.patterns.append(_absolute(directive.args[0], conf_dir))
                for target in include_targets(directive.args[0], conf_dir):
                    if target.resolve() not in chain:  # an include loop: nginx -t reports it
                        walk(target, directive.depth, (*chain, target.resolve()))
            else:
                tree.directives.append(directive)

    walk(main, 0, (main.resolve(),))
    return tree


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def matches(pattern: Path, path: Path) -> bool:
    """Would nginx's include `pattern` read `path` (which may not exist yet)? glob(3) rules: each
    part of the path on its own, and a leading dot only matched by a leading dot."""
    if len(pattern.parts) != len(path.parts):
        return False
    return all(fnmatch.fnmatchcase(name, want) and (not name.startswith(".") or want.startswith("."))
               for name, want in zip(path.parts, pattern.parts, strict=True))


def include_problem(main: Path, upstream_file: Path, upstream: str) -> str | None:
    """Why nginx, started with `main`, would not serve the weights written to `upstream_file`
    (None: it includes the file). The text reads after "main_config: "."""
    tree = read_tree(main)
    if any(same_file(f, upstream_file) for f in tree.files):
        return None
    if any(matches(Path(os.path.normpath(p)), Path(os.path.abspath(upstream_file))) for p in tree.patterns):
        return None  # not written yet: the first actuation creates it where an include finds it
    unread = "; ".join(f"cannot read {f}: {why}" for f, why in tree.unreadable)
    elsewhere = sorted({str(d.file) for d in tree.blocks("upstream", upstream)})
    where = (f" (upstream {upstream} is defined in {', '.join(elsewhere)} instead)" if elsewhere
             else f" (no file it includes defines upstream {upstream})")
    text = (f"nginx main config {main} never includes upstream_file {upstream_file}: nginx would not serve "
            f"these weights{where}; add `include {upstream_file};` inside its http {{ }} block")
    if unread:
        text += f" ({unread}: opsconsole runs nginx -t and must read every file nginx reads)"
    return text


def port_problem(address: str) -> str | None:
    """Why nginx would refuse the server address `address` for its port (None: it would not).
    `host`, `host:port`, `[v6]:port` or `unix:/path`; nginx takes ports 1-65535 (a missing one is 80)."""
    if address.startswith("unix:"):
        return None
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            return f"an IPv6 address needs its closing ']', got {address!r}"
        rest = address[end + 1:]
        if not rest:
            return None
        if not rest.startswith(":"):
            return f"expected [v6]:port, got {address!r}"
        port = rest[1:]
    elif address.count(":") > 1:
        return f"write an IPv6 address in brackets, e.g. [::1]:8080, got {address!r}"
    elif ":" in address:
        host, _, port = address.partition(":")
        if not host:
            return f"the address has no host before ':{port}', e.g. 127.0.0.1:{port}"
    else:
        return None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"the port of {address!r} must be a number from 1 to 65535, got {port!r}"
    return None


def pass_host(directive: Directive) -> str:
    """The upstream (or host) a `*_pass` directive sends to: `http://checkout/api` -> `checkout`;
    "" for a unix: socket. nginx matches upstream names case-insensitively, so lowered."""
    target = directive.args[0]
    target = target.split("://", 1)[1] if "://" in target else target
    if target.startswith("unix:"):
        return ""
    host = target.split("/", 1)[0]
    if not host.startswith("["):
        host = host.split(":", 1)[0]  # `upstream` blocks take no port: nginx -t refuses one
    return host.lower()


def upstream_use_problem(main: Path, upstream: str) -> str | None:
    """Why no request nginx serves with `main` would go through `upstream` (None: some `*_pass`
    uses it, or one passes to a variable, or there is no pass at all to compare with). The text
    reads after "main_config: "."""
    tree = read_tree(main)
    passes = [(d, pass_host(d)) for d in tree.directives if d.name in PASS_DIRECTIVES and d.args]
    if not passes or any("$" in d.args[0] for d, _ in passes):
        return None
    if upstream.lower() in {host for _, host in passes}:
        return None
    used: dict[str, list[str]] = {}
    for d, host in passes:
        if host:
            where = f"{d.name} in {d.file}"
            if where not in used.setdefault(host, []):
                used[host].append(where)
    named = "; ".join(f"{host} ({', '.join(where)})" for host, where in sorted(used.items()))
    close = difflib.get_close_matches(upstream.lower(), list(used), n=1, cutoff=0.6)
    hint = f"did you mean upstream: {close[0]}?" if close else "set upstream: to the name the server block passes to"
    return (f"nginx main config {main} and its includes never pass requests to upstream {upstream!r}, so its "
            f"weights would move no traffic; they pass to {named or 'unix sockets only'}: {hint}")
