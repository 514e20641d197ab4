"""`http`: request templates for set-weight, promote and rollback, e.g. a service's own canary API
(`POST /canary/enable {"traffic_percentage": "{weight}"}`, `POST /canary/rollback`).

Any 2xx is success. Anything else, or no answer, is an ActuatorError naming the method, the URL,
the status and the start of the body, so the operator sees what the other side said.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.canary.actuators.base import Actuation, ActuatorError, Applied, render, render_json
from engine.canary.config import HttpActuatorConfig, HttpRequest

if TYPE_CHECKING:  # httpx is imported where a request is made: a config without one never loads it
    import httpx

BODY_SHOWN = 200  # characters of an error body worth putting in front of the operator


def describe_http_error(exc: httpx.HTTPError) -> str:
    """A transport failure in words: "connection refused", "timed out after 5s"…"""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time (timed out)"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc or 'connection refused'}"
    return f"{type(exc).__name__}: {exc}"


class HttpActuator:
    kind = "http"

    def __init__(self, config: HttpActuatorConfig, client: httpx.AsyncClient) -> None:
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
        import httpx

        try:
            response = await self.client.request(
                request.method, url, json=body, headers=headers, timeout=self.config.timeout
            )
        except httpx.HTTPError as exc:
            raise ActuatorError(f"{where}: {describe_http_error(exc)}") from None
        if not 200 <= response.status_code < 300:
            text = response.text.strip().replace("\n", " ")[:BODY_SHOWN]
            raise ActuatorError(
                f"{where} answered HTTP {response.status_code}" + (f": {text}" if text else ""),
                {"status": response.status_code},
            )
        return Applied(f"{where}: HTTP {response.status_code}", {"status": response.status_code})

    async def aclose(self) -> None:
        """The client belongs to the component, which closes it."""
