"""Request bodies read within a limit, then parsed as JSON or as a form.

The limit holds while the body streams in: a client announcing or sending more
than ``limit`` bytes is refused without the rest being read.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from indexer.api.errors import ApiError
from indexer.auth import OAuthError

MAX_FORM_FIELDS = 32
SHOWN_CHARACTERS = 64
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


async def read_body(request: Request, limit: int) -> bytes:
    _check_declared_length(request, limit)

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def json_object(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as a JSON object; ``ApiError`` 400 for anything else."""
    if content_type != JSON:
        shown = (content_type or "untyped")[:SHOWN_CHARACTERS]
        raise _bad_request(f"The body must be {JSON}, not {shown}")
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad_request("The body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise _bad_request("The body must be a JSON object")
    return value


def form_fields(body: bytes, content_type: str | None) -> dict[str, str]:
    """The fields of a urlencoded form, each at most once (RFC 6749 section 3.2)."""
    if content_type != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    try:
        parsed = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=False,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the form cannot be parsed") from exc
    if any(len(values) > 1 for values in parsed.values()):
        raise OAuthError("invalid_request", "a parameter is repeated")
    return {name: values[0] for name, values in parsed.items()}


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not (declared.isascii() and declared.isdigit()):
        raise _bad_request("The Content-Length header is not a number")
    if int(declared) > limit:
        raise _too_large(limit)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "Request body too large", [f"The limit is {limit} bytes"])


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, "Request was syntactically incorrect", [detail])
