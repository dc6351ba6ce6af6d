"""Append-only voucher events in a per-voucher hash chain, and the verifier that re-walks it.

Each event's hash covers its content and the previous event's hash; the voucher row keeps the
newest hash, so an edited, inserted or deleted event (even the last one) is detectable.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, TextClause, bindparam, exists, insert, literal, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from storage.driver import keep_in_step, plain_row
from storage.models import Voucher, VoucherEvent, utcnow

GENESIS = "0" * 64
# What append_event_now and storage.lifecycle.move_to_now read of the voucher and keep in step:
# a hot path that locks the voucher may load only these (plus what it reads itself).
CHAIN_COLUMNS = (
    Voucher.id,
    Voucher.status,
    Voucher.status_reason,
    Voucher.event_head,
    Voucher.updated_at,
)
# What the keying hot path reads of a voucher: the chain, the form, who uploaded it, where.
HEAD_COLUMNS = (*CHAIN_COLUMNS, Voucher.form, Voucher.uploaded_by_id, Voucher.branch_id)


# A voucher's HEAD_COLUMNS read on the driver (storage.driver), under the entity's attribute
# names: what the keying hot path reads, and the chain head it keeps in step.
VoucherHead = plain_row("VoucherHead", HEAD_COLUMNS)


def _event_digest(
    *,
    prev_hash: str,
    voucher_id: uuid.UUID,
    actor_id: int | None,
    at: datetime,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    reason: str | None,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "voucher": str(voucher_id),
            "actor": actor_id,
            # Microsecond ISO form, naive UTC: identical whether read back from SQLite or PG.
            "at": at.replace(tzinfo=None).isoformat(timespec="microseconds"),
            "kind": kind,
            "from": from_status,
            "to": to_status,
            "reason": reason,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _next_link(
    voucher: Voucher,
    actor_id: int | None,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    reason: str | None,
    details: dict[str, Any],
) -> tuple[datetime, str, str]:
    """The time, previous hash and hash of the voucher's next event."""
    at = utcnow()
    prev = voucher.event_head or GENESIS
    digest = _event_digest(
        prev_hash=prev,
        voucher_id=voucher.id,
        actor_id=actor_id,
        at=at,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
    )
    return at, prev, digest


def append_event(
    session: Session,
    voucher: Voucher,
    *,
    kind: str,
    actor_id: int | None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> VoucherEvent:
    """Add an event to the voucher's chain. The caller holds the voucher row (or just made it)."""
    if voucher.id is None:
        voucher.id = uuid.uuid4()
    details = details or {}
    from_status, to_status = from_status and str(from_status), to_status and str(to_status)
    at, prev, digest = _next_link(voucher, actor_id, kind, from_status, to_status, reason, details)
    event = VoucherEvent(
        voucher_id=voucher.id,
        actor_id=actor_id,
        at=at,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
        prev_hash=prev,
        hash=digest,
    )
    voucher.event_head = digest
    session.add(event)
    return event


_EVENT_VALUES = (
    "(voucher_id, actor_id, at, kind, from_status, to_status, reason, details, prev_hash, hash) "
    "VALUES (:vid, :actor, :at, :kind, :from_status, :to_status, :reason, {details}, :prev, :hash)"
)
_HEAD = "UPDATE voucher SET event_head = :hash, updated_at = :at{status} WHERE id = :vid"
_STATUS = ", status = :to_status, status_reason = :reason"


def _typed(sql: str) -> TextClause:
    """Bind the voucher id and time as the model's types (UUID and time formats per dialect)."""
    columns = VoucherEvent.__table__.c
    return text(sql).bindparams(
        bindparam("vid", type_=columns.voucher_id.type), bindparam("at", type_=columns.at.type)
    )


_INSERT_EVENT = _typed("INSERT INTO voucher_event " + _EVENT_VALUES.format(details=":details"))
# (moves the status too?) -> the chain-head update; on PostgreSQL with the insert in a CTE
_MOVE_HEAD = {moves: _typed(_HEAD.format(status=_STATUS if moves else "")) for moves in (0, 1)}
_APPEND_PG = {
    moves: _typed(
        "WITH ev AS (INSERT INTO voucher_event "
        + _EVENT_VALUES.format(details="CAST(:details AS JSON)")
        + ") "
        + _HEAD.format(status=_STATUS if moves else "")
    )
    for moves in (0, 1)
}


def append_event_now(
    session: Session,
    voucher: Voucher,
    *,
    kind: str,
    actor_id: int | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
) -> str:
    """append_event for the hot paths (claims, keys, posting): written at once, in one statement
    on PostgreSQL (a data-modifying CTE), two on SQLite. With `to_status` the same statement
    moves the voucher's status (and status reason): see storage.lifecycle.move_to_now.

    The voucher row must exist and be held by the caller. No unit-of-work flush is involved;
    the voucher object is kept in step (its event_head) without being marked changed. Returns
    the new chain head.
    """
    details = details or {}
    from_status, to_status = from_status and str(from_status), to_status and str(to_status)
    at, prev, digest = _next_link(voucher, actor_id, kind, from_status, to_status, reason, details)
    row = {
        "vid": voucher.id,
        "actor": actor_id,
        "at": at,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "details": json.dumps(details, ensure_ascii=False),
        "prev": prev,
        "hash": digest,
    }
    moves = int(to_status is not None)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_APPEND_PG[moves], row)  # one round trip
    else:
        session.execute(_INSERT_EVENT, row)
        session.execute(_MOVE_HEAD[moves], row)
    set_committed_value(voucher, "event_head", digest)
    set_committed_value(voucher, "updated_at", at)
    if moves:
        set_committed_value(voucher, "status", to_status)
        set_committed_value(voucher, "status_reason", reason)
    return digest


# The next event as data-modifying CTEs, for a hot-path statement on PostgreSQL that does
# something else as well (a lease, a key, a read): one round trip instead of two.
_EVENT = VoucherEvent.__table__
_EVENT_COLUMNS = (
    "voucher_id",
    "actor_id",
    "at",
    "kind",
    "from_status",
    "to_status",
    "reason",
    "details",
    "prev_hash",
    "hash",
)


def event_ctes(gate: CTE | None = None) -> tuple[CTE, CTE]:
    """The voucher's next event (insert) and its chain head (update) as two CTEs, bound as
    `ev_<column>` (event_params). With `gate`, both are written only if that CTE yields a row
    (a lease that took): the caller then knows from the statement's answer whether they were.

    No parameter of a statement holding these may be named like a column of the voucher (or
    of any table another of its CTEs updates): SQLAlchemy adds such a parameter to the
    UPDATE's SET clause."""
    source = select(*(bindparam(f"ev_{c}", type_=_EVENT.c[c].type) for c in _EVENT_COLUMNS))
    table = Voucher.__table__
    head = (
        update(table)
        .where(table.c.id == bindparam("ev_voucher_id"))
        .values(event_head=bindparam("ev_hash"), updated_at=bindparam("ev_at"))
    )
    if gate is not None:
        source = source.select_from(gate)
        head = head.where(exists(select(literal(1)).select_from(gate)))
    return (
        insert(_EVENT).from_select(list(_EVENT_COLUMNS), source).cte("ev"),
        head.cte("head"),
    )


def event_params(
    voucher: Voucher, *, kind: str, actor_id: int | None, details: dict[str, Any]
) -> dict[str, Any]:
    """The bound values of event_ctes for the voucher's next event (no status move). The caller
    holds the voucher row, and calls event_written once the statement has written it."""
    at, prev, digest = _next_link(voucher, actor_id, kind, None, None, None, details)
    values = (voucher.id, actor_id, at, kind, None, None, None, details, prev, digest)
    return {f"ev_{c}": v for c, v in zip(_EVENT_COLUMNS, values, strict=True)}


def event_written(voucher: "Voucher | VoucherHead", params: dict[str, Any]) -> None:
    """Keep the voucher object in step with the chain head event_ctes wrote."""
    keep_in_step(voucher, "event_head", params["ev_hash"])
    keep_in_step(voucher, "updated_at", params["ev_at"])


@dataclass(frozen=True)
class ChainProblem:
    voucher_id: uuid.UUID
    event_id: int | None
    problem: str  # edited | broken_link | head_mismatch


def verify_voucher_chain(session: Session, voucher: Voucher) -> list[ChainProblem]:
    events = session.scalars(
        select(VoucherEvent).where(VoucherEvent.voucher_id == voucher.id).order_by(VoucherEvent.id)
    ).all()
    problems: list[ChainProblem] = []
    prev = GENESIS
    for ev in events:
        if ev.prev_hash != prev:
            problems.append(ChainProblem(voucher.id, ev.id, "broken_link"))
        recomputed = _event_digest(
            prev_hash=ev.prev_hash,
            voucher_id=ev.voucher_id,
            actor_id=ev.actor_id,
            at=ev.at,
            kind=ev.kind,
            from_status=ev.from_status,
            to_status=ev.to_status,
            reason=ev.reason,
            details=ev.details or {},
        )
        if recomputed != ev.hash:
            problems.append(ChainProblem(voucher.id, ev.id, "edited"))
        prev = ev.hash
    if prev != (voucher.event_head or GENESIS):
        problems.append(ChainProblem(voucher.id, None, "head_mismatch"))
    return problems


def verify_all_chains(session: Session) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for voucher in session.scalars(select(Voucher)).yield_per(500):
        problems.extend(verify_voucher_chain(session, voucher))
    return problems
