"""Benchmark tenants built from the real catalogs: copies with distinct ids.

The catalogs are read from ``../shared/data/catalogs`` and never copied into
the repository; a bulk file for the ceiling is written to a scratch folder.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.products import catalog_folder, read_documents

CATALOGS = catalog_folder()
NAMES = ("amazontoys", "decathlon", "myntra")


@functools.cache
def originals() -> tuple[dict[str, Any], ...]:
    """Every product of the three catalogs, in a fixed order."""
    documents: list[dict[str, Any]] = []
    for name in NAMES:
        path = CATALOGS / f"{name}.jsonl.gz"
        if not path.exists():
            raise FileNotFoundError(f"the catalog {path} is missing")
        documents += read_documents(path)
    return tuple(documents)


def copies(count: int, salt: str = "") -> list[dict[str, Any]]:
    """``count`` products; copy ``n`` of an original gets the id suffix ``-n``."""
    return list(itertools.islice(_endless(salt), count))


def _endless(salt: str) -> Iterator[dict[str, Any]]:
    for copy in itertools.count():
        for document in originals():
            suffix = f"-{salt}{copy}"
            yield {
                **document,
                "id": f"{document['id']}{suffix}",
                "code": f"{document.get('code', document['id'])}{suffix}",
            }


def write_jsonl(documents: list[dict[str, Any]], path: Path) -> Path:
    """One JSON document a line, as the changelog carries them."""
    with path.open("w", encoding="utf-8") as output:
        for document in documents:
            output.write(json.dumps(document, separators=(",", ":")))
            output.write("\n")
    return path
