"""``POST /indexing/{tenant}/reindex``: one durable reindex command, then 204."""

from __future__ import annotations

import logging
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from indexer.api.body import json_object, media_type, read_body
from indexer.api.errors import ApiError
from indexer.api.publisher import CommandPublisher
from indexer.api.security import authenticate, require_scope, require_tenant
from indexer.auth import SEARCH_MANAGE, TokenVerifier
from indexer.events import ReindexRequested, is_tenant

log = logging.getLogger(__name__)

MODES = ("FULL",)
REQUESTED_BY_CHARACTERS = 256


class ReindexEndpoint:
    def __init__(
        self, verifier: TokenVerifier, publisher: CommandPublisher, body_limit: int
    ) -> None:
        self._verifier = verifier
        self._publisher = publisher
        self._body_limit = body_limit

    async def handle(self, request: Request) -> Response:
        principal = await authenticate(request, self._verifier)
        require_scope(principal, SEARCH_MANAGE)
        tenant = _tenant(request)
        require_tenant(principal, tenant)

        mode = await self._mode(request)
        command = ReindexRequested(
            tenant=tenant,
            mode=mode,
            requested_by=principal.client_id[:REQUESTED_BY_CHARACTERS],
        )
        await self._publisher.publish(command)

        log.info(
            "reindex of tenant %s requested by %s: command %s",
            tenant,
            principal.client_id,
            command.command_id,
            extra={"tenant": tenant, "command_id": command.command_id},
        )
        return Response(status_code=204)

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


def _tenant(request: Request) -> str:
    tenant: str = request.path_params["tenant"]
    if not is_tenant(tenant):
        raise ApiError(
            400,
            "Request was syntactically incorrect",
            ["tenant must be 3 to 16 of [a-z0-9], starting with a letter"],
        )
    return tenant
