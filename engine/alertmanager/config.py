"""`export.alertmanager`: where and how opsconsole pushes its alerts.

    export:
      alertmanager:
        urls: [http://127.0.0.1:9093]        # every instance of an HA pair: each gets every push
        resend_every: 1m                     # firing alerts are re-sent (Alertmanager forgets otherwise)
        labels: {env: prod}                  # added to every alert (instance: this host's name by default)
        headers: {Authorization: "Bearer ${AM_TOKEN}"}
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from engine.collect.config import RetryConfig, Url
from engine.config.schema import PositiveDuration, Strict, duration_range

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _label_names(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL.match(name):
            raise ValueError(f"label name {name!r}: use letters, digits and '_' (not starting with a digit)")
    return labels


class AlertmanagerConfig(Strict):
    urls: Annotated[list[Url], Field(min_length=1)]
    """Alertmanager base URLs; alerts are POSTed to `<url>/api/v2/alerts` on each, e.g. `[http://127.0.0.1:9093]`."""
    check_every: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 1.0
    """How often alert state changes are looked for and pushed."""
    resend_every: Annotated[PositiveDuration, duration_range("1s", "1h")] = 60.0
    """How often firing alerts are sent again, so Alertmanager does not resolve them by timeout."""
    timeout: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 5.0
    """How long one push may take."""
    retry: RetryConfig = RetryConfig()
    """Attempts and backoff for a push that fails."""
    labels: Annotated[dict[str, str], AfterValidator(_label_names)] = {}
    """Labels added to every alert, e.g. `{team: payments, env: prod}`."""
    headers: dict[str, str] = {}
    """Extra headers of every push (values may use `${SECRET}`s), e.g. `{Authorization: "Bearer ${AM_TOKEN}"}`."""
    generator_url: str = ""
    """A link back sent with every alert (a runbook or dashboard), e.g. `https://grafana.example.com/d/checkout`."""
    include_silenced: bool = False
    """Also push alerts silenced in opsconsole (by default they are not)."""
