"""JSON Schemas of every event, generated from the models.

``python -m indexer.schemas schemas`` rewrites the checked-in copies; a test
fails when they drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from indexer.events import (
    DeadLetter,
    ReindexCompleted,
    ReindexFailed,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)
from indexer.events.models import Model
from indexer.worker.state import Build, ChangelogLayout, PartitionBuilt, Served

TOPICS: dict[str, list[type[Model]]] = {
    "indexing.commands": [ReindexRequested],
    "indexing.events": [
        ReindexStarted,
        ReindexProgress,
        ReindexCompleted,
        ReindexFailed,
    ],
    "products.deadletter": [DeadLetter],
    "indexing.builds": [Build, PartitionBuilt, Served, ChangelogLayout],
}

CHANGELOG_KEY: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ProductKey",
    "description": (
        "Key of products.changelog records: the tenant, a slash, the product "
        "id, in UTF-8. The value is the product document as JSON, or null "
        "(a tombstone) when the product was deleted."
    ),
    "type": "string",
    "pattern": "^[a-z][a-z0-9]{2,15}/.+$",
    "examples": ["acme/sku-123"],
}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def documents() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every model and the changelog key."""
    files = {"products.changelog.key.json": CHANGELOG_KEY}
    for topic, models in TOPICS.items():
        for model in models:
            files[f"{topic}.{model.__name__}.json"] = schema_of(model)
    return files


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in documents().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(path)
