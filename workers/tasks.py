"""RQ job functions: ids in, idempotent, safe to run again after a crash or a lost job.

Each job re-reads state from the database (the truth) and moves the voucher only through
storage.lifecycle, so a second run of a job that already finished changes nothing.
"""

import logging
import time
import uuid

from storage.blobs import make_blob_store
from storage.db import session_scope
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher
from storage.settings import get_settings
from storage.voucher_types import active_definitions
from workers.imaging_job import apply_outcome, run_pipeline
from workers.jobstats import record_job_duration

log = logging.getLogger(__name__)


def process_voucher(voucher_id: str) -> str:
    """Imaging job for one voucher. Returns the status it left the voucher in."""
    started = time.perf_counter()
    settings = get_settings()
    url = settings.effective_database_url
    vid = uuid.UUID(voucher_id)
    with session_scope(url) as session:
        voucher = session.get(Voucher, vid, with_for_update=True)
        if voucher is None:
            return "missing"
        if voucher.status not in (VoucherStatus.RECEIVED, VoucherStatus.PROCESSING):
            return "already_done"
        if voucher.status == VoucherStatus.RECEIVED:
            move_to(session, voucher, VoucherStatus.PROCESSING, actor_id=None, reason="imaging")
        voucher.processing_attempts += 1
        version, original_key = voucher.image_version, voucher.original_key
        definitions = active_definitions(session)
        if voucher.classification == "manual" and voucher.form in definitions:
            definitions = {voucher.form: definitions[voucher.form]}  # a supervisor chose it
        session.commit()

    # The heavy part holds no transaction and no row lock.
    blobs = make_blob_store(settings)
    outcome = run_pipeline(
        voucher_id=vid,
        image_version=version,
        original=blobs.get_bytes(original_key),
        definitions=definitions,
        blobs=blobs,
        settings=settings,
    )

    with session_scope(url) as session:
        voucher = session.get(Voucher, vid, with_for_update=True)
        if (
            voucher is None
            or voucher.status != VoucherStatus.PROCESSING
            or voucher.image_version != version
        ):
            return "already_done"  # another run finished first, or a rescan replaced the image
        status = apply_outcome(session, voucher, outcome, settings=settings)
        session.commit()
    record_job_duration("process_voucher", time.perf_counter() - started, settings=settings)
    log.info("voucher imaged", extra={"voucher_id": voucher_id, "status": str(status)})
    return str(status)


def reconcile(older_than_s: int | None = None) -> dict:
    """Periodic job: re-enqueue lost imaging, seal-check, entry-completion and posting jobs;
    escalate SLAs."""
    from verification.seal_checks import pending_seal_checks
    from workers.entry_jobs import settled_awaiting_completion
    from workers.posting import escalate_sla, reconcile_posting
    from workers.queues import enqueue_completion, enqueue_verification
    from workers.reconciler import reconcile_intake

    settings = get_settings()
    report = reconcile_intake(older_than_s=older_than_s)
    posting = reconcile_posting(older_than_s=older_than_s)
    with session_scope(settings.effective_database_url) as session:
        seals = pending_seal_checks(
            session,
            older_than_s=settings.reconcile_after_s if older_than_s is None else older_than_s,
        )
    for voucher_id in seals:
        enqueue_verification(voucher_id, settings=settings)
    completions = settled_awaiting_completion(
        settings, older_than_s=settings.reconcile_after_s if older_than_s is None else older_than_s
    )
    for voucher_id in completions:
        enqueue_completion(voucher_id, settings=settings)
    escalated = escalate_sla()
    return {
        "intake_checked": report.checked,
        "intake_requeued": len(report.requeued),
        "intake_failed": len(report.failed),
        "posting_requeued": len(posting.requeued),
        "seal_checks_requeued": len(seals),
        "completions_requeued": len(completions),
        "sla_escalated": len(escalated),
    }
