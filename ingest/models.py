"""Ingest jobs: a batch of uploaded files processed in the background, with progress a client can poll."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from core.db import utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the job itself failed (interrupted); per-file failures are in `results`


class JobKind(StrEnum):
    UPLOAD = "upload"
    REINDEX = "reindex"


class IngestJob(SQLModel, table=True):
    __tablename__ = "ingest_job"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    kind: str = Field(default=JobKind.UPLOAD, max_length=16)
    status: str = Field(default=JobStatus.QUEUED, max_length=16, index=True)
    total: int = 0
    processed: int = 0
    failed: int = 0
    results: str = Field(default="[]")  # JSON list of per-file outcomes: names, counts, errors; no content
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)  # the last progress; a stale running job is resumed
    finished_at: datetime | None = None


class IngestJobPublic(SQLModel):
    id: int
    kind: str
    status: str
    total: int
    processed: int
    failed: int
    progress: float
    results: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_public(job: IngestJob) -> IngestJobPublic:
    assert job.id is not None
    return IngestJobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        total=job.total,
        processed=job.processed,
        failed=job.failed,
        progress=round(job.processed / job.total, 3) if job.total else 1.0,
        results=json.loads(job.results),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
