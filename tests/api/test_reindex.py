"""``POST /indexing/{tenant}/reindex`` against the real Kafka.

Every 204 leaves exactly one command on the test's topic; every refusal leaves
the topic empty.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from indexer.auth import load_or_create
from indexer.settings import Settings
from tests.api.support import Api, commands_in, read_topic, running_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

BAD_REQUEST = "Request was syntactically incorrect"


async def _assert_topic_empty(api: Api) -> None:
    assert await read_topic(api.settings, api.settings.topics.commands) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": b""},
        {"json": {"mode": "FULL"}},
        {"json": {}},
        {"json": {"mode": "FULL", "unknown": [1, 2], "priority": "high"}},
        {
            "content": b'{"mode": "FULL"}',
            "headers": {"Content-Type": "application/json; charset=utf-8"},
        },
    ],
    ids=["no-body", "empty-body", "full", "empty-object", "unknown-fields", "charset"],
)
async def test_accepted_command_is_on_the_topic(
    kafka_api: Api, body: dict[str, Any]
) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.reindex("acme", token, **body)

    assert response.status_code == 204
    assert response.content == b""
    records = await read_topic(kafka_api.settings, kafka_api.settings.topics.commands)
    assert [record.key for record in records] == [b"acme"]
    [command] = commands_in(records)
    assert (command.tenant, command.mode, command.requested_by) == (
        "acme",
        "FULL",
        "billing",
    )


async def test_each_request_is_its_own_command(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")

    for _ in range(3):
        assert (await kafka_api.reindex("acme", token)).status_code == 204

    records = await read_topic(kafka_api.settings, kafka_api.settings.topics.commands)
    assert len({command.command_id for command in commands_in(records)}) == 3


@pytest.mark.parametrize(
    ("request_body", "detail"),
    [
        (
            {"content": b'{"mode": ', "headers": {"Content-Type": "application/json"}},
            "valid JSON",
        ),
        (
            {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
            "valid JSON",
        ),
        (
            {
                "content": b"[[" * 100_000,
                "headers": {"Content-Type": "application/json"},
            },
            "valid JSON",
        ),
        ({"json": ["FULL"]}, "JSON object"),
        ({"json": "FULL"}, "JSON object"),
        (
            {"content": b"null", "headers": {"Content-Type": "application/json"}},
            "JSON object",
        ),
        ({"json": {"mode": "PARTIAL"}}, "mode"),
        ({"json": {"mode": None}}, "mode"),
        ({"json": {"mode": "full"}}, "mode"),
        (
            {"content": b'{"mode": "FULL"}', "headers": {"Content-Type": "text/plain"}},
            "application/json",
        ),
        ({"data": {"mode": "FULL"}}, "application/json"),
        ({"content": b'{"mode": "FULL"}'}, "application/json"),
    ],
    ids=[
        "truncated-json",
        "not-utf8",
        "deeply-nested",
        "array",
        "string",
        "null",
        "unknown-mode",
        "null-mode",
        "lowercase-mode",
        "text-plain",
        "form",
        "untyped",
    ],
)
async def test_bad_body_is_400(
    kafka_api: Api, request_body: dict[str, Any], detail: str
) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.reindex("acme", token, **request_body)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["status"], body["message"]) == (
        400,
        "Bad Request",
        BAD_REQUEST,
    )
    assert detail in body["details"][0]
    await _assert_topic_empty(kafka_api)


@pytest.mark.parametrize(
    "tenant",
    ["ab", "Acme", "1acme", "acme-corp", "a" * 17, "acme_x", "ac%20me", "ÄCME"],
)
async def test_tenant_outside_the_pattern_is_400(kafka_api: Api, tenant: str) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.reindex(tenant, token)

    assert response.status_code == 400
    assert response.json()["message"] == BAD_REQUEST
    await _assert_topic_empty(kafka_api)


async def test_longest_and_shortest_tenants_are_accepted(kafka_api: Api) -> None:
    kafka_api.register("edges", tenants=("abc", "a" + "1" * 15))
    shortest = await kafka_api.token("edges", "tenant=abc")
    longest = await kafka_api.token("edges", "tenant=a111111111111111")

    assert (await kafka_api.reindex("abc", shortest)).status_code == 204
    assert (await kafka_api.reindex("a111111111111111", longest)).status_code == 204


def _expired(api: Api) -> str:
    past = int(time.time()) - 3600
    return api.mint(iat=past - 600, nbf=past - 600, exp=past)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer abc.def",
        "Bearer " + "x" * 40,
        "Bearer " + "a" * 10_000,
        "Basic YmlsbGluZzpzZWNyZXQ=",
        "Token abc",
    ],
    ids=["missing", "empty", "not-a-jwt", "garbage", "huge", "basic", "other-scheme"],
)
async def test_no_valid_token_is_401(kafka_api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = await kafka_api.reindex("acme", headers=headers)

    assert response.status_code == 401
    assert response.json() == {
        "fault": {
            "faultstring": "Invalid access token",
            "detail": {"errorcode": "oauth.v2.InvalidAccessToken"},
        }
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await _assert_topic_empty(kafka_api)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "http://127.0.0.1:9999/realms/other"},
        {"aud": "another-service"},
        {"nbf": int(time.time()) + 3600},
        {"tenant": None},
        {"exp": None},
    ],
    ids=["unknown-issuer", "other-audience", "not-yet-valid", "no-tenant", "no-exp"],
)
async def test_token_with_bad_claims_is_401(
    kafka_api: Api, claims: dict[str, Any]
) -> None:
    response = await kafka_api.reindex("acme", kafka_api.mint(**claims))

    assert response.status_code == 401
    assert response.json()["fault"]["faultstring"] == "Invalid access token"
    await _assert_topic_empty(kafka_api)


async def test_unsigned_token_is_401(kafka_api: Api) -> None:
    unsigned = kafka_api.mint(key="", headers={"alg": "none"})

    response = await kafka_api.reindex("acme", unsigned)

    assert response.status_code == 401
    await _assert_topic_empty(kafka_api)


async def test_forged_token_is_401(kafka_api: Api, tmp_path: Path) -> None:
    other = load_or_create(tmp_path / "other-key.pem")
    forged = kafka_api.mint(key=other.private_key)

    response = await kafka_api.reindex("acme", forged)

    assert response.status_code == 401
    assert response.json()["fault"]["faultstring"] == "Invalid access token"
    await _assert_topic_empty(kafka_api)


async def test_expired_token_is_401_expired(kafka_api: Api) -> None:
    response = await kafka_api.reindex("acme", _expired(kafka_api))

    assert response.status_code == 401
    assert response.json() == {
        "fault": {
            "faultstring": "Access Token expired",
            "detail": {"errorcode": "keymanagement.service.access_token_expired"},
        }
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await _assert_topic_empty(kafka_api)


async def test_missing_scope_is_403(kafka_api: Api) -> None:
    kafka_api.register("viewer", scopes=("indexing.search_view",))
    token = await kafka_api.token("viewer")

    response = await kafka_api.reindex("acme", token)

    assert response.status_code == 403
    assert response.json() == {
        "code": 403,
        "status": "Forbidden",
        "message": "Scope validation failed",
        "details": ["Missing required scopes '[indexing.search_manage]'"],
    }
    await _assert_topic_empty(kafka_api)


async def test_token_of_tenant_a_is_refused_on_tenant_b(kafka_api: Api) -> None:
    kafka_api.register("shop", tenants=("alpha", "beta"))
    alpha = await kafka_api.token("shop", "tenant=alpha indexing.search_manage")

    refused = await kafka_api.reindex("beta", alpha)
    accepted = await kafka_api.reindex("alpha", alpha)

    assert refused.status_code == 403
    assert refused.json()["code"] == 403
    assert accepted.status_code == 204
    records = await read_topic(kafka_api.settings, kafka_api.settings.topics.commands)
    assert [command.tenant for command in commands_in(records)] == ["alpha"]


async def test_body_over_the_declared_limit_is_413(kafka_settings: Settings) -> None:
    limited = kafka_settings.model_copy(
        update={"api": kafka_settings.api.model_copy(update={"body_limit_bytes": 256})}
    )
    async with running_api(limited) as api:
        api.register("billing")
        token = await api.token("billing")

        response = await api.reindex(
            "acme", token, json={"mode": "FULL", "padding": "x" * 300}
        )

        assert response.status_code == 413
        assert response.json()["code"] == 413
        await _assert_topic_empty(api)


async def test_streamed_body_is_cut_at_the_limit(kafka_api: Api) -> None:
    token = await kafka_api.token("billing")
    sent: list[int] = []
    chunk = b" " * 65536

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            sent.append(len(chunk))
            yield chunk

    response = await kafka_api.reindex(
        "acme", token, content=endless(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["message"] == "Request body too large"
    assert sum(sent) < 2 * kafka_api.settings.api.body_limit_bytes
    await _assert_topic_empty(kafka_api)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/indexing/acme/reindex", 405),
        ("PUT", "/indexing/acme/reindex", 405),
        ("DELETE", "/indexing/acme/reindex", 405),
        ("POST", "/indexing/acme", 404),
        ("POST", "/indexing/acme/reindex/extra", 404),
        ("GET", "/", 404),
    ],
)
async def test_other_paths_and_methods(
    kafka_api: Api, method: str, path: str, status: int
) -> None:
    token = await kafka_api.token("billing")

    response = await kafka_api.client.request(
        method, path, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == status
    body = response.json()
    assert body["code"] == status
    assert set(body) == {"code", "status", "message", "details"}
    if status == 405:
        assert response.headers["Allow"] == "POST"
    await _assert_topic_empty(kafka_api)
