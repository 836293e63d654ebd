"""The served OpenAPI document: the seed's contract, plus what the service adds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexer.api.openapi import COPY_NAME, serialise
from tests.api.support import Api

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "schemas" / COPY_NAME
# shared/ lies beside every checkout, CI's included.
SEED = ROOT.parent / "shared" / "seed" / COPY_NAME
SEED_PATH = "/indexing/{tenant}/reindex"


async def _served(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


async def test_served_document_matches_the_checked_in_copy(api: Api) -> None:
    served = await _served(api)

    assert CHECKED_IN.read_text("utf-8") == serialise(served), (
        "schemas/ is stale: run `indexer api --write-openapi schemas`"
    )


@pytest.mark.skipif(
    not SEED.exists(), reason="the shared seed is beside checkouts only"
)
async def test_seed_contract_is_kept_verbatim(api: Api) -> None:
    seed = json.loads(SEED.read_text("utf-8"))
    served = await _served(api)

    seed_post = seed["paths"][SEED_PATH]["post"]
    served_post = served["paths"][SEED_PATH]["post"]
    for status, response in seed_post["responses"].items():
        assert served_post["responses"][status] == response
    assert served_post["requestBody"] == seed_post["requestBody"]
    assert served_post["operationId"] == seed_post["operationId"]
    assert served["security"] == seed["security"]
    for name, schema in seed["components"]["schemas"].items():
        assert served["components"]["schemas"][name] == schema
    for name, response in seed["components"]["responses"].items():
        assert served["components"]["responses"][name] == response


async def test_service_additions_are_documented(api: Api) -> None:
    served = await _served(api)

    responses = served["paths"][SEED_PATH]["post"]["responses"]
    assert {"204", "400", "401", "403", "413", "503"} <= set(responses)
    token = served["paths"]["/oauth/token"]["post"]
    assert set(token["responses"]) == {"200", "400", "401", "413"}
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    [tenant] = served["paths"][SEED_PATH]["parameters"]
    assert tenant["schema"]["pattern"] == "^[a-z][a-z0-9]+$"


async def test_job_endpoints_are_documented(api: Api) -> None:
    served = await _served(api)

    jobs = served["paths"]["/indexing/{tenant}/reindex-jobs"]
    job = served["paths"]["/indexing/{tenant}/reindex-jobs/{id}"]
    assert set(jobs["post"]["responses"]) == {
        "200",
        "201",
        "400",
        "401",
        "403",
        "413",
        "503",
    }
    assert set(jobs["get"]["responses"]) == {"200", "400", "401", "403", "503"}
    assert set(job["get"]["responses"]) == {"200", "400", "401", "403", "404", "503"}
    readers = [
        {"OAuth2": ["indexing.search_view"]},
        {"OAuth2": ["indexing.search_manage"]},
    ]
    assert jobs["get"]["security"] == job["get"]["security"] == readers
    schema = served["components"]["schemas"]["reindexJob"]
    assert schema["properties"]["status"]["enum"] == [
        "PENDING",
        "IN_PROGRESS",
        "SUCCESS",
        "FAILURE",
    ]
    size = served["components"]["parameters"]["pageSize"]["schema"]
    assert (size["default"], size["maximum"]) == (60, 2000)
