"""Jobs folded from commands and events, in the order each topic holds them.

A job is one ``ReindexRequested``; its id is the command id. It is ``PENDING``
once the command is on ``indexing.commands``, ``IN_PROGRESS`` from the first
event that names it (a command that joined a running build is named from the
next progress event on), and ``SUCCESS`` or ``FAILURE`` for good at the
outcome. Events may be read before the command they name, when the two topics
are replayed side by side; they wait for it.

Counts are changelog records, as ``ReindexProgress`` gives them: ``expected``
is what the build's rewinds read (the tenant's home partitions, with any other
tenant sharing them), ``processed`` what they read so far, all of it once the
build succeeded.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indexer.events import (
    IndexingEvent,
    ReindexCompleted,
    ReindexFailed,
    ReindexProgress,
    ReindexRequested,
    ReindexStarted,
)

ENTITY_TYPE = "PRODUCT"


class JobStatus(enum.StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"

    @property
    def ended(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAILURE)


@dataclass
class Job:
    id: str
    tenant: str
    created_at: datetime
    modified_at: datetime
    sequence: int
    status: JobStatus = JobStatus.PENDING
    message: str | None = None
    expected: int = 0
    processed: int = 0
    generation: str | None = None
    entity_type: str = ENTITY_TYPE

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "entityType": self.entity_type,
            "status": self.status.value,
        }
        if self.message is not None:
            body["message"] = self.message
        body["expectedCount"] = self.expected
        body["processedCount"] = self.processed
        body["metadata"] = {
            "createdAt": _timestamp(self.created_at),
            "modifiedAt": _timestamp(self.modified_at),
        }
        return body


class JobBook:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._waiting: dict[str, list[IndexingEvent]] = {}
        self._progress: dict[str, ReindexProgress] = {}
        self._sequence = itertools.count()

    def command(self, command: ReindexRequested) -> Job:
        """The command's job, created ``PENDING`` the first time it is seen."""
        job = self._jobs.get(command.command_id)
        if job is not None:
            return job
        job = Job(
            id=command.command_id,
            tenant=command.tenant,
            created_at=_aware(command.requested_at),
            modified_at=_aware(command.requested_at),
            sequence=next(self._sequence),
        )
        self._jobs[job.id] = job
        for event in self._waiting.pop(job.id, []):
            self._apply(job, event)
        return job

    def event(self, event: IndexingEvent) -> None:
        if isinstance(event, ReindexProgress):
            self._progress[event.generation] = event
        for command_id in event.command_ids:
            job = self._jobs.get(command_id)
            if job is None:
                self._waiting.setdefault(command_id, []).append(event)
            else:
                self._apply(job, event)

    def get(self, tenant: str, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.tenant == tenant else None

    def of(self, tenant: str) -> list[Job]:
        """The tenant's jobs, newest first."""
        jobs = [job for job in self._jobs.values() if job.tenant == tenant]
        return sorted(
            jobs, key=lambda job: (job.created_at, job.sequence), reverse=True
        )

    def tenants(self) -> set[str]:
        return {job.tenant for job in self._jobs.values()}

    def active(self, tenant: str, entity_type: str = ENTITY_TYPE) -> Job | None:
        """The newest job of the tenant still pending or in progress."""
        for job in self.of(tenant):
            if job.entity_type == entity_type and not job.status.ended:
                return job
        return None

    def _apply(self, job: Job, event: IndexingEvent) -> None:
        if job.status.ended:
            return
        if isinstance(event, ReindexStarted):
            job.status, job.generation = JobStatus.IN_PROGRESS, event.generation
            job.processed = job.expected = 0
            job.modified_at = _aware(event.started_at)
        elif isinstance(event, ReindexProgress):
            job.status, job.generation = JobStatus.IN_PROGRESS, event.generation
            job.processed, job.expected = event.processed, event.expected
            job.modified_at = _aware(event.reported_at)
        elif isinstance(event, ReindexCompleted):
            self._count_from_build(job, event.generation)
            # Every rewind read its partitions in full, reported or not.
            job.processed = job.expected
            job.status, job.modified_at = JobStatus.SUCCESS, _aware(event.completed_at)
        elif isinstance(event, ReindexFailed):
            job.status, job.message = JobStatus.FAILURE, event.reason
            job.modified_at = _aware(event.failed_at)

    def _count_from_build(self, job: Job, generation: str) -> None:
        """A command that joined late takes the counts of the build it joined."""
        progress = self._progress.get(generation)
        if progress is not None:
            job.processed, job.expected = progress.processed, progress.expected
        job.generation = generation


def _aware(moment: datetime) -> datetime:
    """Other services may write times without a zone; they are taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
