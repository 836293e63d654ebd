"""Settings and mapping of every index generation, owned by the project.

Localized texts (``name``, ``description``, category names) are language maps;
each known language gets its analyser, any other falls back to ``standard``.
Free-form ``mixins`` are one ``flat_object`` field, so thousands of distinct
attribute keys cannot explode the mapping. Unknown top-level fields are kept in
``_source`` but not indexed (``dynamic: false``).
"""

from __future__ import annotations

from typing import Any

from indexer.settings import OpenSearchSettings

# Language code -> built-in analyser of the analysis-common module.
ANALYZERS = {
    "ar": "arabic", "bg": "bulgarian", "ca": "catalan", "cs": "czech",
    "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fi": "finnish", "fr": "french", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "lv": "latvian", "nl": "dutch", "no": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sv": "swedish", "tr": "turkish",
}  # fmt: skip

LOCALIZED = ("name", "description", "localizedName")


def _language_templates() -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    for field in LOCALIZED:
        for language, analyzer in ANALYZERS.items():
            templates.append(
                {
                    f"{field}_{language}": {
                        "path_match": f"*{field}.{language}",
                        "mapping": {"type": "text", "analyzer": analyzer},
                    }
                }
            )
        templates.append(
            {
                f"{field}_other": {
                    "path_match": f"*{field}.*",
                    "match_mapping_type": "string",
                    "mapping": {"type": "text", "analyzer": "standard"},
                }
            }
        )
    return templates


def _localized() -> dict[str, Any]:
    return {"type": "object", "dynamic": True}


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 512}


MAPPING: dict[str, Any] = {
    "dynamic": False,
    "dynamic_templates": _language_templates(),
    "properties": {
        "id": _keyword(),
        "code": _keyword(),
        "tenant": _keyword(),
        "name": _localized(),
        "description": _localized(),
        "published": {"type": "boolean"},
        "productType": _keyword(),
        "brand": {"type": "object", "properties": {"name": _keyword()}},
        "categoryAssignments": {
            "type": "object",
            "properties": {
                "code": _keyword(),
                "parent": _keyword(),
                "localizedName": _localized(),
            },
        },
        "prices": {
            "type": "object",
            "properties": {
                "currency": _keyword(),
                "effectiveAmount": {"type": "scaled_float", "scaling_factor": 100},
                "originalAmount": {"type": "scaled_float", "scaling_factor": 100},
            },
        },
        "medias": {"type": "object", "enabled": False},
        "tags": _keyword(),
        "mixins": {"type": "flat_object"},
        "metadata": {
            "type": "object",
            "properties": {
                "version": {"type": "long"},
                "createdAt": {"type": "date"},
                "modifiedAt": {"type": "date"},
            },
        },
    },
}


def index_settings(settings: OpenSearchSettings, building: bool) -> dict[str, Any]:
    """Index settings; a generation being built refreshes only on demand."""
    return {
        "number_of_shards": settings.shards,
        "number_of_replicas": 0 if building else settings.replicas,
        "refresh_interval": "-1" if building else settings.refresh_interval,
        # Forget deleted versions at the next refresh, so a product deleted
        # and then recreated with a lower version is not taken for an old
        # write. Ordering comes from the changelog's partition order instead.
        "gc_deletes": "0s",
        "mapping.total_fields.limit": 2000,
        "mapping.depth.limit": 20,
    }


def live_settings(settings: OpenSearchSettings) -> dict[str, Any]:
    """What changes when a built generation goes live."""
    return {
        "number_of_replicas": settings.replicas,
        "refresh_interval": settings.refresh_interval,
    }
