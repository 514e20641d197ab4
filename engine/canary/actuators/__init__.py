"""Actuators: what moves traffic. `build_actuator` picks one by the config's `kind`."""

from __future__ import annotations

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
from engine.collect.http1 import HttpClient
from engine.config.schema import DemoConfig


class ActuatorConfigError(Exception):
    """The actuator cannot be built from this config; str() says why."""


def needs_http_client(config: CanaryConfig) -> bool:
    """A gate asks a webhook: the component opens an httpx client for the gates. The http and
    demo actuators use the lean client (engine/collect/http1.py), so they never load httpx."""
    gates = config.gates
    return gates.pre_rollout is not None or gates.confirm_promotion is not None


def build_actuator(config: CanaryConfig, demo: DemoConfig, client: HttpClient) -> Actuator:
    """`client`: the component's lean HTTP client (used by the http and demo actuators), which it closes."""
    settings = config.actuator
    if isinstance(settings, HttpActuatorConfig):
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
        return demo_actuator(settings, url, client)
    raise ActuatorConfigError(f"canary.actuator: unknown kind {settings!r}")
