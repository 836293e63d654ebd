"""The service's OpenAPI document, kept beside the code that implements it.

``openapi.json`` in this package is the source; ``schemas/`` holds a copy for
readers of the repository, written by ``indexer api --write-openapi schemas``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

COPY_NAME = "indexing-service.openapi.json"
OAUTH_ROUTE = "/oauth/token"


@cache
def _source() -> dict[str, Any]:
    text = resources.files("indexer.api").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def document(external_issuer: bool = False) -> dict[str, Any]:
    """The document as served; without the token endpoint for an external issuer."""
    served = copy.deepcopy(_source())
    if external_issuer:
        served["paths"].pop(OAUTH_ROUTE, None)
    return served


def serialise(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2) + "\n"


def write_copy(directory: Path) -> Path:
    path = directory / COPY_NAME
    path.write_text(serialise(document()), "utf-8")
    return path


class OpenApiEndpoint:
    def __init__(self, external_issuer: bool) -> None:
        self._document = document(external_issuer)

    async def handle(self, request: Request) -> Response:
        return JSONResponse(self._document)
