"""HTTP health checks: status code, response time, conditions on the JSON body, and per-component
results (the seed's `/health/detailed`).

    FAIL  no answer, an unexpected status code, a body that is not JSON when conditions or
          components need it, a false condition, a component whose value is not an ok/warn value
    WARN  slower than max_response_time, or a component reporting a warn value ("degraded")
    OK    otherwise

A plain httpx.AsyncClient with a timeout: a health check must say how the service answers now, so
it never retries (the thresholds absorb one-off failures). The body read is capped, so a URL that
points at something big cannot eat the engine's memory.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from engine.collect.client import describe_transport_error
from engine.health.conditions import Condition
from engine.health.config import HttpCheck
from engine.health.state import FAIL, OK, WARN, CheckResult
from engine.jsonpath import follow, parse_path
from engine.units import format_duration, format_size

if TYPE_CHECKING:  # imported by the first client: a config without http checks never loads httpx
    import httpx

MAX_BODY = 1_000_000  # bytes


def new_client() -> httpx.AsyncClient:
    import httpx

    # trust_env=False: a proxy set for the operator's shell must not sit between us and 127.0.0.1.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


async def check_http(client: httpx.AsyncClient, check: HttpCheck) -> CheckResult:
    import httpx  # loaded already: the client is httpx's

    started = time.perf_counter()
    try:
        async with client.stream(check.method, check.url, headers=check.headers, timeout=check.timeout) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    return CheckResult(FAIL, f"HTTP {response.status_code}", _limit(check),
                                       f"the body is larger than {format_size(MAX_BODY)}: not a health document")
            status = response.status_code
    except httpx.TimeoutException:
        return CheckResult(FAIL, "no answer", _limit(check), f"no answer within {format_duration(check.timeout)}")
    except httpx.HTTPError as exc:  # "GET http://127.0.0.1:8481/health: connection refused"
        return CheckResult(FAIL, "no answer", _limit(check), f"{check.method} {check.url}: {describe_transport_error(exc)}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return evaluate(check, status, bytes(body), elapsed_ms)


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
