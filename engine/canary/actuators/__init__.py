"""Actuators: what moves traffic. `build_actuator` picks one by the config's `kind`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.canary.actuators.base import Actuator
from engine.canary.actuators.command import CommandActuator
from engine.canary.actuators.demo import demo_actuator, demo_router_url
from engine.canary.actuators.http import HttpActuator
from engine.canary.actuators.nginx import NginxActuator
from engine.canary.config import (
    CanaryConfig,
    CommandActuatorConfig,
    DemoActuatorConfig,
    HttpActuatorConfig,
    NginxActuatorConfig,
)
from engine.config.schema import DemoConfig

if TYPE_CHECKING:  # the http and demo actuators use the component's client; nothing else loads httpx
    import httpx


class ActuatorConfigError(Exception):
    """The actuator cannot be built from this config; str() says why."""


def needs_http_client(config: CanaryConfig) -> bool:
    """The actuator (http, demo) or a gate makes HTTP requests: the component opens an httpx client."""
    gates = config.gates
    return (isinstance(config.actuator, (HttpActuatorConfig, DemoActuatorConfig))
            or gates.pre_rollout is not None or gates.confirm_promotion is not None)


def build_actuator(config: CanaryConfig, demo: DemoConfig, client: httpx.AsyncClient | None) -> Actuator:
    """`client`: the component's, present when needs_http_client(config)."""
    settings = config.actuator
    if isinstance(settings, HttpActuatorConfig):
        assert client is not None, "an http actuator needs the client (needs_http_client)"
        return HttpActuator(settings, client)
    if isinstance(settings, CommandActuatorConfig):
        return CommandActuator(settings)
    if isinstance(settings, NginxActuatorConfig):
        return NginxActuator(settings)
    if isinstance(settings, DemoActuatorConfig):
        url = demo_router_url(settings, demo)
        if url is None:
            raise ActuatorConfigError(
                "canary.actuator: kind demo needs the demo router's address: set demo.port (not 0) "
                "or canary.actuator.url"
            )
        assert client is not None, "the demo actuator needs the client (needs_http_client)"
        return demo_actuator(settings, url, client)
    raise ActuatorConfigError(f"canary.actuator: unknown kind {settings!r}")
