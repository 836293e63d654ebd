"""The job book alone: the same topics, read in any interleaving, make the same
jobs; times written without a zone are UTC."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from indexer.events import (
    IndexingEvent,
    ReindexCompleted,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)
from indexer.jobs import JobBook, JobStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _command(minutes: int, aware: bool = True) -> ReindexRequested:
    moment = T0 + timedelta(minutes=minutes)
    return ReindexRequested(
        tenant="acme", requested_at=moment if aware else moment.replace(tzinfo=None)
    )


def _build(first: str, joined: str) -> list[IndexingEvent]:
    return [
        ReindexStarted(
            tenant="acme",
            command_ids=[first],
            generation="g-2",
            alias="products-acme",
            started_at=T0,
        ),
        ReindexProgress(
            tenant="acme",
            command_ids=[first],
            generation="g-2",
            processed=5,
            expected=9,
        ),
        ReindexProgress(
            tenant="acme",
            command_ids=[first],
            generation="g-2",
            processed=9,
            expected=9,
        ),
        ReindexCompleted(
            tenant="acme",
            command_ids=[first, joined],
            generation="g-2",
            alias="products-acme",
            indexed=9,
            deleted=0,
            rejected=0,
            documents=9,
            started_at=T0,
            completed_at=T0 + timedelta(minutes=9),
            duration_s=540.0,
        ),
    ]


def _read(
    commands: list[ReindexRequested], events: list[IndexingEvent], order: list[bool]
) -> JobBook:
    """Commands and events fed in ``order`` (True takes a command), each in turn."""
    book = JobBook()
    pending_commands, pending_events = iter(commands), iter(events)
    for take_command in order:
        if take_command:
            book.command(next(pending_commands))
        else:
            book.event(next(pending_events))
    return book


def test_every_interleaving_of_the_topics_makes_the_same_jobs() -> None:
    first, joined, later = _command(0), _command(1), _command(30, aware=False)
    commands = [first, joined, later]
    events = _build(first.command_id, joined.command_id)

    results = set()
    for positions in itertools.combinations(range(7), 3):
        order = [index in positions for index in range(7)]
        book = _read(commands, events, order)
        results.add(repr([job.to_json() for job in book.of("acme")]))

    assert len(results) == 1
    jobs = _read(commands, events, [True] * 3 + [False] * 4).of("acme")
    assert [job.id for job in jobs] == [c.command_id for c in reversed(commands)]
    assert [job.status for job in jobs] == [
        JobStatus.PENDING,
        JobStatus.SUCCESS,
        JobStatus.SUCCESS,
    ]
    assert [(job.processed, job.expected) for job in jobs] == [(0, 0), (9, 9), (9, 9)]
    assert jobs[0].to_json()["metadata"]["createdAt"] == "2026-03-01T12:30:00.000Z"
