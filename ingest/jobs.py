"""Background ingest jobs: an upload is staged, acknowledged with a job id, and processed file by file."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePath

from sqlalchemy import and_, exists, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from core.db import session_scope, utcnow
from core.errors import InvalidInput, NotFound, PayloadTooLarge, WeposError
from ingest.knowledge import KnowledgeBase
from ingest.models import IngestJob, IngestJobPublic, JobKind, JobStatus, job_public
from ingest.pipeline import IngestInterrupted, IngestOutcome, IngestPipeline, IngestStatus
from retrieval.models import KnowledgeChunk, KnowledgeDocument

log = logging.getLogger(__name__)

# A running job with no sign of life for this long belongs to a process that died: another may resume it.
# A runner marks its job alive every HEARTBEAT_S while it works, a file's batches included.
STALE_AFTER = timedelta(minutes=2)
HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes


def safe_name(name: str) -> str:
    """The file's own name, without any directory a client put in front of it. Only the manifest and the
    database hold it: staged files are named by their place in the upload, whatever their name's bytes."""
    bare = PurePath(name.replace("\\", "/")).name.strip()
    if not bare or bare in {".", ".."}:
        raise InvalidInput("every uploaded file needs a name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in bare):
        raise InvalidInput("an uploaded file's name has a control character in it: rename the file")
    return bare[:255]


def _staged_file(folder: Path, position: int) -> Path:
    return folder / f"{position:04d}.upload"


class IngestJobs:
    """Creates jobs; in a process that runs them (`start`), takes queued jobs from the database, oldest first.

    The database is the queue, as for turns: an API process only stages an upload and records its job, and
    the processes that answer (the `wepos worker`s, or the API's own worker thread with `--workers 0`) run
    jobs, one at a time each and one at a time per business, so an upload's masking and embedding never
    take the CPU the webhook acknowledgements need, and its writes come in short transactions.

    Uploaded bytes are staged under `<data dir>/uploads/job-<id>/` (mode 0700) only until their job has run:
    the knowledge base keeps masked chunks, never the files. Jobs left queued or running by a stopped
    process are resumed at start when their staged files are still there, and failed otherwise.

    With `quota_bytes` (0: none) an upload that would take the business's knowledge past it is refused
    (413) before anything is staged; see `stored_bytes` for what counts."""

    def __init__(
        self,
        *,
        engine: Engine,
        staging_dir: Path,
        pipeline: Callable[[], IngestPipeline],
        knowledge: Callable[[], KnowledgeBase],
        quota_bytes: int = 0,
        poll_s: float = 1.0,
        idle_step: Callable[[list[int]], bool] | None = None,
    ) -> None:
        # The pipeline and knowledge base are built on first use: an API process that never ingests
        # never loads the masking and embedding models.
        self._engine = engine
        self._staging = staging_dir
        self._pipeline = pipeline
        self._knowledge = knowledge
        self._quota = quota_bytes
        # Check and staging happen under one lock, so two uploads at once cannot both fit in the same room.
        self._quota_lock = threading.Lock()
        self._poll_s = poll_s
        # Work done between jobs, a step at a time, for the businesses with documents (the multilingual
        # index catching up): True while there is more.
        self._idle_step = idle_step
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._alive_at = 0.0

    # -- creating ---------------------------------------------------------------------------------------

    def submit_upload(self, business_id: int, files: list[UploadedFile]) -> IngestJobPublic:
        if not files:
            raise InvalidInput("no files in the upload")
        names = [safe_name(f.name) for f in files]
        if len(set(names)) != len(names):
            raise InvalidInput("two uploaded files have the same name")
        with self._quota_lock:
            public = self._stage_upload(business_id, names, files)
        self._wake.set()  # a runner here starts at once; one in another process within `poll_s`
        return public

    def stored_bytes(self, business_id: int, *, replacing: Collection[str] = ()) -> int:
        """What counts against the quota: the masked text kept of every document (in characters; the files
        themselves are not kept), and the files of uploads still waiting to be ingested. Documents named in
        `replacing` are left out: an upload of the same name replaces them."""
        with session_scope(self._engine) as session:
            query = (
                select(func.coalesce(func.sum(func.length(KnowledgeChunk.text)), 0))
                .join(KnowledgeDocument, col(KnowledgeDocument.id) == col(KnowledgeChunk.document_id))
                .where(KnowledgeDocument.business_id == business_id)
            )
            if replacing:
                query = query.where(col(KnowledgeDocument.source_name).not_in(list(replacing)))
            stored = int(session.exec(query).one())
            waiting = session.exec(
                select(IngestJob.id).where(
                    IngestJob.business_id == business_id,
                    IngestJob.kind == JobKind.UPLOAD,
                    col(IngestJob.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]),
                )
            ).all()
        return stored + sum(_staged_bytes(self._folder(job_id)) for job_id in waiting if job_id is not None)

    def _stage_upload(self, business_id: int, names: list[str], files: list[UploadedFile]) -> IngestJobPublic:
        if self._quota:
            incoming = sum(len(f.data) for f in files)
            stored = self.stored_bytes(business_id, replacing=names)
            if stored + incoming > self._quota:
                raise PayloadTooLarge(
                    f"this upload ({_mib(incoming)}) would take the knowledge base past its quota of "
                    f"{_mib(self._quota)} ({_mib(stored)} already stored): delete documents first, or ask "
                    "the operator to raise WEPOS_KNOWLEDGE_QUOTA_BYTES"
                )
        with session_scope(self._engine) as session:
            job = IngestJob(business_id=business_id, kind=JobKind.UPLOAD, total=len(files))
            session.add(job)
            session.flush()
            assert job.id is not None
            folder = self._folder(job.id)
            # A folder under a new job's id is what a staging that failed left (its job was rolled back).
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, mode=0o700)
            try:
                for position, upload in enumerate(files):
                    fd = os.open(_staged_file(folder, position), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(upload.data)
                # The manifest keeps the names, in upload order.
                (folder / ".manifest.json").write_text(json.dumps(names), encoding="utf-8")
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)  # the job row rolls back with it
                raise
            return job_public(job)

    def submit_reindex(self, business_id: int, document_id: int | None = None) -> IngestJobPublic:
        ids = [document_id] if document_id is not None else self._knowledge().document_ids(business_id)
        if document_id is not None:
            self._knowledge().get_document(business_id, document_id)  # 404 before a job exists
        with session_scope(self._engine) as session:
            job = IngestJob(
                business_id=business_id,
                kind=JobKind.REINDEX,
                total=len(ids),
                results=json.dumps([{"document_id": i, "status": "pending"} for i in ids]),
            )
            session.add(job)
            session.flush()
            public = job_public(job)
        self._wake.set()  # a runner here starts at once; one in another process within `poll_s`
        return public

    def get(self, business_id: int, job_id: int) -> IngestJobPublic:
        with session_scope(self._engine) as session:
            job = session.get(IngestJob, job_id)
            if job is None or job.business_id != business_id:
                raise NotFound(f"no ingest job {job_id}")
            return job_public(job)

    # -- running ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run jobs in this process: a thread that takes queued jobs, whichever process staged them, and
        resumes those a stopped or dead process left."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run_forever, name="wepos-ingest", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the chunk batch in flight; an interrupted job goes back to the queue, to resume."""
        thread = self._thread
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join(timeout)
            self._thread = None

    def _run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = self._next_job()
            except Exception as exc:  # the database is away: look again later
                log.error("ingest queue unreadable", extra={"error": type(exc).__name__})
                job_id = None
            if job_id is None:
                if self._step_between_jobs():
                    continue
                self._wake.wait(self._poll_s)
                self._wake.clear()
                continue
            try:
                self.run(job_id)
            except IngestInterrupted:
                self._requeue(job_id)
            except Exception as exc:  # the runner must survive anything; the job records what happened
                log.error("ingest job failed", extra={"job_id": job_id, "error": type(exc).__name__})
                self._finish(job_id, JobStatus.FAILED, error=f"the job stopped: {type(exc).__name__}")

    def _step_between_jobs(self) -> bool:
        if self._idle_step is None:
            return False
        try:
            with session_scope(self._engine) as session:
                business_ids = list(session.exec(select(KnowledgeDocument.business_id).distinct()).all())
            return self._idle_step(business_ids)
        except Exception as exc:  # the runner must survive it; the next idle moment tries again
            log.error("work between ingest jobs failed", extra={"error": type(exc).__name__})
            return False

    def _next_job(self) -> int | None:
        """The oldest job to run: queued, or running without a sign of life, of a business with no other
        job running."""
        stale = utcnow() - STALE_AFTER
        other = aliased(IngestJob)
        busy = exists().where(
            col(other.business_id) == col(IngestJob.business_id),
            col(other.id) != col(IngestJob.id),
            col(other.status) == JobStatus.RUNNING,
            col(other.updated_at) >= stale,
        )
        runnable = or_(
            col(IngestJob.status) == JobStatus.QUEUED,
            and_(col(IngestJob.status) == JobStatus.RUNNING, col(IngestJob.updated_at) < stale),
        )
        with session_scope(self._engine) as session:
            return session.exec(
                select(IngestJob.id).where(runnable, ~busy).order_by(col(IngestJob.id)).limit(1)
            ).first()

    def _requeue(self, job_id: int) -> None:
        with session_scope(self._engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(IngestJob)
                .where(col(IngestJob.id) == job_id, col(IngestJob.status) == JobStatus.RUNNING)
                .values(status=JobStatus.QUEUED, updated_at=utcnow())
            )
        log.info("ingest job interrupted, queued again", extra={"job_id": job_id})

    def _keep_alive(self, job_id: int) -> None:
        """Between chunk batches: stop when asked, and mark the job alive now and then."""
        if self._stopping.is_set():
            raise IngestInterrupted
        now = time.monotonic()
        if now - self._alive_at >= HEARTBEAT_S:
            self._alive_at = now
            with session_scope(self._engine) as session:
                session.exec(  # type: ignore[call-overload]
                    update(IngestJob).where(col(IngestJob.id) == job_id).values(updated_at=utcnow())
                )

    def run(self, job_id: int) -> None:
        """Process one job now, in this thread (the runner calls this; so can tests and the CLI)."""
        now = utcnow()
        with session_scope(self._engine) as session:
            # Claimed atomically: of several processes resuming the same job, one wins.
            claimed = session.exec(  # type: ignore[call-overload]
                update(IngestJob)
                .where(
                    col(IngestJob.id) == job_id,
                    or_(
                        col(IngestJob.status) == JobStatus.QUEUED,
                        (col(IngestJob.status) == JobStatus.RUNNING)
                        & (col(IngestJob.updated_at) < now - STALE_AFTER),
                    ),
                )
                .values(status=JobStatus.RUNNING, updated_at=now)
            ).rowcount
            job = session.get(IngestJob, job_id)
            if not claimed or job is None:
                return
            job.started_at = job.started_at or now
            session.add(job)
            kind, business_id = job.kind, job.business_id
        if kind == JobKind.UPLOAD:
            self._run_upload(job_id, business_id)
        else:
            self._run_reindex(job_id, business_id)

    def _run_upload(self, job_id: int, business_id: int) -> None:
        folder = self._folder(job_id)
        manifest = folder / ".manifest.json"
        if not manifest.exists():
            self._finish(job_id, JobStatus.FAILED, error="the uploaded files are gone: upload them again")
            return
        names: list[str] = json.loads(manifest.read_text(encoding="utf-8"))
        done = {r["source_name"] for r in self._results(job_id)}
        for position, name in enumerate(names):
            if name in done:  # resumed after a restart: this file was already processed
                continue
            try:
                data = _staged_file(folder, position).read_bytes()
            except OSError:
                outcome = IngestOutcome(
                    name, IngestStatus.FAILED, error=f"{name}: the staged file is missing"
                )
            else:
                outcome = self._pipeline().ingest_bytes(
                    business_id, name, data, between_batches=lambda: self._keep_alive(job_id)
                )
            self._record(job_id, _outcome_row(outcome), failed=outcome.status is IngestStatus.FAILED)
        self._finish(job_id, JobStatus.DONE)

    def _run_reindex(self, job_id: int, business_id: int) -> None:
        pending = [int(str(r["document_id"])) for r in self._results(job_id) if r.get("status") == "pending"]
        for document_id in pending:
            try:
                chunks = self._knowledge().reindex_document(business_id, document_id)
                row: dict[str, object] = {"document_id": document_id, "status": "reindexed", "chunks": chunks}
            except WeposError as exc:
                row = {"document_id": document_id, "status": "failed", "error": exc.message}
            self._record(job_id, row, failed=row["status"] == "failed", replace_key="document_id")
        self._finish(job_id, JobStatus.DONE)

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _folder(self, job_id: int) -> Path:
        return self._staging / f"job-{job_id}"

    def _results(self, job_id: int) -> list[dict[str, object]]:
        with session_scope(self._engine) as session:
            job = session.get(IngestJob, job_id)
            return json.loads(job.results) if job else []

    def _record(
        self, job_id: int, row: dict[str, object], *, failed: bool, replace_key: str | None = None
    ) -> None:
        with session_scope(self._engine) as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                return
            results = json.loads(job.results)
            if replace_key is not None:
                results = [r for r in results if r.get(replace_key) != row[replace_key]]
            results.append(row)
            job.results = json.dumps(results)
            job.processed += 1
            job.failed += int(failed)
            job.updated_at = utcnow()
            session.add(job)

    def _finish(self, job_id: int, status: JobStatus, error: str | None = None) -> None:
        # An ended job's staged files go, failed or not: the raw upload holds personal data the knowledge
        # base keeps only masked.
        shutil.rmtree(self._folder(job_id), ignore_errors=True)
        with session_scope(self._engine) as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                return
            job.status = status
            job.error = error
            job.finished_at = job.updated_at = utcnow()
            session.add(job)
        log.info("ingest job finished", extra={"job_id": job_id, "status": status.value})


def _staged_bytes(folder: Path) -> int:
    """The size of an upload's staged files; 0 once its job has run (the folder goes when it ends)."""
    try:
        return sum(f.stat().st_size for f in folder.iterdir() if f.name != ".manifest.json")
    except OSError:
        return 0


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _outcome_row(outcome: IngestOutcome) -> dict[str, object]:
    return {
        "source_name": outcome.source_name,
        "status": outcome.status.value,
        "document_id": outcome.document_id,
        "chunks": outcome.chunks,
        "masked_spans": outcome.masked_spans,
        "error": outcome.error,
    }
