"""Claims and decisions: priority then SLA order, lease + fencing token, every maker-checker
rule attempted and refused (in Python and again by the PostgreSQL trigger), dual approval."""

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from storage.authorization_models import AuthorizationTask
from storage.models import Branch, Voucher
from tests.authorization.conftest import add_rule, add_user, user_id
from tests.support import db_session, login


def task_id_of(url: str, vid: uuid.UUID) -> int:
    with db_session(url) as s:
        return s.scalar(select(AuthorizationTask.id).where(AuthorizationTask.voucher_id == vid))


def force_claim(url: str, task_id: int, uid: int) -> int:
    """Hand a task to a user behind the queue's back (to attempt what the queue never offers)."""
    with db_session(url) as s:
        s.execute(
            text(
                "UPDATE authorization_task SET status='claimed', claimed_by_id=:u, fence=fence+1,"
                " lease_expires_at=now() + interval '5 minutes' WHERE id=:t"
            ),
            {"u": uid, "t": task_id},
        )
        s.commit()
        return s.scalar(select(AuthorizationTask.fence).where(AuthorizationTask.id == task_id))


def decide(client, headers, task_id, token, decision="approve", **kw):  # noqa: ANN001, ANN003, ANN201
    return client.post(
        f"/api/authorization/tasks/{task_id}/decision",
        json={"decision": decision, "token": token, **kw},
        headers=headers,
    )


def raw_decision(url: str, task_id: int, uid: int, fence: int) -> None:
    """Insert a decision row directly, as a buggy or malicious client of the database would."""
    with db_session(url) as s:
        row = s.execute(
            text(
                "SELECT t.voucher_id, v.uploaded_by_id FROM authorization_task t"
                " JOIN voucher v ON v.id = t.voucher_id WHERE t.id = :t"
            ),
            {"t": task_id},
        ).one()
        level = s.scalar(text("SELECT authorizer_level FROM app_user WHERE id=:u"), {"u": uid})
        s.execute(
            text(
                "INSERT INTO authorization_decision (task_id, voucher_id, authorizer_id,"
                " uploader_id, authorizer_level, decision, fence, at) VALUES"
                " (:t, :v, :u, :up, :lvl, 'approve', :f, now())"
            ),
            {"t": task_id, "v": row[0], "u": uid, "up": row[1], "lvl": level, "f": fence},
        )
        s.commit()


def test_claim_order_priority_then_sla_and_view(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="low", form="wire_transfer", queue="low", priority=10, sla_minutes=60)
    add_rule(url, name="high", form="deposit_slip", queue="high", priority=20, sla_minutes=90)
    first_low = entered(form="wire_transfer", amount="1.00")
    high = entered(form="deposit_slip", amount="2.00")
    second_low = entered(form="wire_transfer", amount="3.00")
    with db_session(url) as s:  # the second low task has the earlier SLA deadline
        s.execute(
            text("UPDATE authorization_task SET sla_due_at = now() WHERE voucher_id = :v"),
            {"v": second_low},
        )
        s.commit()
    a1, a2 = login(client, "authorizer1"), login(client, "authorizer2")
    order = []
    for headers in (a1, a2, login(client, "supervisor1")):
        r = client.get("/api/authorization/next", headers=headers)
        if headers is not a1 and headers is not a2:
            assert r.status_code == 403  # a supervisor watches, does not authorize
            continue
        order.append(r.json()["voucher"]["id"])
    view = client.get("/api/authorization/next", headers=a1).json()  # resumes the same claim
    assert order == [str(high), str(second_low)] and view["voucher"]["id"] == str(high)
    assert {f["name"]: f["source"] for f in view["fields"]}["amount"] == "keyed"
    assert view["voucher"]["image_url"].endswith(f"/{high}/image")
    kinds = [e["kind"] for e in view["timeline"]]
    assert "authorization_claimed" in kinds and kinds[0] == "transition"
    assert isinstance(view["token"], int)
    third = client.get("/api/authorization/next", headers=login(client, "authorizer1"))
    assert third.json()["voucher"]["id"] == str(high)  # one claim per authorizer at a time
    assert first_low  # still waiting


def test_maker_checker_uploader_keyer_arbiter_level_refused(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all", min_level=2)
    with db_session(url) as s:
        east = s.scalar(select(Branch.id).where(Branch.code == "SH001"))
    maker = add_user(url, "maker", ["teller", "authorizer"], level=2, branch_id=east)
    keyer = add_user(url, "keyauth", ["keyer", "authorizer"], level=2)
    arbiter = add_user(url, "arbauth", ["arbiter", "authorizer"], level=2)
    by_maker = entered(uploader="maker")
    keyed = entered(keyers=["keyer1", "keyauth"])
    arbitrated = entered(arbiters=["arbauth"])
    cases = [
        (by_maker, "maker", maker, "maker_checker_uploader"),
        (keyed, "keyauth", keyer, "maker_checker_keyer"),
        (arbitrated, "arbauth", arbiter, "maker_checker_keyer"),
        (keyed, "authorizer1", user_id(url, "authorizer1"), "authorizer_level_too_low"),
    ]
    for vid, username, uid, code in cases:
        headers = login(client, username)
        # The queue never offers the voucher to its maker (nor below the level)...
        offered = client.get("/api/authorization/next", headers=headers)
        assert offered.status_code == 204 or offered.json()["voucher"]["id"] != str(vid)
        if offered.status_code == 200:
            client.post(
                f"/api/authorization/tasks/{offered.json()['task']['id']}/release",
                json={"token": offered.json()["token"]},
                headers=headers,
            )
        # ...and a decision on a task forced into their hands is refused by Python...
        tid = task_id_of(url, vid)
        token = force_claim(url, tid, uid)
        r = decide(client, headers, tid, token)
        assert r.status_code == 409 and r.json()["error"]["code"] == code, (username, r.text)
        # ...and by the database itself (trigger / CHECK).
        with pytest.raises(IntegrityError) as err:
            raw_decision(url, tid, uid, token)
        assert "maker_checker" in str(err.value) or "ck_decision_not_uploader" in str(err.value)
        with db_session(url) as s:
            s.execute(text("UPDATE authorization_task SET status='open' WHERE id=:t"), {"t": tid})
            s.commit()
    # a teller (no authorizer role) cannot decide even with a forced claim; the DB agrees
    tid = task_id_of(url, keyed)
    teller2 = user_id(url, "teller2")
    token = force_claim(url, tid, teller2)
    assert decide(client, login(client, "teller2"), tid, token).status_code == 403
    with pytest.raises(IntegrityError, match="not_authorizer"):
        raw_decision(url, tid, teller2, token)


def test_dual_approval_two_authorizers_and_one_twice_refused(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="dual", queue="dual", approvals_required=2)
    vid = entered(amount="70000.00")
    a1, a2 = login(client, "authorizer1"), login(client, "authorizer2")
    claim = client.get("/api/authorization/next", headers=a1).json()
    tid = claim["task"]["id"]
    r = decide(client, a1, tid, claim["token"])
    assert r.status_code == 200 and r.json()["voucher_status"] == "awaiting_authorization"
    assert r.json()["approvals"] == 1 and r.json()["task_status"] == "open"
    # authorizer1 is not offered the task again, and a forced second approval is refused
    assert client.get("/api/authorization/next", headers=a1).status_code == 204
    token = force_claim(url, tid, user_id(url, "authorizer1"))
    again = decide(client, a1, tid, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "maker_checker_same_authorizer"
    with pytest.raises(IntegrityError, match="uq_decision_task_authorizer"):
        raw_decision(url, tid, user_id(url, "authorizer1"), token)
    with db_session(url) as s:
        s.execute(text("UPDATE authorization_task SET status='open' WHERE id=:t"), {"t": tid})
        s.commit()
    claim2 = client.get("/api/authorization/next", headers=a2).json()
    assert claim2["task"]["id"] == tid and claim2["task"]["approvals"] == 1
    done = decide(client, a2, tid, claim2["token"])
    assert done.status_code == 200 and done.json()["task_status"] == "done"
    with db_session(url) as s:
        assert s.get(Voucher, vid).status in ("posting", "posted", "posting_failed")


def test_lease_expiry_and_stale_token(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    vid = entered()
    a1, a2 = login(client, "authorizer1"), login(client, "authorizer2")
    first = client.get("/api/authorization/next", headers=a1).json()
    tid = first["task"]["id"]
    assert client.get("/api/authorization/next", headers=a2).status_code == 204  # leased
    with db_session(url) as s:
        s.execute(
            text("UPDATE authorization_task SET lease_expires_at = now() - interval '1 second'")
        )
        s.commit()
    late = decide(client, a1, tid, first["token"])
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_expired"
    second = client.get("/api/authorization/next", headers=a2).json()
    assert second["task"]["id"] == tid and second["token"] == first["token"] + 1
    stale = decide(client, a1, tid, first["token"])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_token"
    with pytest.raises(IntegrityError, match="stale_token"):
        raw_decision(url, tid, user_id(url, "authorizer1"), first["token"])
    ok = decide(client, a2, tid, second["token"], "return", reason_code="illegible_image")
    assert ok.status_code == 200 and ok.json()["voucher_status"] == "returned"
    events = client.get(f"/api/vouchers/{vid}/events", headers=a2).json()
    claims = [e for e in events if e["kind"] == "authorization_claimed"]
    assert claims[-1]["details"]["lease_expired_for"] == user_id(url, "authorizer1")


def test_decision_needs_reason_codes(client, pg_inline_env, entered):  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    vid = entered()
    a1 = login(client, "authorizer1")
    claim = client.get("/api/authorization/next", headers=a1).json()
    tid, token = claim["task"]["id"], claim["token"]
    assert decide(client, a1, tid, token, "reject").status_code == 422
    assert decide(client, a1, tid, token, "reject", reason_code="nope").status_code == 422
    other = decide(client, a1, tid, token, "reject", reason_code="other")
    assert other.json()["error"]["code"] == "comment_required"
    r = decide(client, a1, tid, token, "reject", reason_code="suspected_fraud", comment="签名可疑")
    assert r.status_code == 200 and r.json()["voucher_status"] == "rejected"
    with db_session(url) as s:
        assert s.get(Voucher, vid).status_reason == "suspected_fraud"


def test_sla_breach_escalates_priority_visible_to_supervisors(client, pg_inline_env, entered):  # noqa: ANN001
    from workers.posting import escalate_sla

    url = pg_inline_env["database_url"]
    add_rule(url, name="hi", form="deposit_slip", queue="hi", priority=50)
    add_rule(url, name="lo", form="wire_transfer", queue="lo", priority=10)
    entered(form="deposit_slip")
    late = entered(form="wire_transfer")
    with db_session(url) as s:
        s.execute(
            text(
                "UPDATE authorization_task SET sla_due_at = now() - interval '1 minute'"
                " WHERE voucher_id = :v"
            ),
            {"v": late},
        )
        s.commit()
    escalated = escalate_sla()
    assert len(escalated) == 1 and escalate_sla() == []  # once per task
    sup = login(client, "supervisor1")
    queues = client.get("/api/authorization/queues", headers=sup).json()
    assert queues["queues"]["lo"]["overdue"] == 1
    assert [e["voucher_id"] for e in queues["escalated"]] == [str(late)]
    assert queues["escalated"][0]["priority"] == 110
    claim = client.get("/api/authorization/next", headers=login(client, "authorizer1")).json()
    assert claim["voucher"]["id"] == str(late) and claim["task"]["escalated"]
    kinds = [e["kind"] for e in client.get(f"/api/vouchers/{late}/events", headers=sup).json()]
    assert "authorization_escalated" in kinds
