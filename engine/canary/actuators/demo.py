"""`demo`: the built-in demo's router (`POST /admin/weight {"canary_weight": N}`), which is just
the http actuator with the demo's request filled in: promote is weight 100, rollback weight 0."""

from __future__ import annotations

from engine.canary.actuators.http import HttpActuator
from engine.canary.config import DemoActuatorConfig, HttpActuatorConfig, HttpRequest
from engine.collect.http1 import HttpClient
from engine.config.schema import DemoConfig


def demo_router_url(config: DemoActuatorConfig, demo: DemoConfig) -> str | None:
    """The configured URL, or the demo's own router when its port is fixed (None: it is not)."""
    if config.url:
        return config.url
    if demo.port:
        return f"http://127.0.0.1:{demo.port}"
    return None


def demo_actuator(config: DemoActuatorConfig, router_url: str, client: HttpClient) -> HttpActuator:
    http = HttpActuatorConfig(
        kind="http",
        base_url=router_url,
        timeout=config.timeout,
        retries=config.retries,
        retry_backoff=config.retry_backoff,
        set_weight=HttpRequest(method="POST", url="/admin/weight", body={"canary_weight": "{weight}"}),
    )
    actuator = HttpActuator(http, client)
    actuator.kind = "demo"
    return actuator
