"""Posting to the core banking system exactly once: the outbox row, the adapter interface and
HTTP adapter, and the send/record steps the posting job runs.

The idempotency key is the voucher serial. After a timeout or a crash between sending and
recording, the outcome is unknown: the next attempt asks the core before it sends again.
"""

import logging
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import httpx
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, load_only

from storage.after_commit import JobHandoff
from storage.audit import CHAIN_COLUMNS
from storage.authorization_models import PostingOutbox
from storage.db import is_postgres, session_scope
from storage.imaging_models import VoucherField
from storage.lifecycle import VoucherStatus, move_to_now
from storage.models import Voucher, utcnow
from storage.settings import Settings

log = logging.getLogger(__name__)

CLEARING_ACCOUNT = "INTERNAL-CLEARING"
# form → (debit field, credit field or None for the bank's clearing account)
TRANSFER_FIELDS = {
    "transfer_cheque": ("drawer_account", None),
    "deposit_slip": ("payer_account", "payee_account"),
    "wire_transfer": ("remitter_account", "beneficiary_account"),
}


class CoreUnavailableError(Exception):
    """No answer from the core (timeout, connection refused, 5xx): the outcome is unknown."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CoreResult:
    status: str  # posted | rejected | not_found
    reference: str | None = None
    reason: str | None = None


class CoreAdapter(Protocol):
    def send(self, request: dict) -> CoreResult: ...

    def lookup(self, idempotency_key: str) -> CoreResult: ...


class HttpCoreAdapter:
    """JSON over HTTP: POST {base}/postings, GET {base}/postings/{key}."""

    def __init__(self, base_url: str, timeout_s: float, client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout_s)

    def _call(self, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
        try:
            response = self.client.request(method, f"{self.base_url}{path}", **kw)
        except httpx.TimeoutException as exc:
            raise CoreUnavailableError("timeout") from exc
        except httpx.TransportError as exc:
            raise CoreUnavailableError("unreachable") from exc
        if response.status_code >= 500:
            raise CoreUnavailableError(f"http_{response.status_code}")
        return response

    def send(self, request: dict) -> CoreResult:
        r = self._call("POST", "/postings", json=request)
        body = r.json()
        if r.status_code in (200, 201):
            return CoreResult("posted", reference=body["reference"])
        if r.status_code == 422 and body.get("status") == "rejected":
            return CoreResult("rejected", reason=body.get("reason", "rejected"))
        raise CoreUnavailableError(f"http_{r.status_code}")

    def lookup(self, idempotency_key: str) -> CoreResult:
        r = self._call("GET", f"/postings/{idempotency_key}")
        if r.status_code == 404:
            return CoreResult("not_found")
        if r.status_code == 200:
            return CoreResult("posted", reference=r.json()["reference"])
        raise CoreUnavailableError(f"http_{r.status_code}")


def make_core_adapter(settings: Settings) -> CoreAdapter:
    if settings.core_url:
        return _http_adapter(settings.core_url, settings.core_timeout_s)
    from authorization.core_sim import LocalCoreAdapter

    return LocalCoreAdapter(settings)


@cache
def _http_adapter(base_url: str, timeout_s: float) -> HttpCoreAdapter:
    """One adapter per worker process and core URL: its httpx client keeps connections open and
    is built once (a new client builds an SSL context, about as costly as the posting itself)."""
    return HttpCoreAdapter(base_url, timeout_s)


# --- the outbox row, written in the approving (or routing) transaction ---------------------


def idempotency_key_for(voucher: Voucher) -> str:
    return voucher.serial or f"V-{voucher.id}"


def build_posting_request(voucher: Voucher, values: dict[str, str | None]) -> dict | None:
    """What the core is asked to book; None when a field it needs is missing."""
    key = idempotency_key_for(voucher)
    if voucher.form == "account_opening":
        needed = ("applicant_name", "id_type", "id_number", "account_type")
        if not all(values.get(n) for n in needed):
            return None
        return {"idempotency_key": key, "kind": "open_account", **{n: values[n] for n in needed}}
    if voucher.form not in TRANSFER_FIELDS:
        return None
    debit_field, credit_field = TRANSFER_FIELDS[voucher.form]
    debit = values.get(debit_field)
    credit = values.get(credit_field) if credit_field else CLEARING_ACCOUNT
    amount = values.get("amount")
    if not (debit and credit and amount):
        return None
    return transfer_request(key, debit, credit, amount)


def transfer_request(key: str, debit: str, credit: str, amount: str) -> dict:
    """A transfer as the core is asked to book it (JSON over HTTP, or the simulator in-process)."""
    return {
        "idempotency_key": key,
        "kind": "transfer",
        "debit_account": debit,
        "credit_account": credit,
        "amount": amount,
        "currency": "CNY",
    }


def create_outbox(
    session: Session, voucher: Voucher, *, values: dict[str, str | None] | None = None
) -> None:
    """Create (or, for a voucher posted again after an exception, reset) its outbox row.

    `values`: the voucher's field values when the caller read them already (the voucher row is
    then in the database: this write does not flush the session first). On PostgreSQL one
    INSERT .. ON CONFLICT (voucher_id) DO UPDATE writes the row; elsewhere lock, then write.
    """
    if values is None:
        values = dict(
            session.execute(
                select(VoucherField.name, VoucherField.value).where(
                    VoucherField.voucher_id == voucher.id
                )
            ).all()
        )
    payload = build_posting_request(voucher, values)
    last_error = None if payload else "incomplete_voucher"
    if is_postgres(session):
        now = utcnow()
        session.connection().execute(
            _outbox_upsert_pg(),
            {
                "voucher_id": voucher.id,
                "idempotency_key": idempotency_key_for(voucher),
                "status": "pending",
                "payload": payload,
                "last_error": last_error,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
    else:
        row = session.scalar(
            select(PostingOutbox).where(PostingOutbox.voucher_id == voucher.id).with_for_update()
        )
        if row is None:
            row = PostingOutbox(voucher_id=voucher.id, idempotency_key=idempotency_key_for(voucher))
            session.add(row)
        row.status = "pending"
        row.payload = payload
        row.last_error = last_error
        row.attempts = 0
        session.flush()
    schedule_posting_after_commit(session, voucher.id)


@cache
def _outbox_upsert_pg() -> Insert:
    """A new outbox row, or the voucher's row reset to pending (its idempotency key stays)."""
    stmt = pg_insert(PostingOutbox.__table__)
    reset = ("status", "payload", "last_error", "attempts", "updated_at")
    return stmt.on_conflict_do_update(
        index_elements=["voucher_id"], set_={name: stmt.excluded[name] for name in reset}
    )


def serial_taken_by_other(session: Session, voucher: Voucher) -> bool:
    owner = session.scalar(
        select(PostingOutbox.voucher_id).where(
            PostingOutbox.idempotency_key == idempotency_key_for(voucher)
        )
    )
    return owner is not None and owner != voucher.id


# --- enqueue after commit (authorization cannot import workers: workers register here) -----

posting_handoff = JobHandoff("posting")
register_posting_enqueuer = posting_handoff.register


def schedule_posting_after_commit(session: Session, voucher_id: uuid.UUID) -> None:
    posting_handoff.schedule(session, voucher_id)


# --- the posting job's steps -------------------------------------------------------------


_OUTBOX = PostingOutbox.__table__
_DONE = ("posted", "rejected")
# Built once, with bound parameters: SQLAlchemy's compiled cache then serves every posting.
_LOCK_OUTBOX = (
    select(_OUTBOX.c.id, _OUTBOX.c.status, _OUTBOX.c.payload, _OUTBOX.c.idempotency_key)
    .where(_OUTBOX.c.voucher_id == bindparam("vid"))
    .with_for_update()
)
_MARK_SENDING = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("oid"))
    .values(status="sending", attempts=_OUTBOX.c.attempts + 1)
)
_MARK_UNKNOWN = (
    update(_OUTBOX)
    .where(_OUTBOX.c.voucher_id == bindparam("vid"), _OUTBOX.c.status == "sending")
    .values(status="unknown", last_error=bindparam("code"))
)
# Recording moves the voucher: it reads the audit chain's columns only (5 of 30).
_LOCK_VOUCHER = (
    select(Voucher)
    .options(load_only(*CHAIN_COLUMNS))
    .where(Voucher.id == bindparam("vid"))
    .with_for_update()
)
_RECORD = {
    "posted": update(_OUTBOX)
    .where(_OUTBOX.c.voucher_id == bindparam("vid"), _OUTBOX.c.status.not_in(_DONE))
    .values(
        status="posted",
        core_reference=bindparam("reference"),
        posted_at=bindparam("at"),
        last_error=None,
    )
    .returning(_OUTBOX.c.attempts),
    "rejected": update(_OUTBOX)
    .where(_OUTBOX.c.voucher_id == bindparam("vid"), _OUTBOX.c.status.not_in(_DONE))
    .values(status="rejected", last_error=bindparam("reason"))
    .returning(_OUTBOX.c.attempts),
}


def post_voucher(voucher_id: str, *, settings: Settings, adapter: CoreAdapter) -> str:
    """Send one outbox row to the core and record the answer. Safe to run again at any point.

    Plain statements, no unit of work: mark the row `sending` (committed before anything is
    sent), send, then record the answer with the voucher's move and its audit event."""
    url = settings.effective_database_url
    vid = uuid.UUID(voucher_id)
    with session_scope(url) as session:
        row = session.execute(_LOCK_OUTBOX, {"vid": vid}).first()
        if row is None:
            return "missing"
        if row.status in _DONE:
            return "already_done"
        # 'sending' left behind means a run died between sending and recording.
        outcome_unknown = row.status in ("sending", "unknown")
        session.execute(_MARK_SENDING, {"oid": row.id})
        session.commit()
    payload, key = row.payload, row.idempotency_key
    if payload is None:
        return record_result(url, vid, CoreResult("rejected", reason="incomplete_voucher"))
    try:
        result = adapter.lookup(key) if outcome_unknown else CoreResult("not_found")
        if result.status == "not_found":
            result = adapter.send(payload)
    except CoreUnavailableError as exc:
        mark_unknown(url, vid, exc.code)
        raise
    return record_result(url, vid, result)


def mark_unknown(url: str, voucher_id: uuid.UUID, code: str) -> None:
    with session_scope(url) as session:
        session.execute(_MARK_UNKNOWN, {"vid": voucher_id, "code": code})
        session.commit()


def record_result(url: str, voucher_id: uuid.UUID, result: CoreResult) -> str:
    """Record the core's answer once: the outbox row and the voucher's move (posted, or posting
    failed with the reason), voucher row first, in one transaction."""
    with session_scope(url) as session:
        voucher = session.scalar(_LOCK_VOUCHER, {"vid": voucher_id})
        if voucher is None:
            return "already_done"
        posted = result.status == "posted"
        attempts = session.execute(
            _RECORD["posted" if posted else "rejected"],
            {"vid": voucher_id, "reference": result.reference, "at": utcnow()}
            if posted
            else {"vid": voucher_id, "reason": result.reason},
        ).scalar()
        if attempts is None:
            return "already_done"
        if posted:
            move_to_now(
                session,
                voucher,
                VoucherStatus.POSTED,
                actor_id=None,
                reason="core_posted",
                details={"core_reference": result.reference, "attempts": attempts},
            )
        else:
            move_to_now(
                session,
                voucher,
                VoucherStatus.POSTING_FAILED,
                actor_id=None,
                reason=result.reason,
                details={"attempts": attempts},
            )
        session.commit()
        return "posted" if posted else "rejected"
