"""``POST /indexing/{tenant}/reindex``: one durable reindex command, then 204.

Each command is a job too; the ``Location`` header names it.
"""

from __future__ import annotations

import logging
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from indexer.api.body import json_object, media_type, read_body
from indexer.api.errors import ApiError
from indexer.api.jobs import job_location
from indexer.api.publisher import CommandPublisher
from indexer.api.security import (
    authenticate,
    path_tenant,
    require_scope,
    require_tenant,
)
from indexer.auth import SEARCH_MANAGE, TokenVerifier
from indexer.events import ReindexRequested
from indexer.jobs import JobView

log = logging.getLogger(__name__)

MODES = ("FULL",)
REQUESTED_BY_CHARACTERS = 256


class ReindexEndpoint:
    def __init__(
        self,
        verifier: TokenVerifier,
        publisher: CommandPublisher,
        jobs: JobView,
        body_limit: int,
    ) -> None:
        self._verifier = verifier
        self._publisher = publisher
        self._jobs = jobs
        self._body_limit = body_limit

    async def handle(self, request: Request) -> Response:
        principal = await authenticate(request, self._verifier)
        require_scope(principal, SEARCH_MANAGE)
        tenant = path_tenant(request)
        require_tenant(principal, tenant)

        mode = await self._mode(request)
        command = ReindexRequested(
            tenant=tenant,
            mode=mode,
            requested_by=principal.client_id[:REQUESTED_BY_CHARACTERS],
        )
        await self._publisher.publish(command)
        self._jobs.record(command)

        log.info(
            "reindex of tenant %s requested by %s: command %s",
            tenant,
            principal.client_id,
            command.command_id,
            extra={"tenant": tenant, "command_id": command.command_id},
        )
        location = job_location(tenant, command.command_id)
        return Response(status_code=204, headers={"Location": location})

    async def _mode(self, request: Request) -> Literal["FULL"]:
        """The requested mode; no body at all means ``FULL``."""
        body = await read_body(request, self._body_limit)
        if not body:
            return "FULL"
        document = json_object(body, media_type(request))
        mode = document.get("mode", "FULL")
        if mode != "FULL":
            raise ApiError(
                400,
                "Request was syntactically incorrect",
                [f"mode must be one of {list(MODES)}"],
            )
        return "FULL"
