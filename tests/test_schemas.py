"""The checked-in JSON Schemas are the ones the models make."""

from __future__ import annotations

import json
from pathlib import Path

from indexer.events import DeadLetter, ReindexRequested
from indexer.schemas import documents, render

SCHEMAS = Path(__file__).parents[1] / "schemas"


def test_checked_in_schemas_match_the_models() -> None:
    generated = documents()
    for name, schema in generated.items():
        path = SCHEMAS / name
        assert path.exists(), f"{name} is missing: run `make schemas`"
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"{name} drifted from its model: run `make schemas`"
        )
    checked_in = {p.name for p in SCHEMAS.glob("*.json")} - {
        "indexing-service.openapi.json"
    }
    assert checked_in == set(generated)


def test_every_event_carries_its_schema_version_and_type() -> None:
    command = json.loads(ReindexRequested(tenant="acme").to_bytes())
    assert command["schemaVersion"] == 1
    assert command["type"] == "ReindexRequested"
    assert set(command) >= {"commandId", "tenant", "mode", "requestedAt", "requestedBy"}


def test_dead_letters_keep_the_original_bytes() -> None:
    letter = DeadLetter(
        reason="the value is not UTF-8",
        code="invalid_utf8",
        tenant="acme",
        topic="products.changelog",
        partition=3,
        offset=42,
        key=b"acme/1",
        value=b"\xff\x00\xfe",
    )
    again = DeadLetter.model_validate_json(letter.to_bytes())
    assert again.value == b"\xff\x00\xfe"
    assert again.key == b"acme/1"
    assert json.loads(letter.to_bytes())["value"] == "/wD+"
