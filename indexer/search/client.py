"""The async OpenSearch client, built from settings."""

from __future__ import annotations

from opensearchpy import AsyncOpenSearch

from indexer.settings import OpenSearchSettings


def open_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    auth = None
    if settings.username and settings.password:
        auth = (settings.username, settings.password.get_secret_value())
    return AsyncOpenSearch(
        hosts=[settings.url],
        http_auth=auth,
        timeout=settings.request_timeout_s,
        http_compress=False,
        max_retries=0,
        retry_on_timeout=False,
    )
