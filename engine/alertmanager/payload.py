"""An AlertView as Alertmanager API v2 wants it (`POST /api/v2/alerts`, a JSON list of alerts).

An alert's identity in Alertmanager is its label set, so a resolved alert must be sent with
exactly the labels (and startsAt) it fired with: the pusher keeps the payload it sent and re-sends
it with endsAt set. A firing alert carries an endsAt in the future (4 x resend_every, as
Prometheus does): if this engine dies, Alertmanager resolves it by itself rather than keep
paging for an alert nobody evaluates any more.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from engine.snapshot import AlertView
from engine.units import format_value

Payload = dict[str, Any]
FIRING_LIFETIME_RESENDS = 4


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_key(view: AlertView) -> tuple[str, str]:
    return view.name, view.series


def base_labels(extra: dict[str, str]) -> dict[str, str]:
    """Labels on every alert: this host (`instance`), then the config's (which may replace it)."""
    return {"instance": socket.gethostname(), **extra}


def firing_payload(view: AlertView, labels: dict[str, str], now: float, resend_every: float,
                   generator_url: str = "") -> Payload:
    alert_labels = {**labels, "alertname": view.name, "severity": view.severity}
    if view.series:
        alert_labels["series"] = view.series
    annotations = {"summary": view.summary, "runbook": view.runbook, "condition": view.condition}
    if view.value is not None:
        annotations["value"] = format_value(view.series.rpartition("/")[2], view.value)
    if view.silenced_by:
        annotations["silenced_by"] = view.silenced_by
    payload: Payload = {
        "labels": alert_labels,
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": rfc3339(view.since),
        "endsAt": rfc3339(now + FIRING_LIFETIME_RESENDS * resend_every),
    }
    if generator_url:
        payload["generatorURL"] = generator_url
    return payload


def resolved_payload(sent: Payload, resolved_at: float) -> Payload:
    return {**sent, "endsAt": rfc3339(resolved_at)}
