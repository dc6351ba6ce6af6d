"""Settling a field from its keys: apply the comparison verdict, mark won and lost keys."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from entry.comparison import Action, Ballot, ballot_token, judge, token_value
from entry.routing import EntryMode, KeyPolicy
from entry.tasks import add_task, open_tasks
from storage.driver import keep_in_step
from storage.entry_models import EntryKey, EntryTask, VoucherEntry
from storage.imaging_models import VoucherField
from storage.models import Voucher, utcnow
from storage.sql_literals import sql_literal

HUMAN_KINDS = ("key", "third_key", "whole_voucher")


def settle_field(field: VoucherField, value: str | None, *, source: str) -> None:
    field.value = value
    field.source = source
    field.status = "settled"
    field.settled_at = utcnow()


_FIELD, _KEY = VoucherField.__table__, EntryKey.__table__
_SETTLE = (
    update(_FIELD)
    .where(_FIELD.c.id == bindparam("fid"))
    .values(
        value=bindparam("v"), source=bindparam("src"), status="settled", settled_at=bindparam("at")
    )
)
_OUTCOME = update(_KEY).where(_KEY.c.id == bindparam("kid")).values(outcome=bindparam("o"))


# (session, field, settled value, {key: outcome}): writes a settlement, keeps the objects in step.
Settler = Callable[[Session, VoucherField, str | None, dict[EntryKey, str]], None]


def settled_in_step(
    field: VoucherField, value: str | None, at: datetime, outcomes: dict[EntryKey, str]
) -> None:
    """Keep the field and key objects in step with a settlement written without the ORM."""
    for name, new in (("value", value), ("source", "keyed"), ("status", "settled")):
        keep_in_step(field, name, new)
    keep_in_step(field, "settled_at", at)
    for k, o in outcomes.items():
        keep_in_step(k, "outcome", o)


def _settle_now(
    session: Session, field: VoucherField, value: str | None, outcomes: dict[EntryKey, str]
) -> None:
    """settle_field and the keys' outcomes for the keying hot path: written at once with
    prebuilt statements (no unit-of-work flush), the objects kept in step."""
    at = utcnow()
    conn = session.connection()
    conn.execute(_SETTLE, {"fid": field.id, "v": value, "src": "keyed", "at": at})
    if outcomes:
        conn.execute(_OUTCOME, [{"kid": k.id, "o": o} for k, o in outcomes.items()])
    settled_in_step(field, value, at, outcomes)


# Hot-path queries are built once, with bound parameters: a query built per call costs its
# construction and its cache key on every key (about a third of what running it costs). The
# kinds are written into the text: an IN of bound constants is an "expanding" parameter that
# SQLAlchemy renders into the statement again at every execution (15 % of this statement's
# client time under bench.entry).
LIVE_KEYS = (
    select(EntryKey)
    .where(
        EntryKey.field_id == bindparam("fid"),
        EntryKey.kind.in_([sql_literal(kind) for kind in HUMAN_KINDS]),
        EntryKey.outcome != sql_literal("superseded"),
    )
    .order_by(EntryKey.id)
)


def live_keys(session: Session, field: VoucherField) -> list[EntryKey]:
    """Human keys of the field that still count (not superseded by a re-key)."""
    return list(session.scalars(LIVE_KEYS, {"fid": field.id}))


def evaluate_field(
    session: Session,
    voucher: Voucher,
    entry: VoucherEntry,
    field: VoucherField,
    *,
    keys: list[EntryKey] | None = None,
    settle: Settler | None = None,
) -> Action:
    """Compare the field's keys and act: settle it, open a third key, or send it to arbitration.

    `keys`: the field's live keys, when the caller read them already (under the voucher lock).
    `settle`: what writes a settlement (default _settle_now).
    """
    if field.status != "pending":
        return Action.SETTLE
    policy = KeyPolicy(entry.policies.get(field.name, KeyPolicy.DOUBLE_BLIND))
    if keys is None:
        keys = live_keys(session, field)
    ballots: list[Ballot] = []
    machine = field.qr_value if field.qr_value is not None else field.ocr_value
    if policy == KeyPolicy.OCR_PLUS_ONE and machine is not None:
        ballots.append(Ballot(None, ballot_token(machine, None)))
    ballots.extend(Ballot(k.id, ballot_token(k.value, k.flag)) for k in keys)
    sampled = field.name in (entry.policies.get("_qa_sampled") or [])
    needed = 1 if policy == KeyPolicy.OCR_PLUS_ONE else 2
    if policy == KeyPolicy.SINGLE_QA and not sampled:
        needed = 1
    verdict = judge(ballots, humans_needed=needed)
    if verdict.action == Action.WAIT:
        return verdict.action
    if verdict.action == Action.SETTLE:
        by_id = {k.id: k for k in keys}
        outcomes = {by_id[kid]: "agreed" for kid in verdict.winners}
        outcomes.update({by_id[kid]: "lost" for kid in verdict.losers})
        (settle or _settle_now)(session, field, token_value(verdict.token), outcomes)
        # Other open tasks of the field are cancelled by the caller once it holds the voucher
        # row: locking task rows before the voucher row could deadlock with a claim.
    elif verdict.action == Action.THIRD_KEY and not _has_open(
        session, voucher, field, ("third_key", "arbitrate")
    ):
        group = _group_of_field_tasks(session, field) if entry.mode == EntryMode.SLICE else None
        add_task(
            session,
            voucher,
            kind="third_key",
            field=field,
            group=group,
            sla_due_at=entry.sla_due_at,
        )
    elif verdict.action == Action.ARBITRATE and not _has_open(
        session, voucher, field, ("arbitrate",)
    ):
        add_task(session, voucher, kind="arbitrate", field=field, sla_due_at=entry.sla_due_at)
    session.flush()
    return verdict.action


def _has_open(session: Session, voucher: Voucher, field: VoucherField, kinds: tuple) -> bool:
    """Whether the field already has an open (or leased) task of one of these kinds."""
    return any(t.field_id == field.id and t.kind in kinds for t in open_tasks(session, voucher))


def _group_of_field_tasks(session: Session, field: VoucherField) -> str | None:
    return session.scalar(
        select(EntryTask.field_group).where(EntryTask.field_id == field.id).limit(1)
    )


def close_keys_after_decision(keys: list[EntryKey], value_token: str | None) -> None:
    """After an arbiter's decision: keys equal to it agreed, the others lost."""
    for k in keys:
        if k.outcome != "pending":
            continue
        if value_token is None:
            k.outcome = "agreed" if k.flag == "illegible" else "void"
        else:
            k.outcome = "agreed" if ballot_token(k.value, k.flag) == value_token else "lost"
