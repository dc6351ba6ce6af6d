"""The claim + decide hot path on PostgreSQL: a queue filter, and few statements per request
(the bench's ~50 concurrent authorizers depend on it; see bench/authorization.py)."""

import pytest
from sqlalchemy import event, select, text

import authorization.posting as posting
from storage.authorization_models import PostingOutbox
from storage.db import get_engine
from storage.models import Voucher
from tests.authorization.conftest import add_rule
from tests.support import db_session, login


def test_claim_from_one_queue(client, pg_inline_env, entered) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    add_rule(url, name="hi", form="deposit_slip", queue="hi", priority=50)
    add_rule(url, name="lo", form="wire_transfer", queue="lo", priority=10)
    entered(form="deposit_slip")
    low = entered(form="wire_transfer")
    a1 = login(client, "authorizer1")
    r = client.get("/api/authorization/next", params={"queue": "lo"}, headers=a1)
    assert r.status_code == 200 and r.json()["voucher"]["id"] == str(low)
    assert r.json()["task"]["queue"] == "lo"
    assert (
        client.get("/api/authorization/next", params={"queue": "none"}, headers=a1).json()["task"][
            "id"
        ]
        == r.json()["task"]["id"]
    )  # the live claim comes back whatever the filter


def test_statements_per_claim_and_decision(
    client, pg_inline_env, entered, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(
        posting.posting_handoff, "enqueuer", [].append
    )  # count the request, not the job
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    entered()
    a1 = login(client, "authorizer1")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_a) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(get_engine(url), "before_cursor_execute", count)
    try:
        claim = client.get("/api/authorization/next", headers=a1).json()
        claimed = len(statements)
        decided = client.post(
            f"/api/authorization/tasks/{claim['task']['id']}/decision",
            json={"decision": "approve", "token": claim["token"]},
            headers=a1,
        )
    finally:
        event.remove(get_engine(url), "before_cursor_execute", count)
    assert decided.status_code == 200 and decided.json()["voucher_status"] == "posting"
    # auth look-up, claim, voucher lock, event + event head, fields, timeline
    assert claimed <= 7, statements[:claimed]
    # auth look-up, lock + checks, decision, task, voucher, events, outbox
    assert len(statements) - claimed <= 7, statements[claimed:]


def test_final_approval_refused_when_the_serial_was_posted(
    client, pg_inline_env, entered, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """The decision's one locking read computes the idempotency key in SQL: it must agree with
    authorization.posting.idempotency_key_for (serial, else V-<voucher id>)."""
    monkeypatch.setattr(posting.posting_handoff, "enqueuer", [].append)
    url = pg_inline_env["database_url"]
    add_rule(url, name="all", queue="all")
    first, second = entered(), entered()
    with db_session(url) as s:  # `second` has no serial; another voucher posted its V- key
        s.execute(text("UPDATE voucher SET serial = NULL WHERE id = :v"), {"v": second})
        s.add(PostingOutbox(voucher_id=first, idempotency_key=f"V-{second}", status="posted"))
        s.commit()
    a2 = login(client, "authorizer2")
    refused = None
    for _ in range(2):
        claim = client.get("/api/authorization/next", headers=a2).json()
        r = client.post(
            f"/api/authorization/tasks/{claim['task']['id']}/decision",
            json={"decision": "approve", "token": claim["token"]},
            headers=a2,
        )
        if claim["voucher"]["id"] == str(second):
            refused = r
        else:  # `first` already has an outbox row: approving resets it (a retried posting)
            assert r.status_code == 200 and r.json()["voucher_status"] == "posting"
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "duplicate_serial"
    with db_session(url) as s:
        row = s.scalar(select(PostingOutbox).where(PostingOutbox.voucher_id == first))
        assert row.status == "pending" and row.idempotency_key == f"V-{second}"
        assert s.get(Voucher, second).status == "awaiting_authorization"
