"""A real rollout rig on 127.0.0.1: nginx in front of two real backend processes, a Poisson load
generator through nginx, and a real `opsconsole --headless` engine that drives the rollout through
its nginx actuator — read back the way an operator would (`opsconsole rollout status --json`, the
history's tables and views).

    with nginx_rig(tmp_path, Versions(stable_error=0.005, canary_error=0.005)) as rig:
        rig.wait_for(lambda r: r.weight == 50, "the 50% stage")
        rig.canary.admin(error_rate=0.03)            # or rig.canary.kill(), rig.load.stop()
        final = rig.wait_for(finished, "the end of the rollout")
        rig.decisions()                              # rollout_decisions: t, to_status, weight, reason

Processes (every one stopped in teardown, newest first):
- two backends, `python tests/nginxbackend.py`, each on its own free port: `/` (200 or 500 at a
  seeded error rate, with a latency), `/metrics` (Prometheus text), `/health`, `POST /admin`;
- nginx as this user (`-p root -c root/nginx.conf -e root/error.log`), listening on a free port, its
  upstream `checkout` in root/upstream.conf — the file the engine's nginx actuator owns — and a JSON
  access log root/access.json that the engine tails;
- a load generator (threads in the test process) at a seeded Poisson rate, bounded in count and time;
- the engine (tests/headlessfixtures.HeadlessProcess) with its own config file, whose history,
  log and control socket live under tmp_path (tests/conftest.py points XDG_STATE_HOME and
  XDG_RUNTIME_DIR there).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import pytest

from tests.headlessfixtures import HeadlessProcess, free_port
from tests.ptyrun import opsconsole_argv

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"),
    reason="nginx is not installed (apt-get install nginx-light); in CI (CI set) this fails instead",
)
BACKEND_SCRIPT = Path(__file__).with_name("nginxbackend.py")
UPSTREAM = "checkout"
FINISHED = ("promoted", "rolled-back", "aborted")
START_TIMEOUT = 10.0


# ---------------------------------------------------------------------------- backends


@dataclass
class Backend:
    """One version of the app: a real process on a real port, killable with SIGKILL."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def admin(self, **change: float) -> dict[str, Any]:
        """Change error_rate, latency_ms or fail_next now; the backend's state after the change."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("POST", "/admin", json.dumps(change), {"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read().decode()
        finally:
            conn.close()
        if response.status != 200:
            raise AssertionError(f"{self.name} /admin answered {response.status}: {body}")
        return json.loads(body)

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown, connections refused from now on."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_backend(name: str, seed: int, error_rate: float, latency_ms: float, log_dir: Path) -> Backend:
    stderr = open(log_dir / f"{name}.stderr", "wb")  # kept for a failing test's post-mortem
    proc = subprocess.Popen(
        [sys.executable, str(BACKEND_SCRIPT), "--name", name, "--seed", str(seed),
         "--error-rate", str(error_rate), "--latency-ms", str(latency_ms)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
    )
    stderr.close()  # the child has its own copy
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
    line = proc.stdout.readline().decode().split() if ready else []
    if len(line) != 2 or line[0] != "listening":
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"backend {name} did not start: {line!r}, "
                             f"stderr: {(log_dir / f'{name}.stderr').read_text()[-2000:]}")
    return Backend(name, proc, int(line[1]))


@contextmanager
def backend(name: str, seed: int, error_rate: float, latency_ms: float, log_dir: Path) -> Iterator[Backend]:
    started = start_backend(name, seed, error_rate, latency_ms, log_dir)
    try:
        yield started
    finally:
        started.stop()


# ---------------------------------------------------------------------------- nginx

# What the engine's log source reads (format json_access: upstream, status, request_time), and
# the time (msec), which only the tests read: which lines came after a kill or a stop.
LOG_FORMAT = ("'{\"upstream\":\"$upstream_addr\",\"status\":$status,\"request_time\":$request_time,"
              "\"upstream_response_time\":\"$upstream_response_time\",\"msec\":$msec}'")


@dataclass
class Nginx:
    root: Path
    port: int
    stable: Backend
    canary: Backend

    @property
    def binary(self) -> str:
        assert NGINX is not None, "nginx is required in CI: .ci/run installs nginx-light"
        return NGINX

    @property
    def main_config(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def args(self) -> list[str]:
        """Given to every nginx command besides `-c main_config` (the actuator adds that itself)."""
        return ["-p", str(self.root), "-e", str(self.root / "error.log")]

    @property
    def extra_file(self) -> Path:
        """Included in http { } after the upstream file, empty at start: what a colleague edits."""
        return self.root / "extra.conf"

    @property
    def upstream_file(self) -> Path:
        return self.root / "upstream.conf"

    @property
    def access_log(self) -> Path:
        return self.root / "access.json"

    def write_config(self) -> None:
        # Before the rollout: all traffic on stable, the canary marked down (the actuator's own
        # format for weight 0). The engine rewrites this file from its first actuation on.
        self.upstream_file.write_text(
            f"upstream {UPSTREAM} {{\n    server {self.stable.address} weight=1;\n"
            f"    server {self.canary.address} down;\n}}\n")
        root = self.root
        self.extra_file.touch()
        user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would drop to nobody
        self.main_config.write_text(
            f"{user}worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"  log_format rollout escape=json {LOG_FORMAT};\n"
            f"  access_log {self.access_log} rollout;\n"
            f"  client_body_temp_path {root}/body; proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fcgi;\n"
            f"  uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n"
            f"  include {self.upstream_file};\n"
            f"  include {self.extra_file};\n"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n    location / {{\n"
            f"      proxy_pass http://{UPSTREAM};\n"
            # No retry on the other server. nginx's default (`error timeout`) would resend a
            # request the dead canary refused to stable, hiding the crash from clients (200s) and
            # logging it under a combined label "canary, stable". In the incident this rig
            # replays, clients got 502s: with `off` they do here too, logged under the canary's
            # own address. nginx's passive check (max_fails=1 fail_timeout=10s: the actuator's
            # file sets neither) still takes the dead canary out between probes, so most of its
            # share goes to stable and the canary's label goes nearly silent — as in production.
            "      proxy_next_upstream off;\n"
            "      proxy_connect_timeout 1s;\n      proxy_read_timeout 10s;\n"
            "    }\n  }\n}\n")

    def command(self, *extra: str) -> list[str]:
        return [self.binary, *self.args, "-c", str(self.main_config), *extra]

    def start(self) -> None:
        self.write_config()
        done = subprocess.run(self.command(), capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise AssertionError(f"nginx did not start (exit {done.returncode}): {done.stderr.strip()}")

    def stop(self) -> None:
        pid_file = self.root / "nginx.pid"
        pid = pid_file.read_text().strip() if pid_file.exists() else ""
        subprocess.run(self.command("-s", "stop"), capture_output=True, timeout=10)
        deadline = time.monotonic() + 5
        while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and Path(f"/proc/{pid}").exists():  # it did not stop: the master and its workers
            os.kill(int(pid), signal.SIGKILL)

    def access_lines(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The access log's lines (as dicts) written at or after `since` (epoch seconds)."""
        if not self.access_log.exists():
            return []
        text = self.access_log.read_text()
        whole = text[: text.rfind("\n") + 1]  # a line nginx is writing right now is not read yet
        lines = [json.loads(line) for line in whole.splitlines() if line.strip()]
        return [line for line in lines if line["msec"] >= since]


@contextmanager
def nginx(root: Path, stable: Backend, canary: Backend) -> Iterator[Nginx]:
    """nginx on a port that was free a moment ago (tried three times: another test may take it)."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        server = Nginx(root, free_port(), stable, canary)
        try:
            server.start()
            break
        except AssertionError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    try:
        wait_for_answer(server.port)
        yield server
    finally:
        server.stop()


def get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def wait_for_answer(port: int, timeout: float = START_TIMEOUT) -> None:
    """Until nginx answers from stable (it starts its workers after the master returns)."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen = get(port, timeout=1)
            if seen == (200, "stable"):
                return
        except OSError as exc:
            seen = exc
        time.sleep(0.05)
    raise AssertionError(f"nginx on 127.0.0.1:{port} does not answer from stable: {seen!r}")


# ---------------------------------------------------------------------------- load


class LoadGenerator:
    """GET / through nginx at `rate` requests per second, Poisson arrivals from a seeded RNG.

    A scheduler thread draws the arrivals and hands each to a small worker pool (each worker keeps
    one keep-alive connection), so a slow answer does not delay the next arrival. Bounded: at most
    `rate × max_seconds` requests, never after `max_seconds`, and at most `workers × 4` in flight
    (an arrival beyond that is counted as dropped, not queued)."""

    def __init__(self, port: int, rate: float, seed: int, max_seconds: float = 240.0, workers: int = 8) -> None:
        self.port, self.rate, self.max_seconds = port, rate, max_seconds
        self.max_requests = int(rate * max_seconds)
        self._rng = Random(seed)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load")
        self._slots = threading.BoundedSemaphore(workers * 4)
        self._local = threading.local()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()  # 0: no answer (connection error)
        self.served: Counter[str] = Counter()  # by the body's first word: stable / canary / other
        self.sent = self.dropped = self.retried = 0
        self.stopped_at: float | None = None
        self._thread = threading.Thread(target=self._schedule, name="load-scheduler", daemon=True)

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No new request from now on; the ones in flight finish (each has a 5 s timeout)."""
        self._stop.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.stopped_at = self.stopped_at or time.time()

    def _schedule(self) -> None:
        started = time.monotonic()
        next_at = started
        while self.sent < self.max_requests and not self._stop.is_set():
            next_at += self._rng.expovariate(self.rate)
            now = time.monotonic()
            if next_at - started > self.max_seconds:
                break
            if next_at < now - 1.0:  # more than a second behind (a stalled machine): do not burst
                next_at = now
            if self._stop.wait(max(0.0, next_at - now)):
                break
            if not self._slots.acquire(blocking=False):
                self.dropped += 1
                continue
            self.sent += 1
            self._pool.submit(self._one)
        self.stopped_at = time.time()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        return conn

    def _request(self) -> tuple[int, str]:
        """(status, body), or (0, "") without an answer. A kept-alive connection that nginx closed
        (a reload ends its old workers' idle connections) is retried once on a new one, as HTTP
        clients do for an idempotent request: the request never reached nginx."""
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                return response.status, response.read().decode(errors="replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop(conn)
                if not reused or attempt == 2:
                    return 0, ""
                with self._lock:
                    self.retried += 1
            except (OSError, http.client.HTTPException):  # a timeout, a refused connection: no answer
                self._drop(conn)
                return 0, ""
        return 0, ""

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None

    def _one(self) -> None:
        try:
            status, body = self._request()
            word = body.split(":", 1)[0]  # "stable", "canary", "canary: injected failure"
            word = word if word in ("stable", "canary") else "other"  # nginx's own 502 page, or nothing
            with self._lock:
                self.statuses[status] += 1
                self.served[word] += 1
        finally:
            self._slots.release()


@contextmanager
def load(port: int, rate: float, seed: int) -> Iterator[LoadGenerator]:
    generator = LoadGenerator(port, rate, seed).start()
    try:
        yield generator
    finally:
        generator.stop()


# ---------------------------------------------------------------------------- the engine's config


@dataclass(frozen=True)
class Plan:
    """The rollout under test: stages 10% -> 50% -> 100% with short holds, a check every 5 s."""

    interval: float = 5.0
    stages: tuple[tuple[int, float], ...] = ((10, 15.0), (50, 20.0), (100, 0.0))
    consecutive: int = 3  # of the rules and of the comparison's score
    max_error_rate: float = 0.01
    max_p95_ms: float = 500.0
    log_window: str = "20s"  # the access log's error_rate / percentiles (as in the root config.yaml)

    def hold(self, weight: int) -> float:
        return next(hold for w, hold in self.stages if w == weight)

    @property
    def total_hold(self) -> float:
        return sum(hold for _, hold in self.stages)


def engine_config(server: Nginx, plan: Plan) -> str:
    stable, canary = server.stable.address, server.canary.address
    stages = ", ".join(f"{{weight: {w}, hold: {hold:g}s}}" if hold else f"{{weight: {w}}}" for w, hold in plan.stages)
    log = f"log:access:{canary}", f"log:access:{stable}"
    rules = (
        f"    - {{series: '{log[0]}/error_rate', baseline: '{log[1]}/error_rate', max: {plan.max_error_rate},"
        f" consecutive: {plan.consecutive}}}\n"
        f"    - {{series: '{log[0]}/latency_p95_ms', baseline: '{log[1]}/latency_p95_ms', max: {plan.max_p95_ms:g},"
        f" consecutive: {plan.consecutive}}}\n"
    )
    health = "".join(
        f"  - {{name: {b.name}, kind: http, url: 'http://{b.address}/health', interval: 1s, timeout: 1s,"
        f" conditions: ['status == \"ok\"']}}\n" for b in (server.stable, server.canary))
    targets = "".join(
        f"        - {{name: {b.name}, url: 'http://{b.address}/metrics', format: prometheus}}\n"
        for b in (server.stable, server.canary))
    args = ", ".join(f"'{a}'" for a in server.args)
    return (
        "store: {path: history.db, flush_interval: 100ms}\n"
        "logging: {file: opsconsole.log}\n"
        "monitor: {host: {enabled: false}}\n"
        "health:\n" + health +
        "collect:\n  tracks:\n    - name: versions\n      interval: 1s\n      timeout: 800ms\n      targets:\n"
        + targets +
        "watch:\n"
        f"  - {{name: access, log: '{server.access_log}', format: json_access, label: upstream,"
        f" window: {plan.log_window}}}\n"
        "canary:\n"
        f"  service: {UPSTREAM}\n"
        "  auto_start: true\n"
        f"  interval: {plan.interval:g}s\n"
        f"  stages: [{stages}]\n"
        "  rules:\n" + rules +
        "  compare:\n"
        "    - {canary: 'collect:canary/error_rate', baseline: 'collect:stable/error_rate', direction: increase,"
        " allowed_increase: 1.5, confidence: 0.98, critical: true, min_samples: 3}\n"
        f"  score: {{consecutive: {plan.consecutive}}}\n"
        f"  actuator: {{kind: nginx, upstream_file: '{server.upstream_file}', upstream: {UPSTREAM},"
        f" stable: ['{stable}'], canary: ['{canary}'], nginx: '{server.binary}', args: [{args}],"
        f" main_config: '{server.main_config}',"
        " retries: 1, timeout: 10s}\n"
    )


def opsconsole(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsconsole_argv(*args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def check_config(path: Path) -> None:
    done = opsconsole("config", "check", str(path))
    if done.returncode != 0:
        raise AssertionError(f"opsconsole config check {path} exited {done.returncode}:\n"
                             f"{done.stdout}{done.stderr}\n--- the config ---\n{path.read_text()}")


# ---------------------------------------------------------------------------- reading the results


@dataclass(frozen=True)
class RolloutRow:
    id: int
    status: str
    stage: int  # 0-based, as stored
    weight: int
    reason: str


@dataclass(frozen=True)
class Decision:
    t: float
    from_status: str
    to_status: str
    stage: int  # 1-based, as in the view
    weight: int
    actor: str
    reason: str


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def finished(row: RolloutRow) -> bool:
    return row.status in FINISHED


@dataclass
class Rig:
    plan: Plan
    stable: Backend
    canary: Backend
    nginx: Nginx
    load: LoadGenerator
    engine: HeadlessProcess
    config: Path
    seen: list[tuple[float, str, int]] = field(default_factory=list)  # (time, status, weight) polled

    @property
    def db(self) -> Path:
        return self.engine.db

    def rollout(self) -> RolloutRow | None:
        rows = query(self.db, "SELECT id, status, stage, weight, reason FROM rollouts ORDER BY id DESC LIMIT 1")
        return RolloutRow(*rows[0]) if rows else None

    def decisions(self) -> list[Decision]:
        rows = query(self.db, "SELECT t, from_status, to_status, stage, weight, actor, reason "
                              "FROM rollout_decisions ORDER BY t")
        return [Decision(*row) for row in rows]

    def decision(self, to_status: str) -> Decision:
        found = [d for d in self.decisions() if d.to_status == to_status]
        assert found, f"no decision to {to_status!r}:\n{self.explain()}"
        return found[0]

    def status(self, settled: float = 3.0) -> dict[str, Any]:
        """`opsconsole rollout status --json`, as an operator would ask. The engine republishes its
        snapshot every engine.snapshot_interval (1 s), so right after an automatic decision the
        history can be ahead of it: asked again (for at most `settled` seconds) until the two agree."""
        deadline = time.monotonic() + settled
        while True:
            done = opsconsole("rollout", "status", "--json", "--config", str(self.config))
            assert done.returncode == 0, f"rollout status exited {done.returncode}: {done.stderr}"
            shown = json.loads(done.stdout)
            row = self.rollout()
            agree = row is not None and shown is not None and (shown["status"], shown["weight"]) == (
                row.status, row.weight)
            if agree or time.monotonic() > deadline:
                return shown
            time.sleep(0.2)

    def poll(self) -> RolloutRow | None:
        row = self.rollout()
        if row is not None and (not self.seen or self.seen[-1][1:] != (row.status, row.weight)):
            self.seen.append((time.time(), row.status, row.weight))
        return row

    def wait_for(self, predicate: Callable[[RolloutRow], bool], what: str, timeout: float) -> RolloutRow:
        """Poll the history's rollouts row every 0.2 s until `predicate` holds; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            if self.engine.proc.poll() is not None:
                raise AssertionError(f"the engine exited with {self.engine.proc.returncode} while waiting for "
                                     f"{what}:\n{self.engine.stderr()[-3000:]}")
            row = self.poll()
            if row is not None and predicate(row):
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached within {timeout:g}s\n{self.explain()}")
            time.sleep(0.2)

    def watch(self, seconds: float) -> list[tuple[float, str, int]]:
        """Poll for `seconds`; every (time, status, weight) seen in that span."""
        first = len(self.seen)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
            time.sleep(0.2)
        return self.seen[max(0, first - 1):]

    def samples(self, source: str, metrics: tuple[str, ...], since: float = 0.0) -> list[tuple[str, float, float]]:
        marks = ",".join("?" * len(metrics))
        return query(self.db, "SELECT k.metric, s.t, s.value FROM samples s JOIN series k ON k.id = s.series_id "
                              f"WHERE k.source = ? AND k.metric IN ({marks}) AND s.t >= ? ORDER BY s.t",
                     (source, *metrics, since))

    def explain(self) -> str:
        """What an operator would look at: the decisions with their reasons, and what was served."""
        lines = ["decisions (rollout_decisions):"]
        try:
            lines += [f"  {time.strftime('%H:%M:%S', time.localtime(d.t))} {d.from_status} -> {d.to_status} "
                      f"at {d.weight}% (stage {d.stage}) by {d.actor}: {d.reason}" for d in self.decisions()]
        except sqlite3.Error as exc:
            lines.append(f"  cannot read the history: {exc}")
        lines.append(f"load: sent {self.load.sent}, dropped {self.load.dropped}, retried {self.load.retried}, "
                     f"statuses {dict(self.load.statuses)}, served by {dict(self.load.served)}")
        return "\n".join(lines)


def checks_between(t0: float, t1: float, interval: float) -> int:
    """How many checks fell in (t0, t1] when one fell at t1 and they are `interval` apart: the
    decision's own check counts, and so does the first one after t0, however close to it."""
    return max(0, math.ceil((t1 - t0) / interval - 1e-3))


@dataclass(frozen=True)
class Versions:
    stable_error: float = 0.005
    canary_error: float = 0.005
    latency_ms: float = 5.0
    rate: float = 100.0  # requests per second through nginx
    seed: int = 15


@contextmanager
def nginx_rig(tmp_path: Path, versions: Versions = Versions(), plan: Plan = Plan()) -> Iterator[Rig]:
    """Backends, nginx, load, then the engine (which starts the rollout by itself: auto_start)."""
    assert NGINX is not None, "nginx is required in CI: .ci/run installs nginx-light"
    root = tmp_path / "rig"
    root.mkdir()
    with ExitStack() as stack:
        stable = stack.enter_context(backend("stable", versions.seed, versions.stable_error, versions.latency_ms, root))
        canary = stack.enter_context(
            backend("canary", versions.seed + 1, versions.canary_error, versions.latency_ms, root))
        server = stack.enter_context(nginx(root / "nginx", stable, canary))
        generator = stack.enter_context(load(server.port, versions.rate, versions.seed + 2))
        config = root / "opsconsole.yaml"
        config.write_text(engine_config(server, plan))
        check_config(config)
        engine = HeadlessProcess(config, stderr_dir=root)
        stack.enter_context(engine)
        stack.callback(_stop_cleanly, engine)  # runs before the kill in HeadlessProcess.__exit__
        yield Rig(plan, stable, canary, server, generator, engine, config)


def _stop_cleanly(engine: HeadlessProcess) -> None:
    """SIGTERM first, so the history is flushed for a post-mortem; the kill follows regardless."""
    try:
        engine.stop()
    except AssertionError:
        pass  # still running: HeadlessProcess.__exit__ kills it next
