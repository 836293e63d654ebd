"""Changelog records into changes, and every reason a record is refused."""

from __future__ import annotations

import json

import pytest

from indexer.errors import BadRecord
from indexer.worker.records import Record, parse

LIMIT = 10_000


def record(key: bytes | None, value: bytes | None) -> Record:
    return Record("products.changelog", 2, 17, key, value)


def test_an_upsert_keeps_the_bytes_and_the_version() -> None:
    value = json.dumps({"id": "a/b", "metadata": {"version": 7}}).encode()

    change = parse(record(b"acme/a/b", value), LIMIT)

    assert (change.tenant, change.product_id, change.version) == ("acme", "a/b", 7)
    assert change.source == value
    assert not change.is_delete


def test_a_tombstone_is_a_delete() -> None:
    change = parse(record(b"acme/sku", None), LIMIT)
    assert change.is_delete
    assert change.product_id == "sku"


def test_a_pretty_printed_document_becomes_one_line() -> None:
    value = json.dumps({"id": "x", "name": {"en": "a\\nb"}}, indent=2).encode()
    change = parse(record(b"acme/x", value), LIMIT)
    assert change.source is not None
    assert b"\n" not in change.source
    assert json.loads(change.source) == json.loads(value)


def test_a_document_without_version_gets_version_zero() -> None:
    change = parse(record(b"acme/x", b'{"id": "x"}'), LIMIT)
    assert change.version == 0


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        (None, b'{"id": "x"}', "missing_key"),
        (b"\xff/x", b'{"id": "x"}', "invalid_key"),
        (b"acme", b'{"id": "x"}', "invalid_key"),
        (b"ACME/x", b'{"id": "x"}', "invalid_key"),
        (b"_all/x", b'{"id": "x"}', "invalid_key"),
        (b"acme/", b'{"id": ""}', "missing_id"),
        (b"acme/x", b"{not json", "invalid_json"),
        (b"acme/x", b"\xff\xfe", "invalid_utf8"),
        (b"acme/x", b"[1, 2]", "not_an_object"),
        (b"acme/x", b'{"name": "no id"}', "missing_id"),
        (b"acme/x", b'{"id": ""}', "missing_id"),
        (b"acme/x", b'{"id": 5}', "missing_id"),
        (b"acme/x", b'{"id": "y"}', "id_mismatch"),
        (b"acme/x", b'{"id": "x", "tenant": "other"}', "tenant_mismatch"),
        (b"acme/x", b'{"id": "x", "metadata": {"version": "2"}}', "invalid_version"),
        (b"acme/x", b'{"id": "x", "metadata": {"version": -1}}', "invalid_version"),
        (b"acme/x", b'{"id": "x", "metadata": {"version": true}}', "invalid_version"),
        (b"acme/x", b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
    ],
)
def test_bad_records_are_refused_with_their_reason(
    key: bytes | None, value: bytes, code: str
) -> None:
    with pytest.raises(BadRecord) as refused:
        parse(record(key, value), 10_000_000)
    assert refused.value.code == code
    assert refused.value.message


def test_a_document_over_the_bulk_limit_is_refused() -> None:
    value = json.dumps({"id": "x", "description": {"en": "y" * LIMIT}}).encode()
    with pytest.raises(BadRecord) as refused:
        parse(record(b"acme/x", value), LIMIT)
    assert refused.value.code == "too_large"
    assert str(LIMIT) in refused.value.message
