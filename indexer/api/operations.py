"""What operators call, without a token: liveness, readiness and metrics.

``RequestMetrics`` counts every answer by route template, never by raw path,
so that a scan of random paths adds no label values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.health import Probe
from indexer.metrics import CONTENT_TYPE, ApiMetrics, exposition

NO_STORE = {"Cache-Control": "no-store"}
UNMATCHED = "unmatched"


class HealthEndpoint:
    def __init__(self, probe: Probe) -> None:
        self._probe = probe

    async def live(self, request: Request) -> Response:
        return JSONResponse({"status": "live"}, headers=NO_STORE)

    async def ready(self, request: Request) -> Response:
        readiness = await self._probe.readiness()
        status = 200 if readiness.ready else 503
        return JSONResponse(readiness.to_json(), status_code=status, headers=NO_STORE)


class MetricsEndpoint:
    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics

    async def handle(self, request: Request) -> Response:
        body = exposition(self._metrics.registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE, **NO_STORE})


class RequestMetrics:
    """Counts each answered HTTP request by method, route template and status."""

    def __init__(
        self, app: ASGIApp, metrics: ApiMetrics, routes: Sequence[BaseRoute]
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500

        async def send_tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        finally:
            route = self._template(scope)
            elapsed = time.perf_counter() - started
            self._metrics.answered(scope["method"], route, status, elapsed)

    def _template(self, scope: Scope) -> str:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return str(getattr(route, "path", UNMATCHED))
        return UNMATCHED
