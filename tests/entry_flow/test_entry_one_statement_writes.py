"""The slice hot path on PostgreSQL writes with data-modifying CTEs (entry.claims'
_slice_lease_statement, entry.keying_statements): what they write must be exactly what the
statement-per-write path wrote. The audit chain verifies, every claim event names the token the
lease really gave, and a lease whose token moved after the search writes nothing and is retried.
"""

from sqlalchemy import func, select, update

from entry.claims import claim_next
from storage.audit import verify_voucher_chain
from storage.blobs import LocalBlobStore
from storage.db import session_scope
from storage.entry_models import EntryExposure, EntryKey, EntryTask
from storage.imaging_models import VoucherField
from storage.models import User, Voucher, VoucherEvent
from tests.entry_flow.vouchers import key_all, make_voucher, truth_values
from tests.support import login

KINDS = ("key", "third_key", "whole_voucher")


def test_slice_keys_written_in_few_statements_leave_a_verifiable_chain(
    client, pg_inline_env
) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, form="deposit_slip")
    truth = truth_values("deposit_slip")
    keyers = {u: login(client, u) for u in ("keyer1", "keyer2", "keyer3", "keyer4")}
    seen = key_all(client, keyers, truth)
    assert seen and all(t["kind"] != "whole_voucher" for _, t in seen)
    with session_scope(url) as s:
        voucher = s.get(Voucher, vid)
        assert voucher.status != "awaiting_entry"
        assert verify_voucher_chain(s, voucher) == []
        events = s.scalars(
            select(VoucherEvent).where(VoucherEvent.voucher_id == vid).order_by(VoucherEvent.id)
        ).all()
        claimed = [e.details for e in events if e.kind == "entry_task_claimed"]
        submitted = [e.details for e in events if e.kind == "entry_key_submitted"]
        # One claim event per task handed out, naming the token the keyer was given.
        assert sorted((d["task"], d["token"]) for d in claimed) == sorted(
            (t["id"], t["token"]) for _, t in seen
        )
        assert sorted(d["task"] for d in submitted) == sorted(t["id"] for _, t in seen)
        keys = s.scalars(select(EntryKey).where(EntryKey.voucher_id == vid)).all()
        assert len(keys) == len(seen)
        assert all(k.outcome in ("agreed", "lost") for k in keys)
        tasks = s.scalars(select(EntryTask).where(EntryTask.voucher_id == vid)).all()
        assert {t.status for t in tasks} <= {"done", "cancelled"}
        assert all(t.done_by_id is not None for t in tasks if t.status == "done")
        exposures = s.scalar(
            select(func.count()).select_from(EntryExposure).where(EntryExposure.voucher_id == vid)
        )
        assert exposures == len(seen)  # one per slice handed out, none from a failed lease
        fields = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert all(f.status == "settled" for f in fields)


def test_a_lease_whose_token_moved_after_the_search_writes_nothing_and_is_retried(
    pg_inline_env, monkeypatch
) -> None:  # noqa: ANN001
    """Between the claim's search and its lease another transaction bumps the task's fencing
    token (the search's snapshot predates it). The lease must not take, nor its claim event or
    exposure be written; the claim looks again and leases under the real token."""
    import entry.claims as claims

    url = pg_inline_env["database_url"]
    blobs = LocalBlobStore(pg_inline_env["data_dir"] + "/blobs")
    vid = make_voucher(url, blobs, form="deposit_slip")
    real = claims._slice_lease_statement
    bumped: list[int] = []

    def bump_once(kinds):  # noqa: ANN001, ANN202
        if not bumped:
            # The search has chosen its task: the most urgent open one. Move its token on.
            with session_scope(url) as other:
                tid = other.scalar(
                    select(EntryTask.id)
                    .where(EntryTask.voucher_id == vid, EntryTask.status == "open")
                    .order_by(EntryTask.sla_due_at, EntryTask.created_at, EntryTask.id)
                    .limit(1)
                )
                other.execute(
                    update(EntryTask)
                    .where(EntryTask.id == tid)
                    .values(fencing_token=EntryTask.fencing_token + 5)
                )
                other.commit()
            bumped.append(tid)
        return real(kinds)

    monkeypatch.setattr(claims, "_slice_lease_statement", bump_once)
    with session_scope(url) as s:
        user = s.scalar(select(User).where(User.username == "keyer1"))
        c = claim_next(s, user, kinds=KINDS)
        assert c is not None
        token, task_id = c.task.fencing_token, c.task.id
        s.commit()
    with session_scope(url) as s:
        task = s.get(EntryTask, task_id)
        assert task.status == "leased" and task.fencing_token == token
        assert task_id == bumped[0] and token == 6  # 0, bumped to 5, leased: 6
        claimed = s.scalars(
            select(VoucherEvent.details).where(
                VoucherEvent.voucher_id == vid, VoucherEvent.kind == "entry_task_claimed"
            )
        ).all()
        assert claimed == [{"task": task_id, "kind": task.kind, "token": token}]
        n = s.scalar(select(func.count()).select_from(EntryExposure))
        assert n == 1
        assert verify_voucher_chain(s, s.get(Voucher, vid)) == []


def test_a_settlement_answers_what_is_left_pending_and_open(pg_inline_env) -> None:  # noqa: ANN001
    """SettleAndLook writes the field and its keys' outcomes, and reads (in the same statement)
    whether another field is pending and how many open tasks the settled field still has."""
    from entry.keying_statements import SettleAndLook

    url = pg_inline_env["database_url"]
    blobs = LocalBlobStore(pg_inline_env["data_dir"] + "/blobs")
    vid = make_voucher(url, blobs, form="deposit_slip")
    with session_scope(url) as s:
        fields = s.scalars(
            select(VoucherField)
            .where(VoucherField.voucher_id == vid, VoucherField.status == "pending")
            .order_by(VoucherField.id)
        ).all()
        assert len(fields) >= 2
        keyer = s.scalar(select(User).where(User.username == "keyer1"))
        task = s.scalar(select(EntryTask).where(EntryTask.field_id == fields[0].id).limit(1))
        keys = [
            EntryKey(
                task_id=task.id,
                voucher_id=vid,
                field_id=fields[0].id,
                keyer_id=keyer.id,
                kind="key",
                value=v,
                outcome="pending",
            )
            for v in ("1", "1", "2")
        ]
        s.add_all(keys)
        s.flush()
        open_tasks = s.scalar(
            select(func.count())
            .select_from(EntryTask)
            .where(EntryTask.field_id == fields[0].id, EntryTask.status.in_(("open", "leased")))
        )
        look = SettleAndLook()
        look(s, fields[0], "1", {keys[0]: "agreed", keys[1]: "agreed", keys[2]: "lost"})
        assert look.pending_left is True and look.open_left == open_tasks > 0
        for f in fields[1:-1]:
            SettleAndLook()(s, f, "x", {})
        last = SettleAndLook()
        last(s, fields[-1], None, {})
        assert last.pending_left is False
        s.commit()
    with session_scope(url) as s:
        assert [k.outcome for k in s.scalars(select(EntryKey).order_by(EntryKey.id))] == [
            "agreed",
            "agreed",
            "lost",
        ]
        settled = s.scalars(select(VoucherField).where(VoucherField.voucher_id == vid)).all()
        assert all(
            f.status == "settled" and f.source == "keyed"
            for f in settled
            if f.id in {g.id for g in fields}
        )
        assert s.get(VoucherField, fields[0].id).value == "1"


def test_a_key_for_a_voucher_that_left_entry_is_refused_and_nothing_is_written(
    client, pg_inline_env
) -> None:  # noqa: ANN001
    """The key row and the task's close ride on the statement that locks the voucher, before
    its status is checked: a refusal must roll both back."""
    from tests.entry_flow.vouchers import claim, submit

    url = pg_inline_env["database_url"]
    vid = make_voucher(url, client.app.state.blobs, form="deposit_slip")
    k1 = login(client, "keyer1")
    task = claim(client, k1)
    with session_scope(url) as s:
        s.execute(update(Voucher).where(Voucher.id == vid).values(status="exception_review"))
        s.commit()
    value = truth_values("deposit_slip")[task["fields"][0]["name"]]
    r = submit(client, k1, task, value, confirm_warning=True)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "task_closed"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(EntryKey)) == 0
        t = s.get(EntryTask, task["id"])
        assert t.status == "leased" and t.done_at is None
        assert not s.scalars(
            select(VoucherEvent).where(VoucherEvent.kind == "entry_key_submitted")
        ).all()


def test_a_key_for_an_unknown_task_is_refused_and_nothing_is_written(client, pg_inline_env) -> None:  # noqa: ANN001
    """On PostgreSQL the submission looks for a slice task, then for a whole-voucher one: a
    task that is neither is a clear 404, with nothing written."""
    url = pg_inline_env["database_url"]
    make_voucher(url, client.app.state.blobs, form="deposit_slip")
    k1 = login(client, "keyer1")
    r = client.post("/api/entry/tasks/987654", json={"token": 1, "value": "1"}, headers=k1)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "task_not_found"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(EntryKey)) == 0
        assert not s.scalars(
            select(VoucherEvent).where(VoucherEvent.kind == "entry_key_submitted")
        ).all()
