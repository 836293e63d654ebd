"""Tokens and client secrets never reach a log line, at any level."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from tests.api.support import Api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_no_token_or_secret_is_logged(
    kafka_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = kafka_api.secrets["billing"]
    basic = base64.b64encode(f"billing:{secret}".encode()).decode()
    wrong_secret = "wrong-" + secret[::-1]
    past = int(time.time()) - 3600

    token = await kafka_api.token("billing")
    basic_response = await kafka_api.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    basic_token = basic_response.json()["access_token"]
    refused = await kafka_api.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "billing",
            "client_secret": wrong_secret,
        },
    )
    expired = kafka_api.mint(iat=past - 60, nbf=past - 60, exp=past)
    forged = token[:-8] + "AAAAAAAA"
    statuses = [
        (await kafka_api.reindex("acme", token)).status_code,
        (await kafka_api.reindex("acme", basic_token)).status_code,
        (await kafka_api.reindex("acme", expired)).status_code,
        (await kafka_api.reindex("acme", forged)).status_code,
        (await kafka_api.reindex("beta", token)).status_code,
        (await kafka_api.reindex("acme", token, json={"mode": "NONE"})).status_code,
    ]

    assert refused.status_code == 401
    assert statuses == [204, 204, 401, 401, 403, 400]
    assert caplog.records, "the flow logged nothing: the test would prove nothing"
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for needle in (secret, wrong_secret, basic, token, basic_token, expired, forged):
        assert needle not in logged
    for part in (token.split(".")[2], expired.split(".")[2]):
        assert part not in logged
