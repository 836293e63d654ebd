"""The HTTP API: the Starlette app, its routes, and the producer's lifecycle."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from indexer.api.errors import HANDLERS, CatchAll
from indexer.api.jobs import JobsEndpoint
from indexer.api.openapi import OAUTH_ROUTE, OpenApiEndpoint
from indexer.api.operations import (
    HealthEndpoint,
    MetricsEndpoint,
    RequestMetrics,
)
from indexer.api.publisher import CommandPublisher
from indexer.api.reindex import ReindexEndpoint
from indexer.api.token import TokenEndpoint
from indexer.auth import (
    ClientRegistry,
    SigningKey,
    TokenIssuer,
    load_or_create,
    verifier_for,
)
from indexer.health import Probe
from indexer.jobs import JobView
from indexer.metrics import ApiMetrics
from indexer.settings import Settings

Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings, *, publisher: CommandPublisher | None = None
) -> Starlette:
    """The API app; ``publisher`` replaces the Kafka one, for tests."""
    auth = settings.auth
    key = None if auth.external else load_or_create(auth.signing_key_file)
    metrics = ApiMetrics()
    if publisher is None:
        publisher = CommandPublisher(settings, metrics=metrics)
    jobs = JobView(settings)
    probe = Probe(settings)
    limit = settings.api.body_limit_bytes

    verifier = verifier_for(auth, key)
    reindex = ReindexEndpoint(verifier, publisher, jobs, limit)
    timeout_s = settings.api.publish_timeout_s
    routes = [
        Route("/indexing/{tenant}/reindex", reindex.handle, methods=["POST"]),
        *_job_routes(JobsEndpoint(verifier, publisher, jobs, limit, timeout_s)),
        Route("/openapi.json", OpenApiEndpoint(auth.external).handle, methods=["GET"]),
        *_operations_routes(probe, metrics),
    ]
    if key is not None:
        routes.append(_token_route(settings, key))

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestMetrics, metrics=metrics, routes=routes),
            Middleware(CatchAll),
        ],
        exception_handlers=HANDLERS,
        lifespan=_lifespan(publisher, jobs, probe),
    )


def _operations_routes(probe: Probe, metrics: ApiMetrics) -> list[Route]:
    health = HealthEndpoint(probe)
    return [
        Route("/health/live", health.live, methods=["GET"]),
        Route("/health/ready", health.ready, methods=["GET"]),
        Route("/metrics", MetricsEndpoint(metrics).handle, methods=["GET"]),
    ]


def _job_routes(endpoint: JobsEndpoint) -> list[Route]:
    jobs = "/indexing/{tenant}/reindex-jobs"
    # One route per path, so a 405 lists every method of the path in ``Allow``.
    return [
        Route(jobs, endpoint.collection, methods=["GET", "POST"]),
        Route(jobs + "/{id}", endpoint.read, methods=["GET"]),
    ]


def _token_route(settings: Settings, key: SigningKey) -> Route:
    endpoint = TokenEndpoint(
        ClientRegistry(settings.auth.clients_file),
        TokenIssuer(key, settings.auth),
        settings.api.body_limit_bytes,
    )
    return Route(OAUTH_ROUTE, endpoint.handle, methods=["POST"])


def _lifespan(publisher: CommandPublisher, jobs: JobView, probe: Probe) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await publisher.start()
        await jobs.start()
        try:
            yield
        finally:
            await jobs.stop()
            await publisher.stop()
            await probe.close()

    return lifespan
