"""The external issuer's public keys, fetched from its JWKS URL and cached.

An unknown ``kid`` refetches the set at most once per cooldown, so a key
rotation is picked up at once while forged key ids cannot hammer the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from indexer.auth.errors import IssuerUnavailable, TokenRejected

log = logging.getLogger(__name__)

REFRESH_COOLDOWN_S = 30.0


class JwksKeys:
    def __init__(self, url: str, cache_s: float, timeout_s: float) -> None:
        self._url = url
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._keys: dict[str | None, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> Any:
        """The verification key named ``kid`` (or the only key, if there is one)."""
        keys = await self._keys_fresh(refresh=False)
        if self._find(keys, kid) is None and self._may_refresh():
            keys = await self._keys_fresh(refresh=True)
        key = self._find(keys, kid)
        if key is None:
            raise TokenRejected(f"the issuer publishes no key {kid!r}")
        return key

    @staticmethod
    def _find(keys: dict[str | None, Any], kid: str | None) -> Any:
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid)

    def _may_refresh(self) -> bool:
        if self._fetched_at is None:
            return True
        return time.monotonic() - self._fetched_at >= REFRESH_COOLDOWN_S

    async def _keys_fresh(self, refresh: bool) -> dict[str | None, Any]:
        async with self._lock:
            age = (
                time.monotonic() - self._fetched_at
                if self._fetched_at is not None
                else None
            )
            stale = age is None or age >= self._cache_s
            if refresh or stale:
                self._keys = await self._fetch()
                self._fetched_at = time.monotonic()
            return self._keys

    async def _fetch(self) -> dict[str | None, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.get(self._url)
                response.raise_for_status()
                document = response.json()
            key_set = jwt.PyJWKSet.from_dict(document)
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("cannot fetch the issuer's keys from %s: %s", self._url, exc)
            raise IssuerUnavailable(f"the keys at {self._url} are unavailable") from exc

        keys = {
            key.key_id: key.key
            for key in key_set.keys
            if key.public_key_use in ("sig", None)
        }
        log.info("fetched %d signing keys from %s", len(keys), self._url)
        return keys
