"""`http`: request templates for set-weight, promote and rollback, e.g. a service's own canary API
(`POST /canary/enable {"traffic_percentage": "{weight}"}`, `POST /canary/rollback`).

Any 2xx is success. Anything else, or no answer, is an ActuatorError naming the method, the URL,
the status and the start of the body, so the operator sees what the other side said. Redirects
are not followed (a 3xx is an answer that is not 2xx); the whole request has the actuator's
`timeout`; retries are apply_with_retries's (engine/canary/actuators/base.py).

The request goes through engine/collect/http1.py's lean client (the component's, one per
actuator): no httpx, and fewer steps between the verb and the request on the wire.
"""

from __future__ import annotations

import asyncio
import sys

from engine.canary.actuators.base import Actuation, ActuatorError, Applied, render, render_json
from engine.canary.config import HttpActuatorConfig, HttpRequest
from engine.collect.client import describe_transport_error
from engine.collect.http1 import BodyTooLarge, ConnectError, HttpClient, ProtocolError

BODY_SHOWN = 200  # characters of an error body worth putting in front of the operator
MAX_BODY = 1_000_000  # bytes of an answer read; a larger one is judged by its status alone


def describe_http_error(exc: BaseException) -> str:
    """A request that got no answer, in words: "cannot connect: connection refused", "no answer in
    time (timed out)". For http1's errors and httpx's (the gates' client) alike."""
    httpx = sys.modules.get("httpx")  # not loaded: the error cannot be one of httpx's
    if isinstance(exc, TimeoutError) or (httpx is not None and isinstance(exc, httpx.TimeoutException)):
        return "no answer in time (timed out)"
    words = describe_transport_error(exc)
    if isinstance(exc, ConnectError) or (httpx is not None and isinstance(exc, httpx.ConnectError)):
        return f"cannot connect: {words}"
    return words


class HttpActuator:
    kind = "http"

    def __init__(self, config: HttpActuatorConfig, client: HttpClient) -> None:
        self.config = config
        self.client = client

    def describe(self) -> str:
        return f"http {self.config.set_weight.method} {self._url(self.config.set_weight, {'weight': '{weight}'})}"

    def _request(self, actuation: Actuation) -> HttpRequest:
        # promote / rollback default to set_weight, whose weight is then 100 / 0.
        return getattr(self.config, actuation.kind) or self.config.set_weight

    def _url(self, request: HttpRequest, values: dict[str, object]) -> str:
        url = str(render(request.url, values)) if "{" in request.url else request.url
        base = self.config.base_url
        if base and not url.startswith(("http://", "https://")):
            url = base.rstrip("/") + "/" + url.lstrip("/")
        return url

    async def apply(self, actuation: Actuation) -> Applied:
        values = actuation.placeholders()
        request = self._request(actuation)
        url = self._url(request, values)
        headers = {name: str(render(value, values)) for name, value in {**self.config.headers, **request.headers}.items()}
        body = render_json(request.body, values) if request.body is not None else None
        where = f"{request.method} {url}"
        try:
            async with asyncio.timeout(self.config.timeout):
                response = await self.client.request(request.method, url, headers=headers, json=body,
                                                     max_body=MAX_BODY, follow_redirects=False)
            status, text = response.status, response.body.decode("utf-8", "replace")
        except BodyTooLarge as exc:  # answered: the status says how it went, the body is not shown
            status, text = exc.status, ""
        except (OSError, ProtocolError, TimeoutError) as exc:
            raise ActuatorError(f"{where}: {describe_http_error(exc)}") from None
        if not 200 <= status < 300:
            text = text.strip().replace("\n", " ")[:BODY_SHOWN]
            raise ActuatorError(f"{where} answered HTTP {status}" + (f": {text}" if text else ""), {"status": status})
        return Applied(f"{where}: HTTP {status}", {"status": status})

    async def warm(self) -> None:
        """A fresh idle connection to each origin a verb calls (engine/collect/http1.py preconnect)."""
        values = Actuation("rollback", 0).placeholders()
        requests = [r for r in (self.config.set_weight, self.config.promote, self.config.rollback) if r is not None]
        await self.client.preconnect(*(self._url(request, values) for request in requests))

    async def aclose(self) -> None:
        """The client belongs to the component, which closes it."""
