"""Reindex jobs: each command's state, as the events about it tell it."""

from indexer.jobs.book import ENTITY_TYPE, Job, JobBook, JobStatus
from indexer.jobs.view import JobView, JobViewBehind

__all__ = ["ENTITY_TYPE", "Job", "JobBook", "JobStatus", "JobView", "JobViewBehind"]
