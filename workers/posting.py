"""The posting job (one approved voucher to the core system) and the sweep that re-enqueues
outbox rows whose job was lost. The exactly-once logic lives in authorization.posting."""

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from authorization.posting import make_core_adapter, post_voucher
from storage.authorization_models import PostingOutbox
from storage.db import session_scope
from storage.settings import Settings, get_settings
from workers.jobstats import record_job_duration
from workers.queues import enqueue_posting, posting_job_id
from workers.reconciler import job_state

log = logging.getLogger(__name__)

OPEN_OUTBOX = ("pending", "sending", "unknown")


def post_voucher_job(voucher_id: str) -> str:
    """RQ job: send the voucher's outbox row. Raises when the outcome is unknown (RQ retries)."""
    started = time.perf_counter()
    settings = get_settings()
    outcome = post_voucher(voucher_id, settings=settings, adapter=make_core_adapter(settings))
    record_job_duration("post_voucher", time.perf_counter() - started, settings=settings)
    return outcome


@dataclass
class PostingReconcileReport:
    checked: int = 0
    requeued: list[str] = field(default_factory=list)
    alive: int = 0


def reconcile_posting(
    *, settings: Settings | None = None, older_than_s: int | None = None
) -> PostingReconcileReport:
    """Re-enqueue outbox rows left pending/sending/unknown whose posting job is not alive."""
    settings = settings or get_settings()
    older = settings.posting_reconcile_after_s if older_than_s is None else older_than_s
    cutoff = datetime.now(UTC) - timedelta(seconds=older)
    report = PostingReconcileReport()
    with session_scope(settings.effective_database_url) as session:
        stuck = session.scalars(
            select(PostingOutbox.voucher_id).where(
                PostingOutbox.status.in_(OPEN_OUTBOX), PostingOutbox.updated_at <= cutoff
            )
        ).all()
    for voucher_id in stuck:
        report.checked += 1
        vid = str(voucher_id)
        state, job = ("missing", None)
        if not settings.embedded_jobs:
            state, job = job_state(settings, posting_job_id(vid))
        if state == "alive":
            report.alive += 1
            continue
        if job is not None:
            job.delete(remove_from_queue=True)
        enqueue_posting(vid, settings=settings)
        report.requeued.append(vid)
        log.info("re-enqueued posting", extra={"voucher_id": vid, "job_state": state})
    return report


def escalate_sla(*, settings: Settings | None = None) -> list[int]:
    """Raise the priority of authorization tasks past their SLA deadline (seen by supervisors)."""
    from authorization.claims import escalate_overdue

    settings = settings or get_settings()
    with session_scope(settings.effective_database_url) as session:
        ids = escalate_overdue(session, boost=settings.sla_escalation_boost)
        session.commit()
    if ids:
        log.info("escalated authorization tasks", extra={"count": len(ids)})
    return ids
