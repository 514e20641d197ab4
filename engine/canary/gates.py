"""Gates (Flagger-style webhooks): `pre_rollout` before the first weight is set, and
`confirm_promotion` before each automatic promotion. A 2xx answer lets the rollout go on; any
other answer, or none, halts it, and the reason (status and the start of the body) is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.canary.actuators.http import BODY_SHOWN, describe_http_error
from engine.canary.config import Gate

if TYPE_CHECKING:  # imported when a gate is asked: a config without gates never loads httpx
    import httpx


async def check_gate(client: httpx.AsyncClient, name: str, gate: Gate, payload: dict[str, Any]) -> str | None:
    """None if the gate says go; otherwise why not, as a sentence."""
    where = f"gate {name} ({gate.method} {gate.url})"
    import httpx

    try:
        if gate.method == "GET":
            response = await client.get(gate.url, params=payload, headers=gate.headers, timeout=gate.timeout)
        else:
            response = await client.post(gate.url, json=payload, headers=gate.headers, timeout=gate.timeout)
    except httpx.HTTPError as exc:
        return f"{where}: {describe_http_error(exc)}"
    if 200 <= response.status_code < 300:
        return None
    text = response.text.strip().replace("\n", " ")[:BODY_SHOWN]
    return f"{where} answered HTTP {response.status_code}" + (f": {text}" if text else "")
