"""The `export:` section: opsconsole's data for the monitoring stack a team already runs.

    export:
      prometheus: {listen: 127.0.0.1:9464}   # /metrics; a non-loopback address is allowed, loudly
      alertmanager: {urls: [http://127.0.0.1:9093]}

Both are off unless their key is present (`prometheus: {}` enables it with the defaults).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator

from engine.alertmanager.config import AlertmanagerConfig
from engine.config.schema import PositiveDuration, Strict

DEFAULT_LISTEN = "127.0.0.1:9464"  # 9464: the port OpenTelemetry's Prometheus exporter made common


def parse_listen(text: str) -> tuple[str, int]:
    """"127.0.0.1:9464" -> ("127.0.0.1", 9464); "[::1]:9464" -> ("::1", 9464). ValueError if not."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, e.g. {DEFAULT_LISTEN}, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, e.g. [::1]:9464, got {text!r}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"the port must be 0..65535, got {port!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _listen(text: str) -> str:
    parse_listen(text)
    return text


class PrometheusExportConfig(Strict):
    listen: Annotated[str, AfterValidator(_listen)] = DEFAULT_LISTEN
    """The address /metrics listens on, `host:port`; port 0 picks a free one (logged); a non-loopback host is allowed with a warning."""
    stale_after: PositiveDuration = 300.0
    """A series without a sample for this long is left out of /metrics."""

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


class ExportConfig(Strict):
    prometheus: PrometheusExportConfig | None = None
    """Serve every live series at /metrics for a Prometheus to scrape; `prometheus: {}` enables it with the defaults."""
    alertmanager: AlertmanagerConfig | None = None
    """Push alerts to Alertmanager."""
