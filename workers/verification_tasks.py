"""RQ job: score a voucher's seal slice against the account's specimens (OpenCV, here in the
worker), store the verdict and overlay through verification, then route the voucher on."""

import logging
import time
import uuid

import cv2
import numpy as np
from sqlalchemy import select

from authorization.handoff import route_after_entry
from imaging.seals import SealComparison, SealThresholds, compare_seal
from storage.blobs import BlobNotFoundError, make_blob_store, new_blob_key
from storage.db import session_scope
from storage.lifecycle import VoucherStatus
from storage.models import Voucher
from storage.settings import Settings, get_settings
from storage.verification_models import SealCheck
from verification.facts import load_verification_facts
from verification.seal_checks import record_seal_result
from verification.specimens import valid_specimens
from workers.pipeline import REGISTER_PX_PER_MM

log = logging.getLogger(__name__)


def decode_rgb(data: bytes) -> np.ndarray | None:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)


def best_comparison(slice_rgb, specimens, blobs, th: SealThresholds):  # noqa: ANN001, ANN201
    """The most favourable verdict over the account's valid specimens (any may have been used)."""
    rank = {"pass": 2, "manual": 1, "fail": 0}
    best: tuple[SealComparison, int] | None = None
    for spec in specimens:
        image = decode_rgb(blobs.get_bytes(spec.image_key))
        if image is None:
            continue
        result = compare_seal(
            slice_rgb,
            image,
            slice_px_per_mm=REGISTER_PX_PER_MM,
            specimen_px_per_mm=spec.px_per_mm,
            thresholds=th,
        )
        key = (rank[result.verdict], result.score.likeness if result.score else -1.0)
        if best is None or key > (
            rank[best[0].verdict],
            best[0].score.likeness if best[0].score else -1.0,
        ):
            best = (result, spec.id)
    return best


def check_seal(voucher_id: str, settings: Settings | None = None) -> str:
    """Idempotent: a check already done, or a voucher no longer waiting, changes nothing."""
    started = time.perf_counter()
    settings = settings or get_settings()
    blobs = make_blob_store(settings)
    th = SealThresholds(pass_at=settings.seal_pass_at, fail_below=settings.seal_fail_below)
    vid = uuid.UUID(voucher_id)
    with session_scope(settings.effective_database_url) as session:
        voucher = session.get(Voucher, vid, with_for_update=True)
        if voucher is None:
            return "missing"
        check = session.scalar(
            select(SealCheck).where(
                SealCheck.voucher_id == vid, SealCheck.image_version == voucher.image_version
            )
        )
        if check is None or check.status != "pending":
            return "already_done"
        facts = load_verification_facts(session, voucher)
        on = facts.voucher_date or voucher.created_at.date()
        specimens = valid_specimens(session, check.account or "", on) if check.account else []
        verdict, reason, score, specimen_id, details, overlay_key = (
            "manual",
            "",
            None,
            None,
            {},
            None,
        )
        slice_rgb = None
        if voucher.seal_key:
            try:
                slice_rgb = decode_rgb(blobs.get_bytes(voucher.seal_key))
            except BlobNotFoundError:
                slice_rgb = None
        if not specimens:
            reason = "no_specimen"
        elif slice_rgb is None:
            reason = "no_seal_slice"
        else:
            found = best_comparison(slice_rgb, specimens, blobs, th)
            if found is None:
                reason = "specimen_unreadable"
            else:
                result, specimen_id = found
                verdict, reason = result.verdict, result.reason
                if result.score is not None:
                    s = result.score
                    score = s.likeness
                    details = {
                        "global_corr": s.global_corr,
                        "local_min": s.local_min,
                        "size_ratio": s.size_ratio,
                        "angle_deg": s.alignment.angle_deg,
                        "shift_px": list(s.alignment.shift_px),
                        "pass_at": th.pass_at,
                        "fail_below": th.fail_below,
                    }
                if result.overlay is not None:
                    ok, png = cv2.imencode(".png", cv2.cvtColor(result.overlay, cv2.COLOR_RGB2BGR))
                    if ok:
                        overlay_key = new_blob_key("seal-overlays", suffix=".png")
                        blobs.put_bytes(overlay_key, png.tobytes(), "image/png")
        record_seal_result(
            session,
            voucher,
            check,
            verdict=verdict,
            reason=reason,
            score=score,
            specimen_id=specimen_id,
            details=details,
            overlay_key=overlay_key,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        if voucher.status == VoucherStatus.AWAITING_ENTRY:
            route_after_entry(session, voucher, actor_id=None)
        session.commit()
    log.info("seal checked", extra={"voucher_id": voucher_id, "verdict": verdict})
    return verdict
