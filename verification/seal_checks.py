"""Seal checks as rows: requested when entry completes (pending), scored by the worker's job
(imaging needs OpenCV, which the API never imports), then turned into flags.

The job is enqueued after the commit through a registered enqueuer (workers.queues registers
it), the same way authorization enqueues posting; `pending_seal_checks` lets a reconciler find
checks whose job was lost.
"""

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.after_commit import JobHandoff
from storage.models import Voucher, utcnow
from storage.verification_models import SealCheck
from verification.flags import Flag, replace_flags

log = logging.getLogger(__name__)

seal_handoff = JobHandoff("seal_check")
register_seal_enqueuer = seal_handoff.register


def request_seal_check(session: Session, voucher: Voucher, account: str) -> SealCheck:
    """A pending check for the voucher's current image; its job is enqueued after commit."""
    check = session.scalar(
        select(SealCheck).where(
            SealCheck.voucher_id == voucher.id, SealCheck.image_version == voucher.image_version
        )
    )
    if check is None:
        check = SealCheck(voucher_id=voucher.id, image_version=voucher.image_version)
        session.add(check)
    check.account, check.status, check.verdict, check.reason = account, "pending", None, None
    check.requested_at = utcnow()
    session.flush()
    seal_handoff.schedule(session, voucher.id)
    return check


def pending_seal_checks(session: Session, *, older_than_s: int) -> list[uuid.UUID]:
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    return list(
        session.scalars(
            select(SealCheck.voucher_id).where(
                SealCheck.status == "pending", SealCheck.requested_at <= cutoff
            )
        )
    )


def seal_flags(verdict: str, reason: str, evidence: dict) -> list[Flag]:
    if verdict == "pass":
        return []
    if verdict == "fail":
        return [Flag("seal_mismatch", "high", {"reason": reason, **evidence}, "seal")]
    code = "seal_no_specimen" if reason == "no_specimen" else "seal_manual"
    return [Flag(code, "medium", {"reason": reason, **evidence}, "seal")]


def record_seal_result(
    session: Session,
    voucher: Voucher,
    check: SealCheck,
    *,
    verdict: str,
    reason: str,
    score: float | None,
    specimen_id: int | None,
    details: dict,
    overlay_key: str | None,
    duration_ms: float,
) -> None:
    """Store the verdict and put its flag on the voucher (the caller holds the voucher row)."""
    check.status, check.verdict, check.reason, check.score = "done", verdict, reason, score
    check.specimen_id, check.details, check.overlay_key = specimen_id, details, overlay_key
    check.checked_at, check.duration_ms = utcnow(), round(duration_ms, 1)
    evidence = {"seal_check_id": check.id, "score": score, "specimen_id": specimen_id}
    replace_flags(session, voucher, seal_flags(verdict, reason, evidence), checks={"seal"})
