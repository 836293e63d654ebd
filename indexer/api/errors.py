"""Errors at the HTTP edge: every exception becomes one of the contract's shapes.

Handlers translate the project's errors; ``CatchAll`` turns anything else into
a bare 500, logged here with its traceback and never shown to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.api.responses import error_message, fault, oauth_error
from indexer.auth import (
    IssuerUnavailable,
    OAuthError,
    TokenExpired,
    TokenMissing,
    TokenRejected,
)
from indexer.errors import KafkaUnavailable
from indexer.jobs import JobViewBehind

log = logging.getLogger(__name__)

MESSAGES = {
    404: "Resource not found",
    405: "Method not allowed",
}


class ApiError(Exception):
    """A refusal in the ``errorMessage`` shape."""

    def __init__(self, status: int, message: str, details: Sequence[str] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = list(details)


def _api_error(request: Request, exc: ApiError) -> Response:
    return error_message(exc.status, exc.message, exc.details)


def _http_error(request: Request, exc: HTTPException) -> Response:
    message = MESSAGES.get(exc.status_code, "Request refused")
    return error_message(exc.status_code, message, headers=exc.headers)


def _token_rejected(request: Request, exc: TokenRejected) -> Response:
    log.info("refused a bearer token on %s: %s", request.url.path, exc)
    return fault(
        expired=isinstance(exc, TokenExpired), missing=isinstance(exc, TokenMissing)
    )


def _oauth_error(request: Request, exc: OAuthError) -> Response:
    log.info("refused a token request: %s", exc.error)
    return oauth_error(exc.status_code, exc.error, exc.description, exc.basic_auth)


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("answering 503 on %s: %s", request.url.path, exc)
    return error_message(
        503,
        "Service unavailable",
        ["The request could not be recorded; retry later"],
        headers={"Retry-After": "1"},
    )


def _jobs_behind(request: Request, exc: Exception) -> Response:
    log.warning("answering 503 on %s: %s", request.url.path, exc)
    return error_message(
        503,
        "Service unavailable",
        ["The jobs are still being read from Kafka; retry later"],
        headers={"Retry-After": "1"},
    )


# Starlette types handlers as taking any Exception; each here takes its own class.
HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    HTTPException: _http_error,
    TokenRejected: _token_rejected,
    OAuthError: _oauth_error,
    KafkaUnavailable: _unavailable,
    IssuerUnavailable: _unavailable,
    JobViewBehind: _jobs_behind,
}


class CatchAll:
    """Answers 500 in the ``errorMessage`` shape to any exception that got here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = error_message(500, "Internal server error")
            await response(scope, receive, send)
