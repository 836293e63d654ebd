"""``POST /oauth/token``: the client credentials grant and RFC 6749 errors."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest

from indexer.settings import Settings
from tests.api.support import Api, RecordingPublisher, running_api, with_auth

pytestmark = pytest.mark.asyncio

GRANT = {"grant_type": "client_credentials"}


def _form(api: Api, client_id: str = "billing", **extra: str) -> dict[str, str]:
    return {
        **GRANT,
        "client_id": client_id,
        "client_secret": api.secrets[client_id],
        **extra,
    }


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


def _claims(api: Api, token: str) -> dict[str, Any]:
    auth = api.settings.auth
    claims: dict[str, Any] = jwt.decode(
        token,
        api.key.public_key,
        algorithms=["ES256"],
        audience=auth.audience,
        issuer=auth.issuer,
    )
    return claims


async def test_form_credentials_get_a_signed_token(api: Api) -> None:
    scope = "tenant=acme indexing.search_manage"

    response = await api.client.post("/oauth/token", data=_form(api, scope=scope))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        14399,
        scope,
    )
    claims = _claims(api, body["access_token"])
    assert (claims["client_id"], claims["sub"], claims["tenant"]) == (
        "billing",
        "billing",
        "acme",
    )
    assert claims["scope"] == "indexing.search_manage"
    assert claims["exp"] - claims["iat"] == 14399
    assert claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) >= 16
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"], header["kid"]) == (
        "ES256",
        "at+jwt",
        api.key.kid,
    )


async def test_basic_credentials_get_a_token(api: Api) -> None:
    headers = _basic("billing", api.secrets["billing"])

    response = await api.client.post("/oauth/token", data=GRANT, headers=headers)

    assert response.status_code == 200
    assert _claims(api, response.json()["access_token"])["client_id"] == "billing"


async def test_each_token_has_its_own_id(api: Api) -> None:
    first = await api.token("billing")
    second = await api.token("billing")

    assert _claims(api, first)["jti"] != _claims(api, second)["jti"]


async def test_omitted_scope_means_the_only_tenant_and_every_scope(api: Api) -> None:
    api.register("both", scopes=("indexing.search_view", "indexing.search_manage"))

    response = await api.client.post("/oauth/token", data=_form(api, "both"))

    assert response.json()["scope"] == (
        "tenant=acme indexing.search_view indexing.search_manage"
    )


async def test_scope_without_tenant_takes_the_only_tenant(api: Api) -> None:
    form = _form(api, scope="indexing.search_manage")

    response = await api.client.post("/oauth/token", data=form)

    assert response.json()["scope"] == "tenant=acme indexing.search_manage"


async def test_client_added_while_serving_gets_a_token(api: Api) -> None:
    await api.token("billing")
    api.register("latecomer", tenants=("beta",))

    token = await api.token("latecomer")

    assert _claims(api, token)["tenant"] == "beta"


async def test_removed_client_gets_none(api: Api) -> None:
    form = _form(api)
    api.registry.remove("billing")

    response = await api.client.post("/oauth/token", data=form)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("registered", "scope"),
    [
        (("acme",), "tenant=beta"),
        (("acme",), "tenant=acme indexing.search_view"),
        (("acme",), "tenant=acme admin"),
        (("acme", "beta"), "indexing.search_manage"),
        (("acme", "beta"), "tenant=acme tenant=beta"),
        (("acme",), 'tenant=acme "quoted"'),
    ],
    ids=[
        "other-tenant",
        "unregistered-scope",
        "unknown-scope",
        "no-tenant-of-two",
        "two-tenants",
        "malformed",
    ],
)
async def test_scope_beyond_the_registration_is_invalid_scope(
    api: Api, registered: tuple[str, ...], scope: str
) -> None:
    api.register("limited", tenants=registered)

    response = await api.client.post(
        "/oauth/token", data=_form(api, "limited", scope=scope)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response.headers["Cache-Control"] == "no-store"


async def test_wrong_secret_is_invalid_client(api: Api) -> None:
    form = {**_form(api), "client_secret": "not-the-secret"}

    response = await api.client.post("/oauth/token", data=form)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "error_description" in response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers


async def test_unknown_client_is_invalid_client(api: Api) -> None:
    form = {**GRANT, "client_id": "nobody", "client_secret": "whatever"}

    response = await api.client.post("/oauth/token", data=form)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()],
    ids=["wrong-secret", "not-base64", "no-colon"],
)
async def test_failed_basic_is_401_with_a_challenge(
    api: Api, authorization: str | None
) -> None:
    headers = (
        _basic("billing", "wrong")
        if authorization is None
        else {"Authorization": authorization}
    )

    response = await api.client.post("/oauth/token", data=GRANT, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_missing_credentials_are_invalid_client(api: Api) -> None:
    response = await api.client.post("/oauth/token", data=GRANT)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "grant_type", ["password", "authorization_code", "refresh_token"]
)
async def test_other_grants_are_unsupported(api: Api, grant_type: str) -> None:
    form = {**_form(api), "grant_type": grant_type}

    response = await api.client.post("/oauth/token", data=form)

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"client_id": "billing", "client_secret": "x"}},
        {"content": b"grant_type=client_credentials&grant_type=client_credentials"},
        {"json": {"grant_type": "client_credentials"}},
        {"content": b"grant_type=client_credentials&scope=%ff"},
        {"content": b""},
    ],
    ids=["no-grant-type", "repeated", "json", "bad-encoding", "empty"],
)
async def test_malformed_requests_are_invalid_request(
    api: Api, request_kwargs: dict[str, Any]
) -> None:
    if "content" in request_kwargs:
        request_kwargs = {
            **request_kwargs,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }

    response = await api.client.post("/oauth/token", **request_kwargs)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


async def test_two_authentication_methods_are_invalid_request(api: Api) -> None:
    headers = _basic("billing", api.secrets["billing"])

    response = await api.client.post("/oauth/token", data=_form(api), headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_oversized_token_request_is_413(api: Api) -> None:
    padding = "x" * (api.settings.api.body_limit_bytes + 1)

    response = await api.client.post("/oauth/token", data=_form(api, scope=padding))

    assert response.status_code == 413
    assert response.json()["code"] == 413


async def test_get_on_the_token_endpoint_is_405(api: Api) -> None:
    response = await api.client.get("/oauth/token")

    assert response.status_code == 405
    assert response.json()["code"] == 405


async def test_lifetime_comes_from_settings(api_settings: Settings) -> None:
    settings = with_auth(api_settings, token_lifetime_s=120)

    async with running_api(settings, RecordingPublisher(settings)) as api:
        api.register("billing")
        response = await api.client.post("/oauth/token", data=_form(api))

    assert response.json()["expires_in"] == 120
    claims = _claims(api, response.json()["access_token"])
    assert claims["exp"] - claims["iat"] == 120
