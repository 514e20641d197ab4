"""HTTP health checks: status code, response time, conditions on the JSON body, and per-component
results (the seed's `/health/detailed`).

    FAIL  no answer, an unexpected status code, a body that is not JSON when conditions or
          components need it, a false condition, a component whose value is not an ok/warn value
    WARN  slower than max_response_time, or a component reporting a warn value ("degraded")
    OK    otherwise

engine/collect/http1.py's lean client (as the scrapes), with the check's timeout as one deadline on
the whole exchange: a health check must say how the service answers now, so it never retries (the
thresholds absorb one-off failures; only a keep-alive connection the server had closed is sent
again, once, as every GET through that client) and never follows a redirect (a 3xx is the answer,
judged by expect_status). No proxy from the environment sits between us and 127.0.0.1. The body
read is capped, so a URL that points at something big cannot eat the engine's memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from engine.collect.client import describe_transport_error
from engine.collect.http1 import BodyTooLarge, HttpClient, ProtocolError
from engine.health.conditions import Condition
from engine.health.config import HttpCheck
from engine.health.state import FAIL, OK, WARN, CheckResult
from engine.jsonpath import follow, parse_path
from engine.units import format_duration, format_size

MAX_BODY = 1_000_000  # bytes


def new_client() -> HttpClient:
    """The health component's client (an async context manager: closing it drops idle connections)."""
    return HttpClient()


async def check_http(client: HttpClient, check: HttpCheck) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout):
            response = await client.request(check.method, check.url, headers=check.headers, max_body=MAX_BODY,
                                            follow_redirects=False)
    except TimeoutError:
        return CheckResult(FAIL, "no answer", _limit(check), f"no answer within {format_duration(check.timeout)}")
    except BodyTooLarge as exc:
        return CheckResult(FAIL, f"HTTP {exc.status}", _limit(check),
                           f"the body is larger than {format_size(MAX_BODY)}: not a health document")
    except (OSError, ProtocolError) as exc:  # "GET http://127.0.0.1:8481/health: connection refused"
        return CheckResult(FAIL, "no answer", _limit(check), f"{check.method} {check.url}: {describe_transport_error(exc)}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return evaluate(check, response.status, response.body, elapsed_ms)


def _limit(check: HttpCheck) -> str:
    if check.max_response_time is not None:
        return f"≤{format_duration(check.max_response_time)}"
    return ""


def evaluate(check: HttpCheck, status: int, body: bytes, elapsed_ms: float) -> CheckResult:
    """The verdict on one answer (pure: tested without a network)."""
    verdicts: list[tuple[str, str]] = []  # (status, why)
    if status not in check.expect_status:
        expected = "/".join(map(str, check.expect_status))
        verdicts.append((FAIL, f"HTTP {status}, expected {expected}"))
    components: tuple[tuple[str, str], ...] = ()
    if check.conditions or check.components:
        try:
            document = json.loads(body)
        except ValueError as exc:
            verdicts.append((FAIL, f"the body is not JSON ({exc.msg})" if hasattr(exc, "msg") else "the body is not JSON"))
            document = None
        if document is not None:
            for text in check.conditions:
                why = Condition.parse(text).check(document)
                if why:
                    verdicts.append((FAIL, why))
            if check.components:
                components, component_verdicts = _components(check, document)
                verdicts += component_verdicts
    if check.max_response_time is not None and elapsed_ms > check.max_response_time * 1000:
        verdicts.append((WARN, f"slow: {elapsed_ms:.0f}ms > {format_duration(check.max_response_time)}"))
    worst = CheckResult.worst(*(s for s, _ in verdicts)) if verdicts else OK
    detail = "; ".join(why for s, why in verdicts)
    value = f"{status} in {elapsed_ms:.0f}ms"
    return CheckResult(worst, value, _limit(check), detail, components, response_ms=elapsed_ms)


def _components(check: HttpCheck, document: Any) -> tuple[tuple[tuple[str, str], ...], list[tuple[str, str]]]:
    """Per-component results from a mapping {name: "healthy"}, {name: {"status": ...}} or a list of
    {"name": ..., "status": ...}."""
    _, found, _ = follow(document, parse_path(check.components or ""))
    if isinstance(found, dict):
        items = [(str(name), _status_of(value)) for name, value in found.items()]
    elif isinstance(found, list):
        items = [(str(entry.get("name", f"#{i}")) if isinstance(entry, dict) else f"#{i}", _status_of(entry))
                 for i, entry in enumerate(found)]
    else:
        return (), [(FAIL, f"no components at {check.components!r} in the document")]
    ok_values = {v.lower() for v in check.ok_values}
    warn_values = {v.lower() for v in check.warn_values}
    results: list[tuple[str, str]] = []
    verdicts: list[tuple[str, str]] = []
    for name, value in items:
        word = value.lower()
        status = OK if word in ok_values else WARN if word in warn_values else FAIL
        results.append((name, status))
        if status != OK:
            verdicts.append((status, f"{name}: {value}"))
    return tuple(results), verdicts


def _status_of(value: Any) -> str:
    """A component's value as text: "healthy", {"status": "degraded"} -> "degraded", true -> "true"."""
    if isinstance(value, dict):
        value = value.get("status", value.get("state", "missing status"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
