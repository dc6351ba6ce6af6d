"""RQ job functions: ids in, idempotent, safe to run again after a crash or a lost job.

Each job re-reads state from the database (the truth) and moves the voucher only through
storage.lifecycle, so a second run of a job that already finished changes nothing.
"""

import logging
import time
import uuid

from storage.db import session_scope
from storage.lifecycle import VoucherStatus, move_to
from storage.models import Voucher
from storage.settings import get_settings
from workers.jobstats import record_job_duration

log = logging.getLogger(__name__)


def process_voucher(voucher_id: str) -> str:
    """Imaging job for one voucher. Returns a short outcome word (kept in the RQ result)."""
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
        session.commit()

    outcome = run_imaging(voucher_id)

    with session_scope(url) as session:
        voucher = session.get(Voucher, vid, with_for_update=True)
        if voucher is None or voucher.status != VoucherStatus.PROCESSING:
            return "already_done"  # another run finished first
        move_to(session, voucher, VoucherStatus.AWAITING_ENTRY, actor_id=None, reason=outcome)
        session.commit()
    record_job_duration("process_voucher", time.perf_counter() - started, settings=settings)
    return outcome


def run_imaging(voucher_id: str) -> str:
    """The image pipeline for a voucher; until it lands, intake only confirms the original."""
    return "processed"


def reconcile() -> dict:
    """Periodic job: re-enqueue vouchers whose imaging job was lost."""
    from workers.reconciler import reconcile_intake

    report = reconcile_intake()
    return {"checked": report.checked, "requeued": len(report.requeued)}
