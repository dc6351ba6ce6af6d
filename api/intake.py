"""The upload use case: validate each scan, store it, record the voucher — durable before 2xx.

Order: checks (nothing stored for a bad file) → blob under a server-made key → one transaction
(voucher rows, their first events, the idempotency record) → commit → the caller enqueues.
A failed commit removes the blobs it wrote, so a refused request leaves nothing behind.
"""

import hashlib
import logging
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.multipart_stream import ReceivedFile
from api.scan_checks import check_scan
from storage.blobs import BlobStore, new_blob_key
from storage.errors import DomainError, InvalidInputError, PermissionDeniedError
from storage.lifecycle import VoucherStatus, start_lifecycle
from storage.models import IdempotencyRecord, User, Voucher
from storage.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    filename: str
    status: str  # accepted | duplicate | refused
    voucher_id: str | None = None
    duplicate_of: str | None = None
    sha256: str | None = None
    error: dict | None = None
    http_status: int = 201


@dataclass(frozen=True)
class UploadOutcome:
    status_code: int
    body: dict
    new_voucher_ids: tuple[str, ...]
    replayed: bool = False


def request_fingerprint(files: list[ReceivedFile]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.sha256.encode())
        h.update(f.filename.encode("utf-8", "replace"))
    return h.hexdigest()


def find_replay(
    session: Session, *, user: User, key: str, fingerprint: str
) -> UploadOutcome | None:
    record = session.get(IdempotencyRecord, (user.id, key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise InvalidInputError(
            "Idempotency-Key 已用于另一次不同的上传", code="idempotency_key_reused"
        )
    return UploadOutcome(record.status_code, record.response, (), replayed=True)


def _summarise(results: list[FileResult]) -> tuple[int, dict]:
    body = {
        "results": [{k: v for k, v in asdict(r).items() if k != "http_status"} for r in results]
    }
    if all(r.status == "refused" for r in results):
        first = results[0]
        body["error"] = first.error
        return first.http_status, body
    return 201, body


def accept_upload(
    session: Session,
    *,
    user: User,
    files: list[ReceivedFile],
    blobs: BlobStore,
    settings: Settings,
    idempotency_key: str | None,
) -> UploadOutcome:
    if user.branch_id is None:
        raise PermissionDeniedError("柜员未关联网点，不能上传", code="no_branch")
    for attempt in range(2):
        stored_keys: list[str] = []
        try:
            results, new_ids = _store_files(
                session, user=user, files=files, blobs=blobs, settings=settings, keys=stored_keys
            )
            status_code, body = _summarise(results)
            if idempotency_key:
                session.add(
                    IdempotencyRecord(
                        user_id=user.id,
                        key=idempotency_key,
                        request_hash=request_fingerprint(files),
                        status_code=status_code,
                        response=body,
                    )
                )
            session.commit()
            return UploadOutcome(status_code, body, tuple(new_ids))
        except IntegrityError:
            # A concurrent upload of the same bytes (or the same Idempotency-Key) won the race.
            session.rollback()
            _delete_quietly(blobs, stored_keys)
            if idempotency_key:
                replay = find_replay(
                    session, user=user, key=idempotency_key, fingerprint=request_fingerprint(files)
                )
                if replay:
                    return replay
            if attempt:
                raise
        except BaseException:
            session.rollback()
            _delete_quietly(blobs, stored_keys)
            raise
    raise AssertionError("unreachable")


def _store_files(
    session: Session,
    *,
    user: User,
    files: list[ReceivedFile],
    blobs: BlobStore,
    settings: Settings,
    keys: list[str],
) -> tuple[list[FileResult], list[str]]:
    results: list[FileResult] = []
    new_ids: list[str] = []
    seen: dict[str, str] = {}
    for f in files:
        result = FileResult(filename=f.filename, status="accepted", sha256=f.sha256)
        results.append(result)
        try:
            info = check_scan(f.file, max_pixels=settings.max_image_pixels)
        except DomainError as exc:
            result.status = "refused"
            result.error = {"code": exc.code, "message": exc.message, "details": exc.details}
            result.http_status = exc.status_code
            continue
        existing = seen.get(f.sha256) or session.scalar(
            select(Voucher.id).where(
                Voucher.branch_id == user.branch_id, Voucher.sha256 == f.sha256
            )
        )
        if existing:
            result.status = "duplicate"
            result.duplicate_of = str(existing)
            continue
        key = new_blob_key("originals")
        f.file.seek(0)
        blobs.put_file(key, f.file, f.size, info.content_type)
        keys.append(key)
        voucher = Voucher(
            branch_id=user.branch_id,
            uploaded_by_id=user.id,
            original_key=key,
            sha256=f.sha256,
            size_bytes=f.size,
            detected_format=info.format,
            width=info.width,
            height=info.height,
            page_count=info.pages,
            status=VoucherStatus.RECEIVED,
        )
        session.add(voucher)
        session.flush()
        start_lifecycle(session, voucher, actor_id=user.id)
        result.voucher_id = str(voucher.id)
        seen[f.sha256] = result.voucher_id
        new_ids.append(result.voucher_id)
    return results, new_ids


def _delete_quietly(blobs: BlobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            blobs.delete(key)
        except Exception:  # the orphan sweep can remove it later; the request already failed
            log.warning("could not remove blob after a failed upload", extra={"blob_key": key})
