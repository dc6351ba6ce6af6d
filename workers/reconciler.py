"""Finds vouchers whose imaging job was lost and enqueues them again.

Lost means: no job in Redis (Redis restarted without persistence), a failed job with attempts
left, or a started job whose heartbeat went stale (worker and work-horse SIGKILLed). A job that
is queued or still heartbeating is left alone, so nothing runs twice at once.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from storage.db import session_scope
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher
from storage.settings import Settings, get_settings
from workers.queues import enqueue_processing, get_redis, imaging_job_id

log = logging.getLogger(__name__)

MAX_PROCESSING_ATTEMPTS = 3
IN_INTAKE = (VoucherStatus.RECEIVED, VoucherStatus.PROCESSING)


@dataclass
class ReconcileReport:
    checked: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    alive: int = 0


def _job_state(settings: Settings, voucher_id: str) -> tuple[str, Job | None]:
    """Classify the voucher's imaging job: missing, alive, abandoned, failed or finished."""
    return job_state(settings, imaging_job_id(voucher_id))


def job_state(settings: Settings, job_id: str) -> tuple[str, Job | None]:
    """Classify a job by id: missing, alive, abandoned, failed or finished."""
    redis = get_redis(settings.redis_url)
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return "missing", None
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return "alive", job
    if status == JobStatus.STARTED:
        beat = job.last_heartbeat or job.started_at
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        stale = datetime.now(UTC) - timedelta(seconds=settings.job_heartbeat_stale_s)
        return ("abandoned" if beat is None or beat < stale else "alive"), job
    if status == JobStatus.FINISHED:
        return "finished", job
    return "failed", job


def reconcile_intake(
    *, settings: Settings | None = None, older_than_s: int | None = None
) -> ReconcileReport:
    settings = settings or get_settings()
    older = settings.reconcile_after_s if older_than_s is None else older_than_s
    cutoff = datetime.now(UTC) - timedelta(seconds=older)
    report = ReconcileReport()
    url = settings.effective_database_url
    with session_scope(url) as session:
        candidates = session.scalars(
            select(Voucher.id).where(Voucher.status.in_(IN_INTAKE), Voucher.updated_at <= cutoff)
        ).all()
    for voucher_id in candidates:
        report.checked += 1
        vid = str(voucher_id)
        if settings.embedded_jobs:
            state, job = "missing", None
        else:
            state, job = _job_state(settings, vid)
        if state == "alive":
            report.alive += 1
            continue
        with session_scope(url) as session:
            voucher = session.get(Voucher, voucher_id, with_for_update=True)
            if voucher is None or voucher.status not in IN_INTAKE:
                continue
            if voucher.processing_attempts >= MAX_PROCESSING_ATTEMPTS:
                if voucher.status == VoucherStatus.RECEIVED:
                    move_to(session, voucher, VoucherStatus.PROCESSING, actor_id=None)
                move_to(
                    session,
                    voucher,
                    VoucherStatus.FAILED,
                    actor_id=None,
                    reason="processing_error",
                    details={"attempts": voucher.processing_attempts, "job": state},
                )
                session.commit()
                report.failed.append(vid)
                continue
        if job is not None:
            job.delete(remove_from_queue=True)
        enqueue_processing(vid, settings=settings)
        report.requeued.append(vid)
        log.info("re-enqueued lost imaging job", extra={"voucher_id": vid, "job_state": state})
    return report
