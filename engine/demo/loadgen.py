"""Steady traffic through the router, and what it measured, one window at a time.

Open loop, like real users: requests are started on a fixed schedule (`rps` per second, paced on
the monotonic clock from one origin, so timing errors never accumulate into drift) whatever the
responses take. A slow canary therefore shows up as latency, not as a quietly lower request rate.

How, cheaply: the scheduler thread writes each request on an idle keep-alive connection (a
"channel"); each channel has a thread blocked reading its socket, which takes the response,
measures it and hands the channel back. No thread is woken per request beyond the scheduler and
the channel, and channels are only added while every existing one is busy (up to `max_channels`).

`take_window()` returns what completed since the previous call: requests per second (over the
measured monotonic interval), the fraction that failed (5xx or no answer) and the p95 latency.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import threading
import time
from dataclasses import dataclass

from engine.demo.http11 import (
    HttpError,
    body_length,
    encode_request,
    host_header,
    parse_status_line,
    read_body,
    read_head,
)
from engine.evidence.counts import STANDARD_BOUNDS_MS, UNAVAILABLE_STATUSES, bin_index

log = logging.getLogger("opsconsole.demo")

DEFAULT_PATHS: tuple[str, ...] = ("/", "/api/orders", "/api/items", "/api/cart")
HEADERS = {"User-Agent": "opsconsole-demo-loadgen", "Accept": "application/json"}
MAX_IDLE = 20.0  # seconds; reconnect rather than reuse a connection the router may have timed out
STOP_LATENCY = 0.1  # seconds the scheduler may take to notice stop()
CATCH_UP_LIMIT = 1.0  # seconds behind schedule after which missed slots are skipped, not burst


@dataclass(frozen=True)
class LoadSample:
    """What the load generator saw over one window."""

    window: float  # seconds, monotonic
    requests: int  # completed in the window (answered or failed)
    errors: int  # of which 5xx or failed without an answer
    requests_per_s: float
    error_rate: float | None  # None when nothing completed: no data is not "0 % errors"
    latency_p95_ms: float | None
    unavailable: int = 0  # of the errors, 502/503/504 or no answer at all
    buckets: tuple[int, ...] = ()  # latencies counted on STANDARD_BOUNDS_MS


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class _Channel:
    """One keep-alive connection to the router and the thread that reads its responses."""

    def __init__(self, generator: LoadGenerator, number: int) -> None:
        self.generator = generator
        # No socket timeout: the reader blocks between requests; stuck requests are cut by the
        # scheduler (see LoadGenerator._expire) and stop() wakes the reader with shutdown().
        self.sock = socket.create_connection((generator.host, generator.port), timeout=generator.connect_timeout)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.sent_at: float | None = None  # monotonic time of the request in flight, if any
        self.last_used = time.monotonic()
        self.closed = False
        self.thread = threading.Thread(target=self._read_loop, name=f"demo-loadgen-conn-{number}", daemon=True)

    def send(self, request: bytes) -> None:
        self.sent_at = self.last_used = time.monotonic()
        self.sock.sendall(request)

    def shutdown(self) -> None:
        """Wake the reader (it then closes the channel)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError as exc:  # already closed by the peer
            log.debug("demo loadgen: shutdown of a connection: %s", exc)

    def _read_loop(self) -> None:
        try:
            while True:
                head = read_head(self.rfile)
                if head is None:
                    break
                start, headers = head
                status = parse_status_line(start)
                read_body(self.rfile, body_length(headers))
                sent_at, self.sent_at = self.sent_at, None
                if sent_at is None:
                    raise HttpError(502, "a response arrived with no request in flight")
                closing = "close" in headers.get("connection", "").lower()
                latency = time.monotonic() - sent_at
                self.generator._completed(self, latency, failed=status >= 500, reuse=not closing,
                                          unavailable=status in UNAVAILABLE_STATUSES)
                if closing:
                    break
        except (OSError, HttpError) as exc:
            if not self.generator.stopping:
                log.debug("demo loadgen: connection failed: %r", exc)
        finally:
            self.closed = True
            sent_at, self.sent_at = self.sent_at, None
            self.rfile.close()
            self.sock.close()
            self.generator._lost(self, None if sent_at is None else time.monotonic() - sent_at)


class LoadGenerator:
    def __init__(
        self,
        host: str,
        port: int,
        rps: float,
        *,
        paths: tuple[str, ...] = DEFAULT_PATHS,
        timeout: float = 65.0,
        max_channels: int = 32,
    ) -> None:
        if rps <= 0:
            raise ValueError(f"rps must be greater than 0, got {rps}")
        self.host, self.port, self.rps = host, port, rps
        self.timeout = timeout
        self.connect_timeout = 5.0
        self.max_channels = max_channels
        hostport = host_header(host, port)
        self._requests = [encode_request("GET", path, hostport, HEADERS) for path in paths]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle: list[_Channel] = []
        self._channels: set[_Channel] = set()
        self._readers: list[threading.Thread] = []
        self._scheduler: threading.Thread | None = None
        self._numbered = 0
        # The current window.
        self._window_start = time.monotonic()
        self._count = 0
        self._errors = 0
        self._unavailable = 0
        self._latencies: list[float] = []
        # Totals, for the standalone entry and tests.
        self.sent = 0
        self.completed = 0
        self.failed = 0
        self.dropped = 0  # not sent: every channel busy (the upstream is very slow)
        self.skipped = 0  # not sent: the scheduler itself fell behind (process suspended)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self.reset_window()
        self._scheduler = threading.Thread(target=self._schedule, name="demo-loadgen", daemon=True)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop sending, close every connection and join every thread. Idempotent."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join()
            self._scheduler = None
        with self._lock:
            channels, readers = list(self._channels), list(self._readers)
            self._readers = []
        for channel in channels:
            channel.shutdown()
        for reader in readers:
            reader.join()

    def reset_window(self) -> None:
        """Start a fresh window (e.g. after the engine was paused and nothing was read)."""
        with self._lock:
            self._window_start = time.monotonic()
            self._count = self._errors = self._unavailable = 0
            self._latencies = []

    def take_window(self) -> LoadSample:
        now = time.monotonic()
        with self._lock:
            started, self._window_start = self._window_start, now
            count, errors, latencies = self._count, self._errors, self._latencies
            unavailable = self._unavailable
            self._count = self._errors = self._unavailable = 0
            self._latencies = []
        buckets = [0] * len(STANDARD_BOUNDS_MS)
        for latency in latencies:
            buckets[bin_index(latency * 1000)] += 1
        elapsed = max(now - started, 1e-9)
        return LoadSample(
            window=elapsed,
            requests=count,
            errors=errors,
            requests_per_s=count / elapsed,
            error_rate=errors / count if count else None,
            latency_p95_ms=percentile(latencies, 0.95) * 1000 if latencies else None,
            unavailable=unavailable,
            buckets=tuple(buckets),
        )

    # -- scheduling (the scheduler thread) ---------------------------------------------------

    def _schedule(self) -> None:
        interval = 1.0 / self.rps
        origin = time.monotonic()
        slot = 0
        while not self._stop.is_set():
            delay = origin + slot * interval - time.monotonic()
            if delay > 0:
                # time.sleep, not Event.wait: a C-level sleep is several times cheaper per wake-up
                # than a Condition wait, and this runs every request. Naps are capped so that
                # stop() is noticed within STOP_LATENCY even at a very low rate.
                time.sleep(min(delay, STOP_LATENCY))
                continue
            self._send_next()
            slot += 1
            behind = time.monotonic() - (origin + slot * interval)
            if behind > CATCH_UP_LIMIT:
                missed = int(behind / interval)
                slot += missed
                self.skipped += missed
                log.debug("demo loadgen: %.1fs behind schedule, skipped %d requests", behind, missed)
            if slot % max(1, int(self.rps)) == 0:  # about once a second
                self._expire()

    def _send_next(self) -> None:
        channel = self._idle_channel()
        if channel is None:
            return
        with self._lock:
            self.sent += 1
        try:
            channel.send(random.choice(self._requests))
        except OSError as exc:
            # The reader sees the broken socket too and reports the request as failed.
            log.debug("demo loadgen: send failed: %r", exc)
            channel.shutdown()

    def _idle_channel(self) -> _Channel | None:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                channel = self._idle.pop()
                if channel.closed:
                    continue
                if now - channel.last_used > MAX_IDLE:
                    channel.shutdown()  # the router may be about to time it out: use a fresh one
                    continue
                return channel
            if len(self._channels) >= self.max_channels:
                self.dropped += 1
                return None
            self._numbered += 1
            number = self._numbered
        try:
            channel = _Channel(self, number)
        except OSError as exc:
            self._record(None, failed=True, unavailable=True)
            log.debug("demo loadgen: cannot connect to %s:%d: %r", self.host, self.port, exc)
            return None
        with self._lock:
            # Registered before its reader starts, so a connection that dies at once is also
            # unregistered (by _lost) and never counts against max_channels forever.
            self._channels.add(channel)
            self._readers.append(channel.thread)
        channel.thread.start()
        return channel

    def _expire(self) -> None:
        """Cut requests in flight for longer than `timeout` (their reader counts them as failed),
        and forget reader threads that have ended (stop() joins the rest)."""
        now = time.monotonic()
        with self._lock:
            self._readers = [thread for thread in self._readers if thread.is_alive()]
            stuck = [c for c in self._channels if c.sent_at is not None and now - c.sent_at > self.timeout]
        for channel in stuck:
            channel.shutdown()

    # -- results (reader threads) ------------------------------------------------------------

    def _completed(self, channel: _Channel, latency: float, *, failed: bool, reuse: bool,
                   unavailable: bool = False) -> None:
        self._record(latency, failed=failed, unavailable=unavailable)
        if reuse:
            with self._lock:
                self._idle.append(channel)

    def _lost(self, channel: _Channel, latency: float | None) -> None:
        """A channel closed; a request it had in flight failed (unless we are stopping)."""
        if latency is not None and not self._stop.is_set():
            self._record(latency, failed=True, unavailable=True)
        with self._lock:
            self._channels.discard(channel)

    def _record(self, latency: float | None, *, failed: bool, unavailable: bool = False) -> None:
        with self._lock:
            self._count += 1
            self.completed += 1
            if failed:
                self._errors += 1
                self._unavailable += unavailable
                self.failed += 1
            if latency is not None:
                self._latencies.append(latency)
