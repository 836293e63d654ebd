"""``/indexing/{tenant}/reindex-jobs``: reindex commands as jobs one can follow.

``POST`` publishes a command unless one is already pending or in progress for
the tenant, and answers its job; ``GET`` lists the tenant's jobs, newest
first, or reads one. Jobs come from the API's :class:`JobView`: a creation
first reads the topics to their end; reads answer from what the view holds once
it has read them as far as they went at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from indexer.api.body import json_object, media_type, read_body
from indexer.api.errors import ApiError
from indexer.api.publisher import CommandPublisher
from indexer.api.security import (
    authenticate,
    path_tenant,
    require_reader,
    require_scope,
    require_tenant,
)
from indexer.auth import SEARCH_MANAGE, Principal, TokenVerifier
from indexer.events import ReindexRequested
from indexer.jobs import ENTITY_TYPE, Job, JobView

log = logging.getLogger(__name__)

BAD_REQUEST = "Request was syntactically incorrect"
PAGE_SIZE = 60
MAX_PAGE_SIZE = 2000
MAX_PAGE_NUMBER = 2**31 - 1
REQUESTED_BY_CHARACTERS = 256


def job_location(tenant: str, job_id: str) -> str:
    return f"/indexing/{tenant}/reindex-jobs/{job_id}"


class JobsEndpoint:
    def __init__(
        self,
        verifier: TokenVerifier,
        publisher: CommandPublisher,
        view: JobView,
        body_limit: int,
        timeout_s: float,
    ) -> None:
        self._verifier = verifier
        self._publisher = publisher
        self._view = view
        self._body_limit = body_limit
        self._timeout_s = timeout_s
        # One creation at a time per tenant: the second finds the first's job.
        self._creating: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def collection(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        return await self.listing(request)

    async def create(self, request: Request) -> Response:
        principal, tenant = await self._caller(request)
        require_scope(principal, SEARCH_MANAGE)
        await self._entity_type(request)

        async with self._creating[tenant]:
            # Synced: a job another process created or ended just now counts.
            book = await self._view.synced(self._timeout_s)
            active = book.active(tenant)
            if active is not None:
                return _job_response(tenant, active, 200)
            job = await self._publish(principal, tenant)
        return _job_response(tenant, job, 201)

    async def listing(self, request: Request) -> Response:
        principal, tenant = await self._caller(request)
        require_reader(principal)
        number = _page_parameter(request, "pageNumber", 1, MAX_PAGE_NUMBER)
        size = _page_parameter(request, "pageSize", PAGE_SIZE, MAX_PAGE_SIZE)

        jobs = (await self._view.caught_up(self._timeout_s)).of(tenant)
        page = jobs[(number - 1) * size : number * size]
        return JSONResponse(
            [job.to_json() for job in page], headers={"X-Total-Count": str(len(jobs))}
        )

    async def read(self, request: Request) -> Response:
        principal, tenant = await self._caller(request)
        require_reader(principal)

        book = await self._view.caught_up(self._timeout_s)
        job = book.get(tenant, request.path_params["id"])
        if job is None:
            raise ApiError(404, "Resource not found", ["No reindex job with this id"])
        return JSONResponse(job.to_json())

    async def _caller(self, request: Request) -> tuple[Principal, str]:
        principal = await authenticate(request, self._verifier)
        tenant = path_tenant(request)
        require_tenant(principal, tenant)
        return principal, tenant

    async def _entity_type(self, request: Request) -> None:
        body = await read_body(request, self._body_limit)
        document = json_object(body, media_type(request))
        if document.get("entityType") != ENTITY_TYPE:
            raise ApiError(400, BAD_REQUEST, [f"entityType must be {ENTITY_TYPE}"])

    async def _publish(self, principal: Principal, tenant: str) -> Job:
        command = ReindexRequested(
            tenant=tenant, requested_by=principal.client_id[:REQUESTED_BY_CHARACTERS]
        )
        await self._publisher.publish(command)
        log.info(
            "reindex job %s of tenant %s created by %s",
            command.command_id,
            tenant,
            principal.client_id,
            extra={"tenant": tenant, "command_id": command.command_id},
        )
        return self._view.record(command)


def _job_response(tenant: str, job: Job, status: int) -> Response:
    headers = {"Location": job_location(tenant, job.id)}
    return JSONResponse(job.to_json(), status_code=status, headers=headers)


def _page_parameter(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    value = int(text) if digits else 0
    if not 1 <= value <= maximum:
        raise ApiError(
            400, BAD_REQUEST, [f"{name} must be an integer from 1 to {maximum}"]
        )
    return value
