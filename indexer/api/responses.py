"""The three error shapes of the contract, and nothing else, reach clients.

``errorMessage`` for the service's own errors, the gateway's ``fault`` for 401,
and RFC 6749 section 5.2 bodies on the token endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus

from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

INVALID_TOKEN = ("Invalid access token", "oauth.v2.InvalidAccessToken")
EXPIRED_TOKEN = ("Access Token expired", "keymanagement.service.access_token_expired")


def error_message(
    status: int,
    message: str,
    details: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "details": list(details),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def fault(expired: bool, missing: bool) -> JSONResponse:
    faultstring, errorcode = EXPIRED_TOKEN if expired else INVALID_TOKEN
    challenge = 'Bearer realm="indexing"'
    if not missing:
        challenge += ', error="invalid_token"'
    body = {"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})


def oauth_error(
    status: int, error: str, description: str, basic_challenge: bool
) -> JSONResponse:
    headers = dict(NO_STORE)
    if basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="indexing", charset="UTF-8"'
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)
