"""Who may key what: the keyer pool, blindness and who/how-much separation, escalation to arbiter.

A keyer never keys a field they have seen, never keys a voucher they uploaded, and (slice mode)
never sees fields of two different separation groups of one voucher. A keying task nobody
eligible is left for becomes an arbitration task instead of waiting forever.
"""

import time
import uuid

from sqlalchemy import String, bindparam, cast, event, func, insert, or_, select
from sqlalchemy.orm import Session

from entry.tasks import split_whole_to_arbitration
from storage.audit import VoucherHead, append_event
from storage.entry_models import EntryExposure, EntryFieldGroup, EntryTask
from storage.models import User, Voucher, utcnow

KEYING_KINDS = ("key", "third_key", "whole_voucher")


_EXPOSURES = select(EntryExposure.user_id, EntryExposure.field_id, EntryExposure.field_group).where(
    EntryExposure.voucher_id == bindparam("vid")
)


def voucher_exposures(session: Session, voucher_id: uuid.UUID) -> list[tuple[int, int, str | None]]:
    return [tuple(r) for r in session.connection().execute(_EXPOSURES, {"vid": voucher_id})]


# Active keyers by their roles' JSON text (a list of plain role names, so '"keyer"' matches
# the role exactly): the database filters, instead of every user's roles being decoded here.
_POOL = select(
    User.id,
    select(func.count())
    .select_from(EntryFieldGroup)
    .where(EntryFieldGroup.active.is_(True))
    .scalar_subquery(),
).where(User.active.is_(True), cast(User.roles, String).like('%"keyer"%'))


# The pool read once per claim by every keyer is the same answer for everybody, and it changes
# when an admin edits a user or a field group: each process keeps it for a few seconds, and
# forgets it at once when this process's ORM writes a user or a group. Another process's edit,
# or a bulk UPDATE, shows within POOL_TTL_S: the pool only sets the group quota and whom
# escalation counts, and a deactivated keyer's requests are refused whatever it says.
POOL_TTL_S = 5.0
_pool_cache: dict[object, tuple[float, tuple[list[int], int]]] = {}  # by engine
_clock = time.monotonic  # a test moves it on, not the process's own clock


def forget_pool() -> None:
    _pool_cache.clear()


def load_pool(session: Session) -> tuple[list[int], int]:
    """The active keyers and the per-group quota (one query, kept POOL_TTL_S seconds)."""
    key = session.get_bind().engine
    now = _clock()
    hit = _pool_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = session.connection().execute(_POOL).all()
    ids = [uid for uid, _ in rows]
    n_groups = rows[0][1] if rows else 0
    # Without a per-group quota the first keyers to arrive would spread over every group of a
    # voucher and leave none for the last group's fields.
    pool = ids, max(2, len(ids) // max(1, n_groups or 1))
    _pool_cache[key] = (now + POOL_TTL_S, pool)
    return pool


def _forget_pool_on_write(*_args: object) -> None:
    forget_pool()


for _model in (User, EntryFieldGroup):
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, _forget_pool_on_write)


def may_key(
    task: EntryTask,
    user_id: int,
    *,
    uploader_id: int,
    exposures: list[tuple[int, int, str | None]],
    quota: int,
) -> bool:
    """The blind and separation rules for one keyer and one keying task (in Python).

    Mirrors the claim query in entry.claims, so that what nobody may claim is escalated.
    """
    if user_id == uploader_id:
        return False
    mine = [(fid, grp) for uid, fid, grp in exposures if uid == user_id]
    if task.kind == "whole_voucher":
        return not mine
    if any(fid == task.field_id for fid, _ in mine):
        return False
    group = task.field_group
    if group is None:
        return True
    if any(grp is not None and grp != group for _, grp in mine):
        return False
    if any(grp == group for _, grp in mine):
        return True
    committed = {uid for uid, _, grp in exposures if grp == group}
    return len(committed) < quota


def record_exposure(
    session: Session, voucher_id: uuid.UUID, user_id: int, fields: list[tuple[int, str | None]]
) -> None:
    """Note what a claim shows the user. The claim query guarantees none of it was seen before."""
    if not fields:
        return
    at = utcnow()
    session.connection().execute(  # Core, not the ORM's bulk path: one plain INSERT
        insert(EntryExposure.__table__),
        [
            {
                "voucher_id": voucher_id,
                "user_id": user_id,
                "field_id": fid,
                "field_group": g,
                "at": at,
            }
            for fid, g in fields
        ],
    )


def _nobody_can_be_stranded(
    pool_ids: list[int], quota: int, uploader_id: int, exposures: list
) -> bool:
    """True when a keyer who has seen nothing of the voucher may still take any of its tasks."""
    exposed = {uid for uid, _, _ in exposures}
    if not any(uid not in exposed and uid != uploader_id for uid in pool_ids):
        return False
    committed: dict[str, set[int]] = {}
    for uid, _, grp in exposures:
        if grp is not None:
            committed.setdefault(grp, set()).add(uid)
    return all(len(users) < quota for users in committed.values())


def escalate_stranded(
    session: Session,
    voucher: Voucher | VoucherHead,
    *,
    pool: tuple[list[int], int] | None = None,
    exposures: list[tuple[int, int, str | None]] | None = None,
) -> list[int]:
    """Turn waiting keying tasks of this voucher that no keyer may take into arbitration tasks.

    The caller holds the voucher row; `exposures`, when given, are the voucher's (as
    voucher_exposures reads them). Returns the ids of the tasks escalated.
    """
    pool_ids, quota = pool or load_pool(session)
    if exposures is None:
        exposures = voucher_exposures(session, voucher.id)
    if _nobody_can_be_stranded(pool_ids, quota, voucher.uploaded_by_id, exposures):
        return []
    if isinstance(voucher, VoucherHead):  # read on the driver: the entity, to write through
        voucher = session.get(Voucher, voucher.id, populate_existing=True)
    now = utcnow()
    waiting = session.scalars(
        select(EntryTask).where(
            EntryTask.voucher_id == voucher.id,
            EntryTask.kind.in_(KEYING_KINDS),
            or_(
                EntryTask.status == "open",
                (EntryTask.status == "leased") & (EntryTask.lease_expires_at < now),
            ),
        )
    ).all()
    if not waiting:
        return []
    escalated: list[int] = []
    for task in waiting:
        if any(
            may_key(task, uid, uploader_id=voucher.uploaded_by_id, exposures=exposures, quota=quota)
            for uid in pool_ids
        ):
            continue
        if task.kind == "whole_voucher":
            split_whole_to_arbitration(session, voucher, task)
        else:
            task.kind = "arbitrate"
            task.status = "open"
            task.lease_owner_id = None
            task.lease_expires_at = None
            task.fencing_token += 1
        escalated.append(task.id)
    if escalated:
        append_event(
            session,
            voucher,
            kind="entry_escalated",
            actor_id=None,
            reason="no_eligible_keyer",
            details={"tasks": escalated},
        )
    return escalated
